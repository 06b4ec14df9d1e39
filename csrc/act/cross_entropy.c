/* Drivers of the fused cross-entropy (act/cross_entropy_body.inc), float and
 * double: argument checks, then whole rows to threads.  Each row's loss is
 * written to its own slot and the reduction sums the slots in row order on
 * the calling thread, so the result is bit-identical at any thread count. */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"

#define FNN_CE_GRAIN (1 << 13)

static int fnn_ce_check(int64_t rows, int64_t cols, int reduction, const void *x, const void *t, const void *grad,
                        const double *row_loss, const double *loss) {
    if (rows < 0 || cols < 0 || reduction < FNN_REDUCTION_NONE || reduction > FNN_REDUCTION_SUM) return FNN_EINVAL;
    if (cols > 0 && rows > INT64_MAX / cols) return FNN_EOVERFLOW;
    if (!loss || (rows > 0 && (!row_loss || (cols > 0 && (!x || !t || !grad))))) return FNN_EINVAL;
    if (rows > 0 && cols == 0) return FNN_EINVAL; /* no class to be the target */
    return FNN_OK;
}

static void fnn_ce_reduce(int64_t rows, int reduction, const double *row_loss, double *loss) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++) s += row_loss[r];
    *loss = reduction == FNN_REDUCTION_MEAN ? (rows ? s / (double)rows : NAN) : s;
}

#define T float
#define DT f32
#include "act/cross_entropy_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "act/cross_entropy_driver.inc"
#undef T
#undef DT
