/* Thread count, the fork guard, the team-size judge (threads.h) and a
 * barrier that sleeps.
 *
 * A kernel runs min(setting, omp_get_max_threads()) threads, both read in the
 * calling thread, so threadpoolctl's limits (which call omp_set_num_threads)
 * reach it, or one thread while workers were recently late (fnn_team_threads).
 * Inside another OpenMP parallel region it runs serially.
 *
 * GNU libgomp cannot be used in a child forked after the parent used its
 * thread pool (the child has no pool threads, and libgomp waits for them).
 * A pthread_atfork child handler marks the child, which then runs every
 * kernel on its calling thread only: correct results, no hang.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RUSAGE_THREAD */
#endif
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include <stdlib.h>
#include <sys/resource.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <pthread.h>
#include <time.h>
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
    int nt = fnn_team_threads();
    if (grain < 1) grain = 1;
    int64_t by_work = work / grain;
    if (by_work < nt) nt = by_work < 1 ? 1 : (int)by_work;
    return nt;
}

static int64_t fnn_clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static int64_t fnn_now_ns(void) { return fnn_clock_ns(CLOCK_MONOTONIC); }
/* CPU time of the calling thread: what its items cost, without the time it
 * waited for a core.  (getrusage's is cheaper but lags by up to a
 * scheduler tick.) */
static int64_t fnn_cpu_ns(void) { return fnn_clock_ns(CLOCK_THREAD_CPUTIME_ID); }
/* Times the calling thread was preempted (involuntary context switches),
 * 0 where the system does not count them. */
static int64_t fnn_preemptions(void) {
#ifdef RUSAGE_THREAD
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0) return ru.ru_nivcsw;
#endif
    return 0;
}

/* A thread's wall clock, CPU clock and preemptions at one moment. */
typedef struct {
    int64_t t, cpu, preempted;
} fnn_clocks;

static void fnn_clocks_read(fnn_clocks *c) {
    c->t = fnn_now_ns();
    c->cpu = fnn_cpu_ns();
    c->preempted = fnn_preemptions();
}

/* The time the calling thread spent off its core from `since` to now (t,
 * cpu: its clocks now) when it is above min_ns and the thread was preempted
 * meanwhile, else 0.  Time off the core without a preemption is the
 * thread's own sleep, or the hypervisor running another machine on its
 * virtual CPU, which no thread of this machine wanted. */
static int64_t fnn_preempted_off_core(const fnn_clocks *since, int64_t t, int64_t cpu, int64_t min_ns) {
    const int64_t off = (t - since->t) - (cpu - since->cpu);
    return off > min_ns && fnn_preemptions() != since->preempted ? off : 0;
}

/* ---------------------------------------------------------------- teams */

/* A region is judged by what it cost against what the caller alone would
 * have taken: its wall time from the fork to the join, against the caller's
 * own CPU time for its items scaled to all the items (thread CPU time, so a
 * caller descheduled mid-region, by another process or by its own worker
 * queued on its core, is not counted as work).  Losses add up over recent
 * regions against what earlier regions saved (a balance, capped so that a
 * run of good regions does not hide a change for long).  A loss below
 * FNN_TEAM_NOISE_NS is not counted: the fork and join of a small region on a
 * quiet machine cost microseconds, and counting them would let many small
 * regions switch the threads off for the large ones beside them; a worker
 * late by a scheduler tick or time slice (1-12 ms) is counted. */
#define FNN_TEAM_LATE_NS 250000
#define FNN_TEAM_CREDIT_NS 1000000
#define FNN_TEAM_NOISE_NS 40000
/* The serial window after a late region: from 8 ms, doubling while each
 * probe after a window finds the workers late again, up to 128 ms; from the
 * first late probe on, at least FNN_TEAM_PROBE_RATIO times the probe's
 * loss, so probes cost a few percent of the time at most even when a late
 * worker costs a 12 ms time slice (up to 2 s).  A brief disturbance of a
 * quiet machine costs one 8 ms window. */
#define FNN_TEAM_WINDOW_MIN_NS 8000000
#define FNN_TEAM_WINDOW_MAX_NS 128000000
#define FNN_TEAM_PROBE_RATIO 32
#define FNN_TEAM_WINDOW_CAP_NS 2000000000
/* Between two regions of one caller less than FNN_TEAM_GAP_NS apart, the
 * workers still spin in libgomp's wait (~5 ms after a region with its
 * default policy), so the process holds more cores than its caller uses:
 * on a busy machine the caller is then preempted between regions, a cost
 * of the threads that no region's own time shows.  The time a preempted
 * caller spent off its core in such a gap is added to the next region's
 * loss; a gap without preemption (the caller ran, or slept of its own
 * accord) costs nothing. */
#define FNN_TEAM_GAP_NS 10000000
/* A worker preempted and off its core for more than FNN_TEAM_SHARED_NS of
 * a region shared that core with another thread (NumPy's BLAS worker
 * spinning after its call, another process).  After the join it spins in
 * libgomp's wait (milliseconds) on that core, and that thread, when it
 * needs the core again, waits for it: NumPy's next 1024^3 product took
 * 1.7x its time.  So when two regions in a row had a worker share its core,
 * what the second saved the caller does not count, and the time its worker
 * was off its core counts as lost: a serial window starts.  One such region
 * alone is not enough: on a quiet machine a kernel thread preempts a worker
 * for a millisecond or so a few times a second. */
#define FNN_TEAM_SHARED_NS 1000000
static _Thread_local fnn_clocks team_gap; /* the caller's, at its last region's end */

int fnn_team_mode = FNN_TEAM_AUTO;
static int64_t team_serial_until; /* ns; kernels called before then run serially */
static int64_t team_window;       /* ns; the last serial window */
static int64_t team_last_late;    /* ns; when a region was last found late */
static int64_t team_balance;      /* ns; saved minus waited over recent regions */
static int64_t team_regions, team_late, team_serial_calls, team_shared;
static int team_last_shared; /* the last region judged had a worker share its core */

int fnn_team_set_test_mode(int mode) {
    int old = fnn_team_mode;
    if (mode >= FNN_TEAM_AUTO && mode <= FNN_TEAM_WORKER_SHARED) fnn_team_mode = mode;
    return old;
}

void fnn_team_stats(int64_t out[4]) {
    out[0] = __atomic_load_n(&team_regions, __ATOMIC_RELAXED);
    out[1] = __atomic_load_n(&team_late, __ATOMIC_RELAXED);
    out[2] = __atomic_load_n(&team_serial_calls, __ATOMIC_RELAXED);
    out[3] = __atomic_load_n(&team_shared, __ATOMIC_RELAXED);
}

int fnn_team_threads(void) {
    const int nt = fnn_get_num_threads();
    if (nt <= 1) return nt;
    const int mode = fnn_team_mode;
    if (mode == FNN_TEAM_SERIAL) return 1;
    if (mode != FNN_TEAM_AUTO) return nt;
    if (__atomic_load_n(&team_serial_until, __ATOMIC_RELAXED) > fnn_now_ns()) {
        __atomic_fetch_add(&team_serial_calls, 1, __ATOMIC_RELAXED);
        return 1;
    }
    return nt;
}

void fnn_team_begin(fnn_team *tm, int64_t items) {
    tm->next = 0;
    tm->items = items;
    tm->mine = 0;
    tm->t_done = 0;
    tm->c_fork = fnn_cpu_ns();
    tm->t_fork = fnn_now_ns();
    tm->gap_loss = 0;
    tm->worker_off = 0;
    if (team_gap.t && tm->t_fork - team_gap.t < FNN_TEAM_GAP_NS)
        tm->gap_loss = fnn_preempted_off_core(&team_gap, tm->t_fork, tm->c_fork, FNN_TEAM_NOISE_NS);
}

void fnn_team_caller_enter(fnn_team *tm) {
    tm->t_enter = fnn_now_ns();
    tm->c_enter = fnn_cpu_ns();
}

static _Thread_local fnn_clocks team_worker; /* a worker's, on entering its region */

void fnn_team_worker_enter(void) { fnn_clocks_read(&team_worker); }

void fnn_team_worker_done(fnn_team *tm) {
    const int64_t off = fnn_preempted_off_core(&team_worker, fnn_now_ns(), fnn_cpu_ns(), FNN_TEAM_SHARED_NS);
    int64_t seen = __atomic_load_n(&tm->worker_off, __ATOMIC_RELAXED);
    while (seen < off &&
           !__atomic_compare_exchange_n(&tm->worker_off, &seen, off, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

void fnn_team_caller_done(fnn_team *tm) {
    tm->c_done = fnn_cpu_ns();
    tm->t_done = fnn_now_ns();
}

static void fnn_sleep_ns(long ns) {
    struct timespec ts = {0, ns};
    nanosleep(&ts, 0);
}

void fnn_team_test_enter(fnn_team *tm, int tid) {
    const int mode = fnn_team_mode;
    if ((mode == FNN_TEAM_WORKER_LATE && tid != 0) || (mode == FNN_TEAM_CALLER_LATE && tid == 0)) fnn_sleep_ns(300000);
    if (tid == 0) {
        fnn_team_caller_enter(tm);
        return;
    }
    fnn_team_worker_enter();
    if (mode == FNN_TEAM_WORKER_SHARED) {
        fnn_sleep_ns(1500000);
        team_worker.preempted = -1; /* the sleep stands for a preemption */
    }
}

void fnn_team_end(fnn_team *tm, int nt) {
    if (nt <= 1 || tm->t_done == 0) return;
    const int64_t now = fnn_now_ns(), wall = now - tm->t_fork, work = tm->c_done - tm->c_enter;
    fnn_clocks_read(&team_gap);
    __atomic_fetch_add(&team_regions, 1, __ATOMIC_RELAXED);
    /* The caller alone: its items' CPU time scaled to all the items (items
     * of one region cost about the same); regions without counted items
     * (blocks counted per phase) are judged as if the work was shared
     * evenly.  Races between concurrent callers only blur the balance. */
    int64_t serial = work * nt;
    if (tm->items > 0 && tm->mine > 0) serial = (int64_t)((double)work * (double)tm->items / (double)tm->mine);
    /* A caller that ran no item (the workers took them all before it
     * entered the region) tells nothing of their cost; the region lost at
     * least the caller's delay in entering it (libgomp's fork waiting for a
     * worker not yet back from the last region, or the caller preempted). */
    if (tm->items > 0 && tm->mine == 0) serial = wall - (tm->t_enter - tm->t_fork);
    int64_t loss = wall - serial;
    if (loss > 0 && loss < FNN_TEAM_NOISE_NS) loss = 0;
    loss += tm->gap_loss;
    const int shared = tm->worker_off > FNN_TEAM_SHARED_NS;
    if (shared) {
        __atomic_fetch_add(&team_shared, 1, __ATOMIC_RELAXED);
        if (__atomic_load_n(&team_last_shared, __ATOMIC_RELAXED)) loss = (loss > 0 ? loss : 0) + tm->worker_off;
    }
    __atomic_store_n(&team_last_shared, shared, __ATOMIC_RELAXED);
    int64_t bal = __atomic_load_n(&team_balance, __ATOMIC_RELAXED) - loss;
    if (bal > FNN_TEAM_CREDIT_NS) bal = FNN_TEAM_CREDIT_NS;
    if (bal >= -FNN_TEAM_LATE_NS) {
        __atomic_store_n(&team_balance, bal, __ATOMIC_RELAXED);
        /* once no region was late for a few windows, the next window
         * starts short again (one lucky probe on a busy machine does not) */
        if (now - __atomic_load_n(&team_last_late, __ATOMIC_RELAXED) > 4 * team_window + FNN_TEAM_WINDOW_MIN_NS)
            __atomic_store_n(&team_window, 0, __ATOMIC_RELAXED);
        return;
    }
    __atomic_store_n(&team_balance, 0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&team_late, 1, __ATOMIC_RELAXED);
    const int64_t prev = __atomic_load_n(&team_window, __ATOMIC_RELAXED);
    int64_t w = prev * 2;
    if (w < FNN_TEAM_WINDOW_MIN_NS) w = FNN_TEAM_WINDOW_MIN_NS;
    if (w > FNN_TEAM_WINDOW_MAX_NS) w = FNN_TEAM_WINDOW_MAX_NS;
    if (prev > 0 && w < FNN_TEAM_PROBE_RATIO * loss)
        w = FNN_TEAM_WINDOW_CAP_NS / FNN_TEAM_PROBE_RATIO < loss ? FNN_TEAM_WINDOW_CAP_NS : FNN_TEAM_PROBE_RATIO * loss;
    __atomic_store_n(&team_window, w, __ATOMIC_RELAXED);
    __atomic_store_n(&team_last_late, now, __ATOMIC_RELAXED);
    __atomic_store_n(&team_serial_until, now + w, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- barrier */
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#else
#include <sched.h>
#endif

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
