/* Drivers of the attention kernels (attn/attn_body.inc), float and double:
 * argument checks, per-thread scratch and the split across threads.
 *
 * The forward gives each thread whole (batch*head, query block) items and
 * the backward whole heads (so dK and dV, summed over query blocks, and dQ,
 * summed over key blocks, are each added up by one thread in a fixed order).
 * Items are independent, so results are the same at any thread count.
 * Memory: O(threads * (d + BR) * BC) scratch plus sq per thread in the
 * backward; nothing of size sq x sk. */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
#endif

static int fnn_attn_check(int64_t bh, int64_t sq, int64_t sk, int64_t d) {
    if (bh < 0 || sq < 0 || sk < 0 || d < 0) return FNN_EINVAL;
    if (bh > 0 && sq > 0 && sk == 0) return FNN_EINVAL; /* softmax over no keys */
    if (d > (1 << 20) || sq > INT64_MAX / (d + 1) || sk > INT64_MAX / (d + 1)) return FNN_EOVERFLOW;
    if (bh > 0 && (sq * (d + 1) > INT64_MAX / bh || sk * (d + 1) > INT64_MAX / bh)) return FNN_EOVERFLOW;
    return FNN_OK;
}

/* The masks of the masked entries: mask (sq x sk) per head at stride
 * stride_mask (0: one mask for every head), key_mask (sk) per group of
 * `heads` consecutive heads (one batch element). */
static int fnn_attn_mask_check(int64_t bh, int64_t sq, int64_t sk, int64_t d, int64_t stride_mask, int64_t heads) {
    int rc = fnn_attn_check(bh, sq, sk, d);
    if (rc) return rc;
    if (heads < 1 || bh % heads || stride_mask < 0 || (stride_mask > 0 && stride_mask < sq * sk)) return FNN_EINVAL;
    if ((sq > 0 && sk > INT64_MAX / sq) || (bh > 0 && stride_mask > INT64_MAX / bh)) return FNN_EOVERFLOW;
    return FNN_OK;
}

#define T float
#define DT f32
#include "attn/attn_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "attn/attn_driver.inc"
#undef T
#undef DT
