/* Drivers of the fused optimizer updates (optim/optim_body.inc), float and
 * double: argument checks, the hyper-parameters of the step, and one
 * contiguous range of elements per thread (elementwise work, so results do
 * not depend on the thread count). */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include "optim/optim_multi.h"
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

#define FNN_OPTIM_GRAIN (1 << 15)

static int fnn_adam_hyper(int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay,
                          fnn_optim_hyper *h) {
    if (step < 1) return FNN_EINVAL;
    *h = (fnn_optim_hyper){0};
    h->lr = lr;
    h->beta1 = beta1;
    h->beta2 = beta2;
    h->eps = eps;
    h->weight_decay = weight_decay;
    /* as torch.optim.Adam: Python floats, math.sqrt */
    h->step_size = lr / (1.0 - pow(beta1, (double)step));
    h->bias_correction2_sqrt = sqrt(1.0 - pow(beta2, (double)step));
    return FNN_OK;
}

#define T float
#define DT f32
#include "optim/optim_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "optim/optim_driver.inc"
#undef T
#undef DT
