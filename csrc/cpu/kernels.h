/* The per-ISA kernel table.  Each area lists its kernels once, as
 * X(name, signature); the declarations, the three tables, the kernel names of
 * fastnn.config()["kernels"] and the per-kernel tests all derive from these
 * lists.  A kernel `name` with signature `sig` exists for each element type
 * and ISA as fnn_<f32|f64>_<name>__<isa>, of C type <sig>_<f32|f64>_t. */
#ifndef FNN_KERNELS_H
#define FNN_KERNELS_H
#include "simd/fnn_common.h"

/* Elementwise y = f(x); alpha is the op's parameter (leaky_relu's slope). */
typedef void fnn_unary_fwd_f32_t(int64_t n, const float *x, float *y, float alpha);
typedef void fnn_unary_fwd_f64_t(int64_t n, const double *x, double *y, double alpha);
/* Elementwise dx = g * f'(.) from what the forward saved (x or y). */
typedef void fnn_unary_bwd_f32_t(int64_t n, const float *g, const float *saved, float *dx, float alpha);
typedef void fnn_unary_bwd_f64_t(int64_t n, const double *g, const double *saved, double *dx, double alpha);
/* Elementwise y = f(x) and d = f'(x), what the backward multiplies g by. */
typedef void fnn_unary_fwd_grad_f32_t(int64_t n, const float *x, float *y, float *d, float alpha);
typedef void fnn_unary_fwd_grad_f64_t(int64_t n, const double *x, double *y, double *d, double alpha);
/* Elementwise y = a + alpha b, or y = alpha a b (elem/elem_body.inc). */
typedef void fnn_binary_f32_t(int64_t n, const float *a, const float *b, float *y, float alpha);
typedef void fnn_binary_f64_t(int64_t n, const double *a, const double *b, double *y, double alpha);
/* Column sums of a block of at most FNN_SUM_ROWS_W columns (elem/elem_body.inc):
 * y[j] = beta y[j] + sum_r a[r*lda + j], r in order. */
#define FNN_SUM_ROWS_W 64
typedef void fnn_sum_rows_f32_t(int64_t rows, int64_t w, const float *a, int64_t lda, float *y, float beta);
typedef void fnn_sum_rows_f64_t(int64_t rows, int64_t w, const double *a, int64_t lda, double *y, double beta);
/* One contiguous row of a softmax-like op. */
typedef void fnn_row_fwd_f32_t(int64_t cols, const float *x, float *y);
typedef void fnn_row_fwd_f64_t(int64_t cols, const double *x, double *y);
typedef void fnn_row_bwd_f32_t(int64_t cols, const float *g, const float *y, float *dx);
typedef void fnn_row_bwd_f64_t(int64_t cols, const double *g, const double *y, double *dx);

/* Fused cross-entropy of one row of logits (act/cross_entropy_body.inc):
 * writes grad = (softmax(x) * sum(t) - t) * grad_scale, where t is the one-hot
 * row of class `target` (index form) or the given row of probabilities, and
 * returns the row's loss -sum(t * log_softmax(x)). */
typedef double fnn_ce_index_row_f32_t(int64_t cols, const float *x, int64_t target, float grad_scale, float *grad);
typedef double fnn_ce_index_row_f64_t(int64_t cols, const double *x, int64_t target, double grad_scale, double *grad);
typedef double fnn_ce_prob_row_f32_t(int64_t cols, const float *x, const float *t, float grad_scale, float *grad);
typedef double fnn_ce_prob_row_f64_t(int64_t cols, const double *x, const double *t, double grad_scale, double *grad);

/* Normalisation (norm/norm_body.inc).  Layer norm's forward works on
 * `rows` contiguous rows of `cols`, its backward on one row, adding the
 * row's parameter-gradient terms to dw_acc and db_acc.  Batch norm works on
 * one channel: `rows` segments of `width` contiguous elements, `ld`
 * elements apart. */
typedef void fnn_ln_fwd_rows_f32_t(int64_t rows, int64_t cols, const float *x, const float *w, const float *b,
                                   float eps, float *y, float *mean, float *rstd);
typedef void fnn_ln_fwd_rows_f64_t(int64_t rows, int64_t cols, const double *x, const double *w, const double *b,
                                   double eps, double *y, double *mean, double *rstd);
typedef void fnn_ln_bwd_row_f32_t(int64_t cols, const float *g, const float *x, const float *w, float mean,
                                  float rstd, float *dx, float *dw_acc, float *db_acc);
typedef void fnn_ln_bwd_row_f64_t(int64_t cols, const double *g, const double *x, const double *w, double mean,
                                  double rstd, double *dx, double *dw_acc, double *db_acc);
typedef void fnn_bn_stats_f32_t(int64_t rows, int64_t ld, int64_t width, const float *x, float *mean, float *var);
typedef void fnn_bn_stats_f64_t(int64_t rows, int64_t ld, int64_t width, const double *x, double *mean, double *var);
typedef void fnn_bn_affine_f32_t(int64_t rows, int64_t ld, int64_t width, const float *x, float scale, float shift, float *y);
typedef void fnn_bn_affine_f64_t(int64_t rows, int64_t ld, int64_t width, const double *x, double scale, double shift,
                                 double *y);
typedef void fnn_bn_bwd_f32_t(int64_t rows, int64_t ld, int64_t width, const float *g, const float *x, float mean,
                              float rstd, float weight, int training, float *dx, float *dw, float *db);
typedef void fnn_bn_bwd_f64_t(int64_t rows, int64_t ld, int64_t width, const double *g, const double *x, double mean,
                              double rstd, double weight, int training, double *dx, double *dw, double *db);

/* Optimizer updates (optim/optim_body.inc): one fused pass over n elements
 * of a parameter, its gradient and up to three state arrays. */
typedef struct fnn_optim_hyper {
    double lr, weight_decay;
    double momentum, dampening; /* SGD, RMSprop */
    double beta1, beta2, eps;   /* Adam, AdamW (eps also RMSprop) */
    double alpha;               /* RMSprop */
    double step_size;           /* Adam, AdamW: lr / (1 - beta1^step) */
    double bias_correction2_sqrt; /* Adam, AdamW: sqrt(1 - beta2^step) */
    int nesterov;               /* SGD */
    int first_step;             /* SGD: the momentum buffer starts as the gradient */
    int centered;               /* RMSprop */
} fnn_optim_hyper;
typedef void fnn_optim_step_f32_t(int64_t n, float *param, const float *grad, float *s0, float *s1, float *s2,
                                  const fnn_optim_hyper *h);
typedef void fnn_optim_step_f64_t(int64_t n, double *param, const double *grad, double *s0, double *s1, double *s2,
                                  const fnn_optim_hyper *h);

/* Recurrent cells and embedding (rnn/rnn_body.inc): one batch row of n
 * hidden units per call (gate blocks gs apart); see the body for the formulas.
 * The relu cell has the tanh cell's signatures (fnn_rnn_tanh_fwd/bwd). */
typedef void fnn_rnn_tanh_fwd_f32_t(int64_t n, const float *pre, float *h);
typedef void fnn_rnn_tanh_fwd_f64_t(int64_t n, const double *pre, double *h);
typedef void fnn_rnn_tanh_bwd_f32_t(int64_t n, const float *dh, const float *h, float *dpre);
typedef void fnn_rnn_tanh_bwd_f64_t(int64_t n, const double *dh, const double *h, double *dpre);
typedef void fnn_lstm_fwd_f32_t(int64_t n, int64_t gs, float *gates, const float *c_prev, float *c, float *h);
typedef void fnn_lstm_fwd_f64_t(int64_t n, int64_t gs, double *gates, const double *c_prev, double *c, double *h);
typedef void fnn_lstm_bwd_f32_t(int64_t n, int64_t gs, const float *gates, const float *c_prev, const float *c, const float *dh,
                                const float *dc, float *dgates, float *dc_prev);
typedef void fnn_lstm_bwd_f64_t(int64_t n, int64_t gs, const double *gates, const double *c_prev, const double *c,
                                const double *dh, const double *dc, double *dgates, double *dc_prev);
typedef void fnn_gru_fwd_f32_t(int64_t n, int64_t gs, const float *gx, const float *gh, const float *h_prev, float *saved,
                               float *h);
typedef void fnn_gru_fwd_f64_t(int64_t n, int64_t gs, const double *gx, const double *gh, const double *h_prev, double *saved,
                               double *h);
typedef void fnn_gru_bwd_f32_t(int64_t n, int64_t gs, const float *saved, const float *h_prev, const float *dh, float *dgx,
                               float *dgh, float *dh_prev);
typedef void fnn_gru_bwd_f64_t(int64_t n, int64_t gs, const double *saved, const double *h_prev, const double *dh, double *dgx,
                               double *dgh, double *dh_prev);
typedef void fnn_row_acc_f32_t(int64_t n, const float *src, float *dst);
typedef void fnn_row_acc_f64_t(int64_t n, const double *src, double *dst);

/* Attention (attn/attn_body.inc).  Forward of one block of m query rows
 * (q0: index of the first, for the causal mask) against all sk keys, with an
 * online softmax: o (m x d) and lse (m) = log-sum-exp of each scaled score
 * row; kt is K transposed (d x sk, row stride ldk).  Backward of one head,
 * recomputing the probabilities from lse.  bias (rows of the block, row
 * stride ldm) and kbias (sk) are additive masks, each NULL for none.  The
 * rows of q, k, v, o, go (o's gradient) and their gradients lie at the row
 * strides of fnn_attn_ld (>= d), so a head may be columns of a wider row.
 * work: fnn_attn_work_elems(d) elements of scratch. */
typedef struct {
    int64_t q, k, v, o, go, dq, dk, dv;
} fnn_attn_ld;
typedef void fnn_attn_fwd_block_f32_t(int64_t m, int64_t q0, int64_t sk, int64_t d, const fnn_attn_ld *ld,
                                      const float *q, const float *kt, int64_t ldk, const float *v,
                                      const float *bias, int64_t ldm, const float *kbias, float scale, int causal,
                                      float *o, float *lse, float *work);
typedef void fnn_attn_fwd_block_f64_t(int64_t m, int64_t q0, int64_t sk, int64_t d, const fnn_attn_ld *ld,
                                      const double *q, const double *kt, int64_t ldk, const double *v,
                                      const double *bias, int64_t ldm, const double *kbias, double scale, int causal,
                                      double *o, double *lse, double *work);
typedef void fnn_attn_bwd_head_f32_t(int64_t sq, int64_t sk, int64_t d, const fnn_attn_ld *ld, const float *q,
                                     const float *k, const float *v, const float *bias, int64_t ldm,
                                     const float *kbias, const float *o, const float *go, const float *lse,
                                     float scale, int causal, float *dq, float *dk, float *dv, float *work);
typedef void fnn_attn_bwd_head_f64_t(int64_t sq, int64_t sk, int64_t d, const fnn_attn_ld *ld, const double *q,
                                     const double *k, const double *v, const double *bias, int64_t ldm,
                                     const double *kbias, const double *o, const double *go, const double *lse,
                                     double scale, int causal, double *dq, double *dk, double *dv, double *work);
/* dst[p * ldd + j] = src[j * lds + p], j < nb, p < d: rows of K or V
 * transposed (attn_body.inc). */
typedef void fnn_attn_transpose_f32_t(int64_t nb, int64_t d, const float *src, int64_t lds, float *dst, int64_t ldd);
typedef void fnn_attn_transpose_f64_t(int64_t nb, int64_t d, const double *src, int64_t lds, double *dst,
                                      int64_t ldd);
/* Query and key block sizes of the attention kernels. */
#define FNN_ATTN_BR 64
#define FNN_ATTN_BC 64
/* Scratch elements one attention call needs for head dimension d (fwd and
 * bwd): K and V blocks transposed (2 d BC), two score tiles (2 BR BC), BR
 * running maxima and sums, and sq deltas (the bwd adds those separately). */
static inline int64_t fnn_attn_work_elems(int64_t d) {
    return 2 * d * FNN_ATTN_BC + 2 * FNN_ATTN_BR * FNN_ATTN_BC + 4 * FNN_ATTN_BR + 64;
}

/* Activations, in act/act_body.inc.  FNN_ACT_UNARY_OPS is also the order of
 * the FNN_ACT_* op codes of fastnn.h. */
#define FNN_ACT_UNARY_OPS(X, K) \
    X(K, relu) X(K, leaky_relu) X(K, sigmoid) X(K, tanh) X(K, gelu) X(K, gelu_tanh) X(K, silu) X(K, elu)
#define FNN_ACT_ROW_OPS(X, K) X(K, softmax) X(K, log_softmax)

#define FNN_ACT_UNARY_KERNELS_(K, op) \
    K(op##_fwd, fnn_unary_fwd) K(op##_bwd, fnn_unary_bwd) K(op##_fwd_grad, fnn_unary_fwd_grad)
#define FNN_ACT_ROW_KERNELS_(K, op) K(op##_fwd, fnn_row_fwd) K(op##_bwd, fnn_row_bwd)

/* GEMM, in gemm/gemm_body.inc.  The epilogue applied to each output tile
 * while it is in registers: C = act(alpha * AB + beta * C + bias[col]);
 * beta == 0 never reads C; bias may be null; act < 0 is none, else an
 * FNN_ACT_* code with parameter act_alpha.  trans: the tile computed is
 * that of C^T (a product run as B^T A^T), so the kernel stores element
 * (i, j) of its tile at c[j*ldc + i] and adds bias[i]: the same value
 * (one chain of multiply-adds, the same rounding of the epilogue).
 * mul (null: none; never with an act): the stored value is multiplied by
 * the element of mul that lies where it lies in C, mul + (c - mul_c) for
 * an element at c (mul has C's layout, mul_c is C's start). */
#define FNN_GEMM_EPI_(T, DT)                                                   \
    typedef struct fnn_gemm_epi_##DT {                                         \
        T alpha, beta;                                                         \
        const T *bias;                                                         \
        const T *mul, *mul_c;                                                  \
        int act;                                                               \
        int trans;                                                             \
        T act_alpha;                                                           \
    } fnn_gemm_epi_##DT;                                                       \
    /* C = alpha * AB + beta * C alone: no bias or activation */            \
    static inline fnn_gemm_epi_##DT fnn_gemm_epi_plain_##DT(T alpha, T beta) { \
        fnn_gemm_epi_##DT e = {.alpha = alpha, .beta = beta, .act = -1};       \
        return e;                                                              \
    }
FNN_GEMM_EPI_(float, f32)
FNN_GEMM_EPI_(double, f64)
#undef FNN_GEMM_EPI_
/* The GEMM context of an ISA and element type: register blocking of its
 * micro-kernels (an MR x NR tile of C for gemm_ukr, at most cm_mr x cm_nr
 * for gemm_ukr_cm and dot_mr x dot_nr for gemm_ukr_dot) and its cache
 * blocks: a KC x NR sliver of B for L1, an MC x KC block of A for L2, a
 * KC x NC panel of B.  Every blocked product (GEMM and convolution) takes
 * its blocks from here; a plan may lengthen KC, keeping the footprints
 * MC*KC and KC*NC. */
typedef struct fnn_gemm_info {
    int mr, nr;
    int cm_mr, cm_nr;
    int dot_mr, dot_nr;
    int kc, mc, nc;
    int kc_large;          /* k block of the products from 2^27 multiply-adds */
    int kc_packed_b;       /* k block of a B packed once for many products (the recurrent step's) */
    int kc_taps;           /* taps per k block of the flat convolutions (their weights are packed per block) */
    int nc_panels;         /* NR micro-panels in a B panel a thread packs for itself (convolution's items) */
    int mc_scatter;        /* rows of a product computed into a buffer, then scattered (col2im) */
    int pack_strided_at_k; /* see GEMM_PACK_STRIDED_AT_K in gemm_body.inc */
    int direct_at_step;    /* bytes; see GEMM_DIRECT_AT_STEP in gemm_body.inc */
} fnn_gemm_info;
/* The k block for k (> 0) summed in blocks of at most kc: equal blocks,
 * multiples of 8, rather than full ones and a short last one (784 in
 * blocks of at most 512: 392 + 392, not 512 + 272): each block is a pass
 * over C and a round of packing, worth it only when long.  kc itself when
 * k fits in one block.  A function of k and kc only, so the sums' grouping
 * is the shape's. */
static inline int64_t fnn_gemm_kblock(int64_t k, int64_t kc) {
    if (k <= kc) return kc;
    const int64_t nk = (k + kc - 1) / kc, b = (k + nk - 1) / nk;
    return (b + 7) / 8 * 8;
}
typedef void fnn_gemm_info_f32_t(fnn_gemm_info *info);
typedef void fnn_gemm_info_f64_t(fnn_gemm_info *info);
#define FNN_GEMM_SIGS_(T, DT)                                                                       \
    /* One register tile of C, the call of every GEMM micro-kernel: C (mr x nr at c, row stride   \
     * ldc) = epi(A B) over kc, A(i, p) = a[i*rs_a + p*cs_a], B(p, j) = b[p*rs_b + j*cs_b].  Each   \
     * kernel is for some layouts:                                                                \
     *   gemm_ukr: any A, B with cs_b 1 (a packed panel: rs_b NR);                                \
     *   gemm_ukr_stream: a full tile, A packed (rs_a 1, cs_a MR), B with cs_b 1; per k step p it \
     *     prefetches line p % 16 of row p / 16 of the block at pf (rows pf_rs apart; pf null: B's \
     *     rows) into L2 and, when bpk is set, stores B's row there as gemm_pack_b lays out a panel; \
     *   gemm_ukr_cm: A's columns contiguous (rs_a 1), mr x nr <= cm_mr x cm_nr, whole k;         \
     *   gemm_ukr_dot: A's rows and B's columns contiguous (cs_a 1, rs_b 1), mr x nr <= dot_mr x   \
     *     dot_nr, whole k.                                                                        \
     * bpk, pf and pf_rs are gemm_ukr_stream's alone.  boff: B's row p at b + boff[p] (gemm_ukr,  \
     * A packed, rs_b 0), or its column j at b + boff[j] (gemm_taps_dot's tiles): a convolution's   \
     * taps over a flat plane, read in place. */                                                  \
    typedef struct fnn_gemm_tile_##DT {                                                            \
        int64_t kc, mr, nr;                                                                        \
        const T *a;                                                                                \
        int64_t rs_a, cs_a;                                                                        \
        const T *b;                                                                                \
        int64_t rs_b, cs_b;                                                                        \
        T *c;                                                                                      \
        int64_t ldc;                                                                               \
        T *bpk;                                                                                    \
        const T *pf;                                                                               \
        int64_t pf_rs;                                                                             \
        const int64_t *boff;                                                                       \
    } fnn_gemm_tile_##DT;                                                                          \
    typedef void fnn_gemm_ukr_##DT##_t(const fnn_gemm_tile_##DT *t, const fnn_gemm_epi_##DT *e);  \
    typedef void fnn_gemm_pack_a_##DT##_t(int64_t mc, int64_t kc, const T *a, int64_t rs_a,          \
                                          int64_t cs_a, T *dst);                                    \
    typedef void fnn_gemm_pack_b_##DT##_t(int64_t kc, int64_t nc, const T *b, int64_t rs_b,          \
                                          int64_t cs_b, T *dst);                                    \
    /* Products over tap offsets (gemm_taps.inc): B's row t is x + off[t], read in place.      \
     * W (kb x ntaps) packed in register blocks of rows for gemm_taps_small */                      \
    typedef void fnn_gemm_taps_pack_##DT##_t(int64_t kb, int64_t ntaps, const T *w, T *dst);          \
    /* y[k*ldy + j] = sum_t w(k, t) x[off[t] + j], k < kb (few), j < ncols */                       \
    typedef void fnn_gemm_taps_small_##DT##_t(int64_t kb, int64_t ntaps, const int64_t *off,          \
                                              const T *w, const T *x, int64_t ncols, T *y, int64_t ldy); \
    /* out[k*ldo + t] += sum_j dy[k*lddy + j] x[off[t] + j] */                                      \
    typedef void fnn_gemm_taps_dot_##DT##_t(int64_t kb, int64_t ntaps, const int64_t *off,            \
                                            const T *dy, int64_t lddy, const T *x, int64_t ncols,    \
                                            T *out, int64_t ldo);                                    \
    typedef void fnn_gemm_ksum_##DT##_t(int64_t m, int64_t n, int64_t nparts, const T *parts,        \
                                        int64_t part_stride, T *c, int64_t ldc,                     \
                                        const fnn_gemm_epi_##DT *e);
FNN_GEMM_SIGS_(float, f32)
FNN_GEMM_SIGS_(double, f64)
#undef FNN_GEMM_SIGS_
#define FNN_GEMM_KERNELS(K) K(gemm_info, fnn_gemm_info) K(gemm_ukr, fnn_gemm_ukr) \
    K(gemm_ukr_stream, fnn_gemm_ukr)                                                        \
    K(gemm_ukr_cm, fnn_gemm_ukr) K(gemm_ukr_dot, fnn_gemm_ukr) K(gemm_pack_a, fnn_gemm_pack_a) K(gemm_pack_b, fnn_gemm_pack_b) K(gemm_ksum, fnn_gemm_ksum) \
    K(gemm_taps_pack, fnn_gemm_taps_pack) K(gemm_taps_small, fnn_gemm_taps_small)   \
    K(gemm_taps_dot, fnn_gemm_taps_dot)

/* Convolution (conv/conv_body.inc).  The geometry of one group of one image:
 * input c x h x w (c = C/groups), kernel r x s, output p x q, strides,
 * paddings, dilations.  The packing kernels write GEMM B panels of nr
 * columns (the ISA's NR), zero-padded, in gemm_pack_b's layout
 * (dst[panel*kc*nr + row*nr + col]). */
typedef struct fnn_conv_geom {
    int64_t c, h, w, r, s, p, q;
    int64_t sh, sw, ph, pw, dh, dw;
} fnn_conv_geom;
#define FNN_CONV_SIGS_(T, DT)                                                                            \
    /* B(row, col) = im2col(x)[p0 + row, j0 + col]: rows (c, r, s), columns (oh, ow) */                 \
    typedef void fnn_conv_pack_b_im2col_##DT##_t(const fnn_conv_geom *g, const T *x, int64_t p0,         \
                                                 int64_t kc, int64_t j0, int64_t nc, int64_t nr, T *dst); \
    /* B(row, col) = im2col(x)[j0 + col, p0 + row]: rows (oh, ow), columns (c, r, s) */                 \
    typedef void fnn_conv_pack_b_im2col_t_##DT##_t(const fnn_conv_geom *g, const T *x, int64_t p0,       \
                                                   int64_t kc, int64_t j0, int64_t nc, int64_t nr, T *dst); \
    /* dx += col2im(col): col rows p0.. (c, r, s), columns j0.. (oh, ow), ld ldcol */                   \
    typedef void fnn_conv_col2im_add_##DT##_t(const fnn_conv_geom *g, const T *col, int64_t ldcol,      \
                                              int64_t p0, int64_t rows, int64_t j0, int64_t ncols, T *dx); \
    /* Depthwise (one input channel per group), one plane: y = bias + corr(x, w) */                     \
    typedef void fnn_conv_dw_fwd_plane_##DT##_t(const fnn_conv_geom *g, const T *x, const T *w, T bias,  \
                                                T *y);                                                  \
    /* dx += corr^T(dy, w) for one plane (dx must hold the sum so far) */                               \
    typedef void fnn_conv_dw_bwd_input_plane_##DT##_t(const fnn_conv_geom *g, const T *dy, const T *w,  \
                                                      T *dx);                                           \
    /* dw[r*s] += sum over the plane of dy * shifted x */                                               \
    typedef void fnn_conv_dw_bwd_weight_plane_##DT##_t(const fnn_conv_geom *g, const T *dy, const T *x, \
                                                       T *dw);                                          \
    /* sum of n contiguous elements, in a fixed order */                                                \
    typedef T fnn_sum_##DT##_t(int64_t n, const T *x);                                                  \
    /* Pooling of one plane (pool/pool_body.inc); g->r x g->s window, c ignored.                        \
     * argmax holds h*w-plane indices (int32). */                                                       \
    typedef void fnn_max_pool_fwd_plane_##DT##_t(const fnn_conv_geom *g, const T *x, T *y, int32_t *arg); \
    typedef void fnn_max_pool_bwd_plane_##DT##_t(const fnn_conv_geom *g, const T *dy, const int32_t *arg, \
                                                 T *dx);                                                \
    typedef void fnn_avg_pool_fwd_plane_##DT##_t(const fnn_conv_geom *g, const T *x, T *y);             \
    typedef void fnn_avg_pool_bwd_plane_##DT##_t(const fnn_conv_geom *g, const T *dy, T *dx);
FNN_CONV_SIGS_(float, f32)
FNN_CONV_SIGS_(double, f64)
#undef FNN_CONV_SIGS_
#define FNN_CONV_KERNELS(K)                                                                     \
    K(conv_pack_b_im2col, fnn_conv_pack_b_im2col) K(conv_pack_b_im2col_t, fnn_conv_pack_b_im2col_t) \
    K(conv_col2im_add, fnn_conv_col2im_add) K(conv_dw_fwd_plane, fnn_conv_dw_fwd_plane)          \
    K(conv_dw_bwd_input_plane, fnn_conv_dw_bwd_input_plane)                                     \
    K(conv_dw_bwd_weight_plane, fnn_conv_dw_bwd_weight_plane) K(sum, fnn_sum)
#define FNN_POOL_KERNELS(K)                                                                     \
    K(max_pool_fwd_plane, fnn_max_pool_fwd_plane) K(max_pool_bwd_plane, fnn_max_pool_bwd_plane) \
    K(avg_pool_fwd_plane, fnn_avg_pool_fwd_plane) K(avg_pool_bwd_plane, fnn_avg_pool_bwd_plane)

/* Every kernel of every area: K(name, signature). */
#define FNN_KERNEL_LIST(K)                          \
    FNN_ACT_UNARY_OPS(FNN_ACT_UNARY_KERNELS_, K)    \
    FNN_ACT_ROW_OPS(FNN_ACT_ROW_KERNELS_, K)        \
    FNN_CE_KERNELS(K)                               \
    FNN_ELEM_KERNELS(K)                             \
    FNN_NORM_KERNELS(K)                             \
    FNN_OPTIM_KERNELS(K)                            \
    FNN_GEMM_KERNELS(K)                             \
    FNN_CONV_KERNELS(K)                             \
    FNN_POOL_KERNELS(K)                             \
    FNN_RNN_KERNELS(K)                              \
    FNN_ATTN_KERNELS(K)

/* Cross-entropy, in act/cross_entropy_body.inc. */
#define FNN_CE_KERNELS(K) K(cross_entropy_index_row, fnn_ce_index_row) K(cross_entropy_prob_row, fnn_ce_prob_row)
/* Elementwise arithmetic, in elem/elem_body.inc. */
#define FNN_ELEM_KERNELS(K) K(add, fnn_binary) K(mul, fnn_binary) K(sum_rows, fnn_sum_rows)
/* Normalisation, in norm/norm_body.inc. */
#define FNN_NORM_KERNELS(K)                                                            \
    K(layer_norm_fwd_rows, fnn_ln_fwd_rows) K(layer_norm_bwd_row, fnn_ln_bwd_row)       \
    K(batch_norm_stats, fnn_bn_stats) K(batch_norm_affine, fnn_bn_affine) K(batch_norm_bwd, fnn_bn_bwd)
/* Optimizer updates, in optim/optim_body.inc. */
#define FNN_OPTIM_KERNELS(K)                                                           \
    K(sgd_step, fnn_optim_step) K(adam_step, fnn_optim_step) K(adamw_step, fnn_optim_step) \
    K(rmsprop_step, fnn_optim_step)

/* Recurrent cells and embedding, in rnn/rnn_body.inc. */
#define FNN_RNN_KERNELS(K)                                                               \
    K(rnn_tanh_cell_fwd, fnn_rnn_tanh_fwd) K(rnn_tanh_cell_bwd, fnn_rnn_tanh_bwd)          \
    K(rnn_relu_cell_fwd, fnn_rnn_tanh_fwd) K(rnn_relu_cell_bwd, fnn_rnn_tanh_bwd)          \
    K(lstm_cell_fwd, fnn_lstm_fwd) K(lstm_cell_bwd, fnn_lstm_bwd)                        \
    K(gru_cell_fwd, fnn_gru_fwd) K(gru_cell_bwd, fnn_gru_bwd) K(embedding_bwd_row, fnn_row_acc)
/* Attention, in attn/attn_body.inc. */
#define FNN_ATTN_KERNELS(K)                                                                                     \
    K(attn_fwd_block, fnn_attn_fwd_block) K(attn_bwd_head, fnn_attn_bwd_head) K(attn_transpose, fnn_attn_transpose)

typedef struct fnn_kernel_table {
    const char *isa;
#define K(name, sig) sig##_f32_t *name##_f32; sig##_f64_t *name##_f64;
    FNN_KERNEL_LIST(K)
#undef K
} fnn_kernel_table;

/* The table of the ISA in use; set at import and by fnn_set_isa(). */
extern const fnn_kernel_table *fnn_active;

#endif
