/* Thread count, the fork guard and a barrier that sleeps.
 *
 * A kernel runs min(setting, omp_get_max_threads()) threads, both read in the
 * calling thread, so threadpoolctl's limits (which call omp_set_num_threads)
 * reach it.  Inside another OpenMP parallel region it runs serially.
 *
 * GNU libgomp cannot be used in a child forked after the parent used its
 * thread pool (the child has no pool threads, and libgomp waits for them).
 * A pthread_atfork child handler marks the child, which then runs every
 * kernel on its calling thread only: correct results, no hang.
 */
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <pthread.h>
#include <unistd.h>

static int fnn_threads_setting = 0; /* 0: not set yet */
static volatile int fnn_in_forked_child = 0;

static void fnn_atfork_child(void) { fnn_in_forked_child = 1; }

static int fnn_env_int(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end == '\0' && v > 0 && v < 1 << 20) ? (int)v : 0;
}

static int fnn_default_threads(void) {
    int n = fnn_env_int("FASTNN_NUM_THREADS");
    if (n <= 0) n = fnn_env_int("OMP_NUM_THREADS");
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
#endif
    return n > 0 ? n : 1;
}

void fnn_threads_init(void) {
    static int done = 0;
    if (done) return;
    done = 1;
    pthread_atfork(0, 0, fnn_atfork_child);
    fnn_threads_setting = fnn_default_threads();
#ifdef _OPENMP
    omp_set_num_threads(fnn_threads_setting);
#endif
}

int fnn_set_num_threads(int n) {
    if (n < 1) return FNN_EINVAL;
    fnn_threads_init();
    fnn_threads_setting = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    return FNN_OK;
}

int fnn_forked_child(void) { return fnn_in_forked_child; }

int fnn_get_num_threads(void) {
    fnn_threads_init();
    if (fnn_in_forked_child) return 1;
#ifdef _OPENMP
    if (omp_in_parallel()) return 1;
    int m = omp_get_max_threads();
    return fnn_threads_setting < m ? fnn_threads_setting : m;
#else
    return 1;
#endif
}

int fnn_openmp_version(void) {
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

int fnn_threads_for(int64_t work, int64_t grain) {
    int nt = fnn_get_num_threads();
    if (grain < 1) grain = 1;
    int64_t by_work = work / grain;
    if (by_work < nt) nt = by_work < 1 ? 1 : (int)by_work;
    return nt;
}

/* ---------------------------------------------------------------- barrier */
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#else
#include <sched.h>
#endif
#include <time.h>

static int64_t fnn_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void fnn_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

void fnn_barrier_init(fnn_barrier *b, int n) {
    atomic_init(&b->count, 0);
    atomic_init(&b->gen, 0);
    atomic_init(&b->sleepers, 0);
    b->n = n;
}

void fnn_barrier_wait(fnn_barrier *b) {
    if (b->n <= 1) return;
    const int gen = atomic_load(&b->gen);
    if (atomic_fetch_add(&b->count, 1) == b->n - 1) { /* the last to arrive releases the rest */
        atomic_store(&b->count, 0);
        atomic_fetch_add(&b->gen, 1);
#ifdef __linux__
        if (atomic_load(&b->sleepers) > 0) syscall(SYS_futex, &b->gen, FUTEX_WAKE_PRIVATE, INT32_MAX, 0, 0, 0);
#endif
        return;
    }
    const int64_t until = fnn_now_ns() + FNN_BARRIER_SPIN_NS;
    for (int i = 1; atomic_load(&b->gen) == gen; i++) {
        fnn_cpu_relax();
        if (i % 64 == 0 && fnn_now_ns() > until) break;
    }
    /* seq_cst: either the releaser sees sleepers > 0, or this thread sees the new gen */
    atomic_fetch_add(&b->sleepers, 1);
    while (atomic_load(&b->gen) == gen) {
#ifdef __linux__
        syscall(SYS_futex, &b->gen, FUTEX_WAIT_PRIVATE, gen, 0, 0, 0);
#else
        sched_yield();
#endif
    }
    atomic_fetch_sub(&b->sleepers, 1);
}
