/* Internal thread helpers (the public ones are in fastnn.h). */
#ifndef FNN_THREADS_H
#define FNN_THREADS_H
#include <stdatomic.h>
#include <stdint.h>

void fnn_threads_init(void);
/* 1 in a child forked after the pool was used (it then runs serially). */
int fnn_forked_child(void);
/* _OPENMP of the compiler that built fastnn, 0 without OpenMP. */
int fnn_openmp_version(void);
/* Threads worth using for `work` units when each thread should get at
 * least `grain` of them: never more than fnn_get_num_threads(). */
int fnn_threads_for(int64_t work, int64_t grain);

/* Thread t of nt gets [lo, lo+len) of n elements, cut at multiples of 16
 * elements so no two threads write one cache line. */
static inline void fnn_split_range(int64_t n, int t, int nt, int64_t *lo, int64_t *len) {
    int64_t units = (n + 15) / 16;
    int64_t a = units * t / nt * 16, b = units * (t + 1) / nt * 16;
    if (b > n) b = n;
    if (a > n) a = n;
    *lo = a;
    *len = b - a;
}

/* A barrier for the threads of one parallel region that spins for at most
 * FNN_BARRIER_SPIN_NS and then sleeps (a futex on Linux, sched_yield
 * elsewhere).  libgomp's own barriers spin for milliseconds; on cores shared
 * with other work, a loop with a barrier per step (the recurrent layers)
 * then waits a scheduler slice per step for a thread whose core the spinner
 * holds.  Sleeping soon hands that core over.  Set up by one thread (n =
 * the team's size) before the others use it. */
typedef struct {
    atomic_int count, gen, sleepers;
    int n;
} fnn_barrier;
#define FNN_BARRIER_SPIN_NS 50000
void fnn_barrier_init(fnn_barrier *b, int n);
void fnn_barrier_wait(fnn_barrier *b);
#endif
