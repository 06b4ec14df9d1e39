/* Drivers of the normalisation kernels (norm/norm_body.inc), float and
 * double: argument checks, threads, and the reductions across rows.
 *
 * Determinism: layer norm's forward and input gradient are per row; its
 * parameter gradients sum over rows, done as partial sums over fixed blocks
 * of rows (the blocking depends on the shape only), each block summed in row
 * order by one thread, then the blocks added in block order per column.
 * Batch norm gives each thread whole channels.  So every result is the same
 * at any thread count. */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include <math.h>
#include <stdlib.h>

#define FNN_NORM_GRAIN (1 << 13)
#define FNN_LN_MAX_BLOCKS 64
#define FNN_LN_MIN_BLOCK_ROWS 8

static int fnn_norm_check(int64_t a, int64_t b, int64_t c) {
    if (a < 0 || b < 0 || c < 0) return FNN_EINVAL;
    if (b > 0 && a > INT64_MAX / b) return FNN_EOVERFLOW;
    if (c > 0 && a * b > INT64_MAX / c) return FNN_EOVERFLOW;
    return FNN_OK;
}

/* Rows per block of layer norm's parameter-gradient partial sums. */
static int64_t fnn_ln_block_rows(int64_t rows) {
    int64_t rb = (rows + FNN_LN_MAX_BLOCKS - 1) / FNN_LN_MAX_BLOCKS;
    return rb < FNN_LN_MIN_BLOCK_ROWS ? FNN_LN_MIN_BLOCK_ROWS : rb;
}

#define T float
#define DT f32
#include "norm/norm_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "norm/norm_driver.inc"
#undef T
#undef DT
