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
#include <string.h>
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

/* b batch elements of `heads` heads: the unmasked checks on their b * heads. */
static int fnn_attn_layout_check(int64_t b, int64_t heads, int64_t sq, int64_t sk, int64_t d, int64_t stride_mask) {
    if (b < 0 || heads < 1) return FNN_EINVAL;
    if (b > INT64_MAX / heads) return FNN_EOVERFLOW;
    return fnn_attn_mask_check(b * heads, sq, sk, d, stride_mask, heads);
}

/* One strided tensor's strides s (batch, head, row; elements, unit stride
 * along d): non-negative, a written tensor's rows at least d apart, and its
 * last element's offset within int64_t. */
static int fnn_attn_strides_check(int64_t b, int64_t heads, int64_t rows, int64_t d, const int64_t *s, int written) {
    if (!s || s[0] < 0 || s[1] < 0 || s[2] < 0 || (written && rows > 1 && s[2] < d)) return FNN_EINVAL;
    const int64_t lim = INT64_MAX / 4;
    if (s[0] > lim / FNN_MAX(b, 1) || s[1] > lim / heads || s[2] > lim / FNN_MAX(rows, 1) || d > lim)
        return FNN_EOVERFLOW;
    return FNN_OK;
}

/* The dense copies of a group of heads in the backward (attn_driver.inc)
 * stay within about half of a core's L2. */
#define ATTN_GROUP_BYTES (512 * 1024)

/* Where head t (= batch element t / heads, head t % heads) of x starts. */
#define ATTN_HEAD(x, s, t, heads) ((x) + (t) / (heads) * (s)[0] + (t) % (heads) * (s)[1])

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
