/* A small work pool for short parallel calls, where the caller never waits
 * for a thread that has not started.
 *
 * An OpenMP parallel region ends in a join: the calling thread waits until
 * every thread of the team has arrived.  When another core is held by a
 * spinning thread (NumPy's OpenBLAS spins ~0.1 s after each call, other
 * processes may too), the woken worker waits for a scheduler tick before it
 * runs, and a 10 us product takes 4-12 ms.  fnn_pool_run instead hands out
 * items from a shared counter: the caller takes items too, and waits only
 * for items a worker has claimed and is still running.  A worker that wakes
 * late finds nothing left and goes back to sleep.
 *
 * Which thread runs an item never changes its result, so callers keep
 * their results bit-identical at any thread count.  Items run on the
 * calling thread alone when nt <= 1, in a forked child, or while another
 * thread of the process uses the pool (concurrent callers, nested calls). */
#ifndef FNN_POOL_H
#define FNN_POOL_H
#include <stdint.h>

/* fn(ctx, item, slot): slot is 0 on the calling thread and 1 .. nt-1 on
 * the workers, so per-thread scratch can be indexed by it. */
typedef void (*fnn_pool_fn)(void *ctx, int64_t item, int slot);

/* Most items one call hands out (more are run by the caller in groups). */
#define FNN_POOL_MAX_ITEMS ((int64_t)1 << 28)
/* Most threads (caller included) one call uses. */
#define FNN_POOL_MAX_THREADS 64
/* How long an idle worker spins for the next call before it sleeps. */
#define FNN_POOL_SPIN_NS 200000

/* Runs fn for items 0 .. n-1 on the calling thread and up to nt - 1
 * workers; returns when all have run. */
void fnn_pool_run(int nt, int64_t n, fnn_pool_fn fn, void *ctx);
/* 1 while the calling thread runs an item of fnn_pool_run. */
int fnn_pool_in_item(void);
#endif
