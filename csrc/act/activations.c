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
    [FNN_ACT_SILU] = 1 << 13,    [FNN_ACT_ELU] = 1 << 13,
};
#define FNN_ROW_GRAIN (1 << 13)

#define FNN_FWD_ENTRY(unused, o) fnn_active->FNN_CAT(o##_fwd_, DT),
#define FNN_BWD_ENTRY(unused, o) fnn_active->FNN_CAT(o##_bwd_, DT),
#define FNN_FWD_GRAD_ENTRY(unused, o) fnn_active->FNN_CAT(o##_fwd_grad_, DT),

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
