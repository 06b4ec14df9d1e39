/* The work pool of pool.h.
 *
 * One job at a time (a mutex the caller only tries: a busy pool means run
 * serially).  A job's claim state is one 64-bit word: workers taking part
 * (8 bits) | item count (28 bits) | next item (28 bits).  Item i is claimed
 * by a CAS from (w, n, i) to (w, n, i + 1), with i < n and the worker's
 * index below w, so every claim is checked against the state it changes:
 * a worker that read an old job's state can only claim an item of the
 * current one (its CAS fails otherwise).  A job does not end, and its fn
 * and ctx do not change, until every claimed item has run: the caller waits
 * for `done` to reach n before it returns, and writes the next job's fn and
 * ctx only after that. */
#include "cpu/pool.h"
#include "cpu/threads.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <sched.h>

#define W_SHIFT 56
#define N_SHIFT 28
#define FIELD ((uint64_t)FNN_POOL_MAX_ITEMS - 1)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t pool_state;     /* workers | n | next item */
static atomic_int pool_wake;            /* futex word: bumped per job */
static atomic_int pool_sleepers;
static _Atomic int64_t pool_done;       /* items run of the current job */
static _Atomic(fnn_pool_fn) pool_fn;
static _Atomic(void *) pool_ctx;
static int pool_workers;                /* started so far (under pool_lock) */

/* set while this thread runs an item: kernels called from an item run
 * serially (fnn_get_num_threads) */
static _Thread_local int pool_in_item;

int fnn_pool_in_item(void) { return pool_in_item; }

static inline void run_one(fnn_pool_fn fn, void *ctx, int64_t i, int slot) {
    const int outer = pool_in_item;
    pool_in_item = 1;
    fn(ctx, i, slot);
    pool_in_item = outer;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims and runs items of the job whose state was last read as s, as
 * `slot` (0: the caller; worker w: w + 1). */
static void run_items(uint64_t s, int slot) {
    for (;;) {
        const uint64_t w = s >> W_SHIFT, n = (s >> N_SHIFT) & FIELD, i = s & FIELD;
        if (i >= n || (uint64_t)slot > w) return;
        if (atomic_compare_exchange_weak_explicit(&pool_state, &s, s + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            run_one(atomic_load_explicit(&pool_fn, memory_order_relaxed),
                    atomic_load_explicit(&pool_ctx, memory_order_relaxed), (int64_t)i, slot);
            atomic_fetch_add_explicit(&pool_done, 1, memory_order_release);
            s = atomic_load_explicit(&pool_state, memory_order_acquire);
        }
        /* on failure s holds the current state, checked again above */
    }
}

static void *worker_main(void *arg) {
    const int slot = (int)(intptr_t)arg + 1;
    int seen = atomic_load(&pool_wake), spin = 1;
    for (;;) {
        /* spin a while for the next job (if this worker took part in the
         * last one), then sleep */
        const int64_t until = now_ns() + FNN_POOL_SPIN_NS;
        for (int i = 1; spin && atomic_load_explicit(&pool_wake, memory_order_acquire) == seen; i++) {
            cpu_relax();
            if (i % 64 == 0) {
                if (now_ns() > until) break;
                /* woken onto the caller's core (the scheduler places a
                 * wakee near its waker), spinning would take that core's
                 * time from the caller: let it run */
                sched_yield();
            }
        }
        if (atomic_load(&pool_wake) == seen) {
            /* seq_cst: either the caller sees sleepers > 0, or this sees the new job */
            atomic_fetch_add(&pool_sleepers, 1);
            while (atomic_load(&pool_wake) == seen) {
#ifdef __linux__
                syscall(SYS_futex, &pool_wake, FUTEX_WAIT_PRIVATE, seen, 0, 0, 0);
#else
                sched_yield();
#endif
            }
            atomic_fetch_sub(&pool_sleepers, 1);
        }
        seen = atomic_load_explicit(&pool_wake, memory_order_acquire);
        const uint64_t s = atomic_load_explicit(&pool_state, memory_order_acquire);
        spin = (uint64_t)slot <= s >> W_SHIFT;
        run_items(s, slot);
    }
    return 0;
}

/* Starts workers up to `want`; returns how many there are. */
static int start_workers(int want) {
    while (pool_workers < want) {
        pthread_t t;
        pthread_attr_t at;
        if (pthread_attr_init(&at)) break;
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, worker_main, (void *)(intptr_t)pool_workers);
        pthread_attr_destroy(&at);
        if (rc) break;
        pool_workers++;
    }
    return pool_workers < want ? pool_workers : want;
}

static void run_serial(int64_t n, fnn_pool_fn fn, void *ctx) {
    for (int64_t i = 0; i < n; i++) fn(ctx, i, 0);
}

void fnn_pool_run(int nt, int64_t n, fnn_pool_fn fn, void *ctx) {
    if (n <= 0) return;
    if (nt > FNN_POOL_MAX_THREADS) nt = FNN_POOL_MAX_THREADS;
    int workers = 0;
    if (nt > 1 && n > 1 && !fnn_forked_child() && pthread_mutex_trylock(&pool_lock) == 0) {
        workers = start_workers(nt - 1);
        if (workers < 1) pthread_mutex_unlock(&pool_lock);
    }
    if (workers < 1) {
        for (int64_t i = 0; i < n; i++) run_one(fn, ctx, i, 0);
        return;
    }
    /* more items than the state holds (no caller asks for that many): the
     * rest after the job, on this thread */
    const int64_t cnt = n < FNN_POOL_MAX_ITEMS ? n : FNN_POOL_MAX_ITEMS;
    atomic_store_explicit(&pool_fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool_ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool_done, 0, memory_order_relaxed);
    const uint64_t s = (uint64_t)workers << W_SHIFT | (uint64_t)cnt << N_SHIFT;
    atomic_store_explicit(&pool_state, s, memory_order_release);
    atomic_fetch_add(&pool_wake, 1);
#ifdef __linux__
    if (atomic_load(&pool_sleepers) > 0) syscall(SYS_futex, &pool_wake, FUTEX_WAKE_PRIVATE, INT32_MAX, 0, 0, 0);
#endif
    run_items(s, 0);
    /* only items a worker claimed can still be running */
    while (atomic_load_explicit(&pool_done, memory_order_acquire) < cnt) cpu_relax();
    pthread_mutex_unlock(&pool_lock);
    for (int64_t i = cnt; i < n; i++) run_one(fn, ctx, i, 0);
}
