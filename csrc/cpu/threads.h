/* Internal thread helpers (the public ones are in fastnn.h). */
#ifndef FNN_THREADS_H
#define FNN_THREADS_H
#include <stdatomic.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void fnn_threads_init(void);
/* 1 in a child forked after the pool was used (it then runs serially). */
int fnn_forked_child(void);
/* _OPENMP of the compiler that built fastnn, 0 without OpenMP. */
int fnn_openmp_version(void);
/* Threads worth using for `work` units when each thread should get at
 * least `grain` of them: never more than fnn_team_threads(). */
int fnn_threads_for(int64_t work, int64_t grain);

/* ------------------------------------------------------------ teams
 *
 * On cores shared with other work, a parallel region loses to a serial
 * call when a worker starts late: the OpenMP join waits for every member of
 * the team, and a worker the scheduler has not run (the other core busy
 * with another process, or with NumPy's BLAS worker spinning after its
 * call) costs a scheduler tick or time slice, 4-12 ms.  Two things keep that
 * off:
 *
 * - items: a region hands out its work as items from a shared counter
 *   (fnn_team_next), so the caller runs every item no worker has claimed
 *   and a late worker finds nothing left;
 * - team size: after each region the caller sets its wall time against
 *   what the caller alone would have taken (its own CPU time for its items,
 *   scaled to all of them), summed over recent regions (fnn_team_end).  When
 *   the losses outweigh the savings, the workers are late (or compete with
 *   the caller for its core, also between regions while they spin in
 *   libgomp's wait); then every kernel runs serially for a while
 *   (fnn_team_threads returns 1), a window that doubles while the lateness
 *   persists, long enough that a probe costs a few percent at most, and
 *   starts short again once calls find the workers on time.
 *
 * The waiting itself stays libgomp's: no other thread spins.  Which thread
 * runs an item never changes a result, so results are bit-identical at
 * any team size. */
typedef struct {
    int64_t next;   /* the next unclaimed item */
    int64_t items;  /* items in this region */
    int64_t mine;   /* items the caller ran */
    int64_t t_fork; /* ns: the region started */
    int64_t t_enter; /* ns: the caller entered the region */
    int64_t t_done; /* ns: the caller found no item left */
    int64_t c_fork; /* ns of the caller's CPU time at the fork */
    int64_t c_enter; /* ... when it entered the region */
    int64_t c_done; /* ... and when it found no item left */
    int64_t gap_loss; /* ns the caller lost to preemption since its last region */
    int64_t worker_off; /* ns: the longest time a worker spent off its core in the region */
} fnn_team;

/* Test hook (fastnn._C._team_test_mode): AUTO judges lateness; the others
 * force a choice, so tests can check each gives the same results. */
#define FNN_TEAM_AUTO 0
#define FNN_TEAM_SERIAL 1       /* every kernel on its calling thread */
#define FNN_TEAM_FULL 2         /* the whole team, whatever was observed */
#define FNN_TEAM_WORKER_LATE 3  /* the whole team, workers start ~0.3 ms late */
#define FNN_TEAM_CALLER_LATE 4  /* the whole team, the caller starts ~0.3 ms late */
#define FNN_TEAM_WORKER_SHARED 5 /* the whole team, workers leave their core ~1.5 ms on entering */
int fnn_team_set_test_mode(int mode);
/* Counters since the process started: parallel regions judged, found
 * late, kernel calls run serially because of it, and regions in which a
 * worker shared its core with another thread. */
void fnn_team_stats(int64_t out[4]);

/* Threads a kernel called now uses: fnn_get_num_threads(), or 1 while
 * workers were recently found late (or a test forces it). */
int fnn_team_threads(void);
/* Before a region of nt threads over `items` items. */
void fnn_team_begin(fnn_team *tm, int64_t items);
/* Thread tid's next item (>= items: none left). */
static inline int64_t fnn_team_next(fnn_team *tm, int tid) {
    const int64_t i = __atomic_fetch_add(&tm->next, 1, __ATOMIC_RELAXED);
    if (tid == 0 && i < tm->items) tm->mine++;
    return i;
}
/* Each thread on entering the region.  The caller's CPU time for its items
 * starts here, not at fnn_team_begin: at the fork the caller may spin in
 * libgomp for a worker still on its way back from the last region, and
 * that wait is a loss of the threads, not work. */
extern int fnn_team_mode;
void fnn_team_caller_enter(fnn_team *tm);
void fnn_team_worker_enter(void);
/* fnn_team_enter under the test modes that delay or suspend a thread */
void fnn_team_test_enter(fnn_team *tm, int tid);
static inline void fnn_team_enter(fnn_team *tm, int tid) {
    if (fnn_team_mode >= FNN_TEAM_WORKER_LATE)
        fnn_team_test_enter(tm, tid);
    else if (tid == 0)
        fnn_team_caller_enter(tm);
    else
        fnn_team_worker_enter();
}
/* Each thread after its last item, before the join. */
void fnn_team_caller_done(fnn_team *tm);
void fnn_team_worker_done(fnn_team *tm);
static inline void fnn_team_done(fnn_team *tm, int tid) {
    if (tid == 0)
        fnn_team_caller_done(tm);
    else
        fnn_team_worker_done(tm);
}
/* After the region: judges what it cost (nt: the team's size). */
void fnn_team_end(fnn_team *tm, int nt);

/* The calling thread's number in its OpenMP team (0 without OpenMP). */
static inline int fnn_omp_tid(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* A region over n work items cut into nchunk contiguous chunks of equal
 * size (to within one item), [lo, hi) each, handed out as a team's items to
 * up to nt threads (tid: the thread's number), so it is judged like every
 * region and the caller runs the chunks no worker has claimed.  nchunk 0:
 * up to 4 chunks a thread.  Never more threads than chunks; one thread runs
 * them all on the caller, unjudged.  Which thread runs a chunk never
 * changes its result:
 *
 *     FNN_TEAM_CHUNKS(nt, nchunk, n, tid, lo, hi) {
 *         for (int64_t it = lo; it < hi; it++) ...
 *     }
 *     FNN_TEAM_CHUNKS_END */
static inline int fnn_team_chunks_begin(fnn_team *tm, int nt, int64_t *nchunk, int64_t n) {
    int64_t nc = *nchunk;
    if (nc == 0) nc = nt <= 1 ? (n > 0) : (n < 4 * (int64_t)nt ? n : 4 * (int64_t)nt);
    if (nt > nc) nt = nc < 1 ? 1 : (int)nc;
    *nchunk = nc;
    tm->next = 0;
    tm->items = nc;
    tm->mine = 0;
    if (nt > 1) fnn_team_begin(tm, nc);
    return nt < 1 ? 1 : nt;
}
#define FNN_TEAM_CHUNKS(nt, nchunk, n, tid, lo, hi)                                                                \
    {                                                                                                              \
        fnn_team fnn_tm_;                                                                                          \
        const int64_t fnn_n_ = (n);                                                                                \
        int64_t fnn_nc_ = (nchunk);                                                                                \
        const int fnn_nt_ = fnn_team_chunks_begin(&fnn_tm_, (nt), &fnn_nc_, fnn_n_);                               \
        _Pragma("omp parallel num_threads(fnn_nt_) if (fnn_nt_ > 1)") {                                            \
            const int fnn_ctid_ = fnn_omp_tid(), tid = fnn_ctid_;                                                  \
            (void)tid;                                                                                             \
            if (fnn_nt_ > 1) fnn_team_enter(&fnn_tm_, fnn_ctid_);                                                  \
            for (int64_t fnn_c_ = fnn_team_next(&fnn_tm_, fnn_ctid_); fnn_c_ < fnn_nc_;                            \
                 fnn_c_ = fnn_team_next(&fnn_tm_, fnn_ctid_)) {                                                    \
                const int64_t lo = fnn_n_ * fnn_c_ / fnn_nc_, hi = fnn_n_ * (fnn_c_ + 1) / fnn_nc_;
#define FNN_TEAM_CHUNKS_END                                                                                        \
    }                                                                                                              \
    if (fnn_nt_ > 1) fnn_team_done(&fnn_tm_, fnn_ctid_);                                                           \
    }                                                                                                              \
    fnn_team_end(&fnn_tm_, fnn_nt_);                                                                               \
    }

/* A loop `for (i = 0; i < n; i++) BODY` of independent iterations on up to
 * nt threads, as FNN_TEAM_CHUNKS of up to 4 chunks a thread:
 *
 *     FNN_TEAM_FOR(nt, i, n)
 *         y[i] = f(x[i]);
 *     FNN_TEAM_FOR_END */
#define FNN_TEAM_FOR(nt, i, n)                                                                                     \
    FNN_TEAM_CHUNKS(nt, 0, n, fnn_tid_, fnn_lo_, fnn_hi_)                                                          \
    for (int64_t i = fnn_lo_; i < fnn_hi_; i++)
#define FNN_TEAM_FOR_END FNN_TEAM_CHUNKS_END

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
