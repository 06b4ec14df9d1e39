/* Drivers of elementwise arithmetic on whole arrays and of the strided copy
 * (elem_driver.inc), float and double.  Work is cut into blocks of whole
 * cache lines (add) or whole rows (copy), handed out as a team's items
 * (cpu/threads.h); every element is computed by the same code whatever the
 * thread, so results are bit-identical at any thread count. */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include <string.h>

/* Elements per thread below which another thread costs more than it saves:
 * these ops move memory and do little else. */
#define FNN_ELEM_GRAIN (1 << 16)
/* add's unit of work: 4096 elements, whole cache lines of either type */
#define FNN_ELEM_BLOCK 4096
/* Rows of a strided copy per team item: the first row's index is found by
 * division, the next ones by carrying from it. */
#define FNN_COPY_ROW_BLOCK 64

/* Sizes of a strided copy: 1..FNN_COPY_MAX_DIMS dimensions, none negative,
 * the element count within int64; rows = the product of all dimensions but
 * the last, total = the element count. */
static int fnn_copy_check(int ndim, const int64_t *shape, const int64_t *src_strides, const int64_t *dst_strides,
                          int64_t *rows, int64_t *total) {
    if (ndim < 1 || ndim > FNN_COPY_MAX_DIMS || !shape || !src_strides || !dst_strides) return FNN_EINVAL;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0) return FNN_EINVAL;
    for (int d = 0; d < ndim - 1; d++) {
        if (shape[d] && n > INT64_MAX / shape[d]) return FNN_EOVERFLOW;
        n *= shape[d];
    }
    *rows = n;
    if (shape[ndim - 1] && n > INT64_MAX / shape[ndim - 1]) return FNN_EOVERFLOW;
    *total = n * shape[ndim - 1];
    return FNN_OK;
}

#define T float
#define DT f32
#include "elem/elem_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "elem/elem_driver.inc"
#undef T
#undef DT
