/* Activation drivers, float and double (activations_driver.inc). */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

/* Elements per thread below which another thread costs more than it saves
 * (fork/join of the pool is a few microseconds): cheap ops need more. */
static const int64_t fnn_act_grain[FNN_ACT_COUNT] = {
    [FNN_ACT_RELU] = 1 << 16,    [FNN_ACT_LEAKY_RELU] = 1 << 16, [FNN_ACT_SIGMOID] = 1 << 13,
    [FNN_ACT_TANH] = 1 << 13,    [FNN_ACT_GELU] = 1 << 12,       [FNN_ACT_GELU_TANH] = 1 << 12,
};
#define FNN_ROW_GRAIN (1 << 13)

/* Thread t of nt gets [lo, lo+len), cut at multiples of 16 elements so no
 * two threads write one cache line. */
static void fnn_split_range(int64_t n, int t, int nt, int64_t *lo, int64_t *len) {
    int64_t units = (n + 15) / 16;
    int64_t a = units * t / nt * 16, b = units * (t + 1) / nt * 16;
    if (b > n) b = n;
    if (a > n) a = n;
    *lo = a;
    *len = b - a;
}

#define FNN_FWD_ENTRY(unused, o) fnn_active->FNN_CAT(o##_fwd_, DT),
#define FNN_BWD_ENTRY(unused, o) fnn_active->FNN_CAT(o##_bwd_, DT),

#define T float
#define DT f32
#include "act/activations_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "act/activations_driver.inc"
#undef T
#undef DT
