/* Pooling drivers, float and double (pool_driver.inc): argument checks and
 * threads over the per-plane kernels of pool_body.inc.  Each plane (n, c) is
 * computed by one thread, so results do not depend on the thread count.
 * Global average pooling (a window covering the whole unpadded input) sums
 * each plane with the vector sum kernel. */
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include <string.h>

/* Checks a pooling geometry (PyTorch's rules: kernel, stride >= 1, padding
 * at most half the kernel) and fills g (g->c unused). */
static int fnn_pool_setup(fnn_conv_geom *g, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                          int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    if (n < 0 || c < 0 || h < 1 || w < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0)
        return FNN_EINVAL;
    if (h > (1 << 30) || w > (1 << 30) || kh > (1 << 30) || kw > (1 << 30) || sh > (1 << 30) || sw > (1 << 30))
        return FNN_EOVERFLOW;
    if (ph > kh / 2 || pw > kw / 2) return FNN_EINVAL; /* 2 ph > kh, without overflowing */
    if (h + 2 * ph < kh || w + 2 * pw < kw) return FNN_EINVAL;
    if (h * w > INT32_MAX) return FNN_EOVERFLOW; /* argmax indices are int32 */
    if (c > 0 && n > INT64_MAX / 8 / c / (h * w)) return FNN_EOVERFLOW;
    g->c = 1;
    g->h = h;
    g->w = w;
    g->r = kh;
    g->s = kw;
    g->p = (h + 2 * ph - kh) / sh + 1;
    g->q = (w + 2 * pw - kw) / sw + 1;
    g->sh = sh;
    g->sw = sw;
    g->ph = ph;
    g->pw = pw;
    g->dh = 1;
    g->dw = 1;
    return FNN_OK;
}

#define T float
#define DT f32
#include "pool/pool_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "pool/pool_driver.inc"
#undef T
#undef DT
