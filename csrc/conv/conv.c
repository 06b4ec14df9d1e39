/* Convolution drivers, float and double (conv_driver.inc): argument checks,
 * choice of path, blocking, workspace and threading over the per-ISA
 * kernels of conv_body.inc and the GEMM engine (gemm/gemm_engine.inc: the
 * macro-kernel over the GEMM micro-kernel, fed by conv's B packers).
 *
 * Paths, by shape:
 *   - stride 1 (not 1x1), depthwise included, and the forward with larger
 *     strides (not depthwise, no dilation, the kernel at least the stride),
 *     while one image's padded planes of a group stay small: the "flat"
 *     paths (fnn_conv_use_flat):
 *     the group's input planes are zero-padded into a buffer (read in place
 *     when there is no padding), and the convolution is a 1-D correlation
 *     along the flattened padded plane: tap t = (c, r, s) reads the plane
 *     set at a fixed offset, so the taps are the rows of a GEMM B operand
 *     that is never packed (strides above 1: the padded planes split by
 *     stride phase, so that each tap is still at a fixed offset; see
 *     phase_planes).  At most 16 filters per group: gemm_taps_small
 *     (register blocks of <= 8 filters over all taps); more: the GEMM
 *     engine's taps (its MR-filter register tile, taps in blocks).  Grad-input is
 *     the forward of the padded dY with the flipped, transposed filters
 *     (one driver, flat, runs both);
 *     grad-weight (gemm_taps_dot, dot products along the plane) only for few
 *     filters or long planes;
 *   - grad-input with stride > 1 (no dilation, not depthwise): by stride
 *     phases (backward_input_phases), each a flat pass of the padded dY
 *     with a flipped sub-kernel, copied into dX with the stride;
 *   - depthwise (groups > 1 with one input channel per group) otherwise:
 *     direct per-plane kernels, no GEMM;
 *   - 1x1, stride 1, no padding: plain GEMM of W[g] and X[n,g] (no im2col,
 *     X packed by the GEMM engine's matrix packer; grad-input is written
 *     straight into dX);
 *   - everything else: implicit GEMM.  Forward: Y[n,g] (K/G x PQ) =
 *     W[g] (K/G x CRS) . im2col(X[n,g]) (CRS x PQ), the im2col panels packed
 *     straight from X into GEMM B panels (KC x at most nc_panels
 *     NR-column micro-panels, gemm_info) by conv_pack_b_im2col.
 *     Grad-weight: dW[g] = sum_n dY[n,g] . im2col(X[n,g])^T, panels from
 *     conv_pack_b_im2col_t.  Grad-input: for blocks of NC output columns,
 *     a (rows x NC) block of W[g]^T . dY[n,g] is computed into a small
 *     buffer and scattered into dX by conv_col2im_add.
 *
 * Workspace (per call, grow-only per calling thread, reused by later calls):
 * per thread the packed filters of one group for the forward (W^T of one
 * channel block for grad-input: items run image-fastest, so a thread packs
 * them once for all its images), or one packed A block (MC x KC) for
 * grad-weight; one B panel (KC x at most nc_panels NR), plus,
 * for grad-input, one column block (at most max(mc_scatter, R*S) rows x
 * nc_panels NR).  Nothing
 * the size of an im2col matrix or of the output is allocated.
 *
 * Determinism: every output element is computed by one thread, and the order
 * of its sums (KC blocks, images, column blocks) is a function of the shape
 * and the ISA only, never of the thread count.  The thread count comes from the work
 * (see fnn_threads_for grains in conv_driver.inc), so small problems run on
 * the calling thread alone. */
#include "cpu/workspace.h"
#include "cpu/kernels.h"
#include "cpu/threads.h"
#include "fastnn/fastnn.h"
#include <stdlib.h>
#include <string.h>

#define FNN_CONV_MAX_THREADS 256

static _Thread_local fnn_workspace fnn_conv_ws;

static void *fnn_conv_workspace(size_t bytes) { return fnn_workspace_get(&fnn_conv_ws, bytes); }

static int64_t fnn_conv_round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static int fnn_mul_ok(int64_t a, int64_t b) { return a >= 0 && b >= 0 && (a == 0 || b <= INT64_MAX / 8 / a); }

/* The full problem: N images of C x H x W, K filters of C/G x R x S. */
typedef struct fnn_conv_shape {
    int64_t n, k, groups;
    fnn_conv_geom g; /* per group: g.c = C / groups */
} fnn_conv_shape;

/* Checks the sizes (FNN_EINVAL / FNN_EOVERFLOW) and fills the shape. */
static int fnn_conv_setup(fnn_conv_shape *sh, int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r,
                          int64_t s, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                          int64_t dil_h, int64_t dil_w, int64_t groups) {
    if (n < 0 || c < 1 || h < 1 || w < 1 || k < 1 || r < 1 || s < 1 || stride_h < 1 || stride_w < 1 ||
        pad_h < 0 || pad_w < 0 || dil_h < 1 || dil_w < 1 || groups < 1)
        return FNN_EINVAL;
    if (c % groups || k % groups) return FNN_EINVAL;
    if (h > (1 << 30) || w > (1 << 30) || r > (1 << 30) || s > (1 << 30) || pad_h > (1 << 30) ||
        pad_w > (1 << 30) || dil_h > (1 << 30) || dil_w > (1 << 30) || stride_h > (1 << 30) || stride_w > (1 << 30))
        return FNN_EOVERFLOW;
    int64_t eh = dil_h * (r - 1) + 1, ew = dil_w * (s - 1) + 1;
    if (h + 2 * pad_h < eh || w + 2 * pad_w < ew) return FNN_EINVAL;
    int64_t p = (h + 2 * pad_h - eh) / stride_h + 1, q = (w + 2 * pad_w - ew) / stride_w + 1;
    if (!fnn_mul_ok(h, w) || !fnn_mul_ok(h * w, c) || !fnn_mul_ok(h * w * c, n) || !fnn_mul_ok(p, q) ||
        !fnn_mul_ok(p * q, k) || !fnn_mul_ok(p * q * k, n) || !fnn_mul_ok(r, s) || !fnn_mul_ok(r * s, c) ||
        !fnn_mul_ok(r * s * c, k))
        return FNN_EOVERFLOW;
    sh->n = n;
    sh->k = k;
    sh->groups = groups;
    fnn_conv_geom *g = &sh->g;
    g->c = c / groups;
    g->h = h;
    g->w = w;
    g->r = r;
    g->s = s;
    g->p = p;
    g->q = q;
    g->sh = stride_h;
    g->sw = stride_w;
    g->ph = pad_h;
    g->pw = pad_w;
    g->dh = dil_h;
    g->dw = dil_w;
    return FNN_OK;
}

/* Path choice. */
static int fnn_conv_is_direct(const fnn_conv_shape *sh) { return sh->g.c == 1 && sh->groups > 1; }
static int fnn_conv_is_1x1(const fnn_conv_shape *sh) {
    const fnn_conv_geom *g = &sh->g;
    return g->r == 1 && g->s == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* The flat paths (conv_driver.inc's flat for the forward and grad-input, backward_weight_flat)
 * for `pass` 0 (forward), 1 (grad-input), 2 (grad-weight), stride 1: where
 * the GEMM's MR-row blocks would be mostly empty (few filters per group for
 * the forward and grad-weight, few channels per group for grad-input) and
 * the padded planes stay small.  Strides above 1: the forward only, by
 * phase planes (not depthwise, which has its direct kernels). */
static int fnn_conv_use_flat(const fnn_conv_shape *sh, int pass) {
    const fnn_conv_geom *g = &sh->g;
    const int64_t kg = sh->k / sh->groups;
    const int64_t hp = g->h + 2 * g->ph, wp = g->w + 2 * g->pw;
    if (g->sh != 1 || g->sw != 1) {
        /* the forward by phase planes, when every phase is some tap's: each
         * input element is then copied once and read by some tap */
        if (pass != 0 || fnn_conv_is_direct(sh) || g->dh != 1 || g->dw != 1 || g->r < g->sh || g->s < g->sw)
            return 0;
        const int64_t hq = (hp + g->sh - 1) / g->sh, wq = (wp + g->sw - 1) / g->sw;
        return g->c * g->sh * g->sw * hq * wq <= ((int64_t)1 << 20);
    }
    if (fnn_conv_is_1x1(sh)) return 0;
    if (pass == 1) {
        if (g->ph > (g->r - 1) * g->dh || g->pw > (g->s - 1) * g->dw) return 0;
        const int64_t qh = (g->r - 1) * g->dh - g->ph, qw = (g->s - 1) * g->dw - g->pw;
        return kg * (g->p + 2 * qh) * (g->q + 2 * qw) <= ((int64_t)1 << 20);
    }
    /* grad-weight: gemm_taps_dot reduces each (filter, tap) dot product
     * along the flat plane, which pays only for long planes when there are
     * many filters (the implicit GEMM does better on short ones) */
    if (pass == 2 && kg > 16 && (g->p - 1) * wp + g->q < 512) return 0;
    return g->c * hp * wp <= ((int64_t)1 << 20);
}

/* Grad-input by stride phases (backward_input_phases): strides above 1 (at
 * most FNN_CONV_MAX_PHASES phases), no dilation, dY's padded planes of a
 * group small. */
#define FNN_CONV_MAX_PHASES 8
static int fnn_conv_use_phases(const fnn_conv_shape *sh) {
    const fnn_conv_geom *g = &sh->g;
    if (g->sh == 1 && g->sw == 1) return 0;
    if (g->sh > FNN_CONV_MAX_PHASES || g->sw > FNN_CONV_MAX_PHASES || g->dh != 1 || g->dw != 1) return 0;
    const int64_t kg = sh->k / sh->groups;
    return kg * (g->p + g->r) * (g->q + g->s) <= ((int64_t)1 << 20);
}

/* Columns [*j0, *j1) of column block b of nb over npan micro-panels of nr
 * columns, n columns in all (see fnn_conv_panel_blocks). */
static void fnn_conv_block_cols(int64_t npan, int64_t nb, int64_t b, int64_t nr, int64_t n, int64_t *j0,
                                int64_t *j1) {
    *j0 = npan * b / nb * nr;
    *j1 = FNN_MIN(npan * (b + 1) / nb * nr, n);
}

/* Blocks of `npan` micro-panels: at most `maxp` each, and
 * (when there are enough panels) a count that `mult` times is a multiple of
 * nt, so the threads get equal shares.  Block b is panels
 * [npan*b/nb, npan*(b+1)/nb). */
static int64_t fnn_conv_panel_blocks(int64_t npan, int64_t maxp, int64_t mult, int nt) {
    int64_t nb = (npan + maxp - 1) / maxp;
    if (nb < 1) nb = 1;
    if (nt > 1 && (mult * nb) % nt) {
        int64_t want = nb;
        while ((mult * want) % nt && want < npan) want++;
        if ((mult * want) % nt == 0) nb = want;
    }
    return nb;
}

#define T float
#define DT f32
#include "conv/conv_driver.inc"
#undef T
#undef DT

#define T double
#define DT f64
#include "conv/conv_driver.inc"
#undef T
#undef DT
