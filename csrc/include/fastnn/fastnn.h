/* fastnn.h: fastnn's kernels for C callers.
 *
 * Conventions, for every function below:
 *  - Arrays are dense and row-major; matrices take an explicit leading
 *    dimension (elements between consecutive rows).
 *  - Functions return FNN_OK (0) or a negative FNN_E* code.  On an error
 *    nothing is written.  They never print, abort or touch Python.
 *  - Kernels run on fastnn's OpenMP pool with fnn_get_num_threads() threads
 *    (serially when called from inside another OpenMP parallel region).
 *    Results do not depend on the thread count.
 *  - Calls are thread-safe: several threads may call kernels at once, on
 *    distinct outputs.  fnn_set_isa() must not run while a kernel runs.
 *  - Outputs may be the same array as an elementwise input (in place), but
 *    must not otherwise overlap an input.
 *
 * In a C extension, do not link to fastnn: include fastnn_capi.h, call
 * import_fastnn() once (module init) and call these by name.  They reach
 * fastnn._C through a versioned, append-only table of function pointers
 * (fnn_capi_t, fastnn_capi_table.h; PyCapsule "fastnn._C._C_API").  Every
 * function declared here is in that table, in the order declared here; an
 * `ABI 1.x` line heads the functions that version of the table added.
 * Kernels added later are appended at the end of this file under a new
 * `ABI 1.x` line (the ABI minor bump), so modules built against an older
 * fastnn keep working.  Cython code uses `from fastnn.capi cimport ...`;
 * fastnn.get_include() holds the headers and the .pxd.
 *
 * This file is the one source of the C API: tools/gen_capi.py makes from its
 * prototypes, #define'd constants and ABI lines the table (FNN_CAPI_FUNCTIONS
 * and the ABI version in fastnn_capi_table.h), the names of fastnn_capi.h,
 * fastnn/capi.pxd and the declarations fastnn._C compiles against.  Run it
 * after changing a prototype, a constant or an ABI line here.
 */
#ifndef FASTNN_H
#define FASTNN_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. */
#define FNN_OK 0
#define FNN_EINVAL (-1)    /* a null pointer, a negative size, a leading dimension too small */
#define FNN_ENOMEM (-2)    /* workspace allocation failed */
#define FNN_ENOTSUP (-3)   /* ISA or operation not available on this CPU/build */
#define FNN_EOVERFLOW (-4) /* sizes whose product overflows int64 */

/* ISAs, best last. */
#define FNN_ISA_ID_GENERIC 0
#define FNN_ISA_ID_AVX2 1
#define FNN_ISA_ID_AVX512 2

/* Activation op codes (the order of FNN_ACT_UNARY_OPS in the sources). */
#define FNN_ACT_RELU 0
#define FNN_ACT_LEAKY_RELU 1
#define FNN_ACT_SIGMOID 2
#define FNN_ACT_TANH 3
#define FNN_ACT_GELU 4      /* exact: x Phi(x) */
#define FNN_ACT_GELU_TANH 5 /* tanh approximation */
#define FNN_ACT_SILU 6      /* x sigmoid(x) */
#define FNN_ACT_ELU 7       /* x > 0 ? x : alpha (exp(x) - 1) */
#define FNN_ACT_COUNT 8

/* Row op codes. */
#define FNN_ROW_SOFTMAX 0
#define FNN_ROW_LOG_SOFTMAX 1

/* Loss reductions. */
#define FNN_REDUCTION_NONE 0
#define FNN_REDUCTION_MEAN 1
#define FNN_REDUCTION_SUM 2

/* ==== ABI 1.0 ============================================================ */
/* ---- threads and ISA ------------------------------------------------ */
/* Threads a kernel called now would use. */
int fnn_get_num_threads(void);
/* Store n (>= 1) as the thread count; FNN_EINVAL otherwise. */
int fnn_set_num_threads(int n);
/* The ISA in use, as FNN_ISA_ID_*, and the best one the CPU and build allow. */
int fnn_get_isa(void);
int fnn_best_isa(void);
/* Switch to an ISA (FNN_ENOTSUP when the CPU lacks it). */
int fnn_set_isa(int isa);
const char *fnn_isa_name(int isa);

/* ---- activations ---------------------------------------------------- */
/* y[i] = f(x[i]) for i < n.  alpha is leaky_relu's negative slope and elu's
 * alpha (ignored by the other ops).  y may equal x. */
int fnn_act_forward_f32(int op, int64_t n, const float *x, float *y, float alpha);
int fnn_act_forward_f64(int op, int64_t n, const double *x, double *y, double alpha);
/* grad_in[i] = grad_out[i] * f'(.) where saved is what the op's backward
 * needs: x for relu, leaky_relu, gelu, gelu_tanh, silu, elu; y = f(x) for
 * sigmoid, tanh. */
int fnn_act_backward_f32(int op, int64_t n, const float *grad_out, const float *saved,
                         float *grad_in, float alpha);
int fnn_act_backward_f64(int op, int64_t n, const double *grad_out, const double *saved,
                         double *grad_in, double alpha);
/* Softmax or log-softmax of each of `rows` contiguous rows of `cols`. */
int fnn_row_forward_f32(int op, int64_t rows, int64_t cols, const float *x, float *y);
int fnn_row_forward_f64(int op, int64_t rows, int64_t cols, const double *x, double *y);
/* Backward from the forward's output y (softmax: probabilities; log_softmax:
 * log-probabilities). */
int fnn_row_backward_f32(int op, int64_t rows, int64_t cols, const float *grad_out,
                         const float *y, float *grad_in);
int fnn_row_backward_f64(int op, int64_t rows, int64_t cols, const double *grad_out,
                         const double *y, double *grad_in);

/* ---- cross-entropy (fused log-softmax + NLL + gradient) ------------- */
/* logits: rows x cols.  Index form: target[r] in [0, cols) is row r's class
 * (FNN_EINVAL, nothing written, when one is out of range).  Probability form:
 * target is rows x cols of class probabilities.
 * row_loss[r] = -sum_j t[r,j] log_softmax(logits[r])_j (rows doubles, always
 * written); *loss = their sum, or their mean for FNN_REDUCTION_MEAN (for
 * FNN_REDUCTION_NONE, the sum).  grad = d(*loss)/d logits
 * = (softmax * sum(t) - t), divided by rows for the mean. */
int fnn_cross_entropy_index_f32(int64_t rows, int64_t cols, const float *logits, const int64_t *target,
                                int reduction, float *grad, double *row_loss, double *loss);
int fnn_cross_entropy_index_f64(int64_t rows, int64_t cols, const double *logits, const int64_t *target,
                                int reduction, double *grad, double *row_loss, double *loss);
int fnn_cross_entropy_prob_f32(int64_t rows, int64_t cols, const float *logits, const float *target,
                               int reduction, float *grad, double *row_loss, double *loss);
int fnn_cross_entropy_prob_f64(int64_t rows, int64_t cols, const double *logits, const double *target,
                               int reduction, double *grad, double *row_loss, double *loss);

/* ---- normalisation ------------------------------------------------- */
/* Layer norm over the last dimension (cols) of rows x cols:
 * y = (x - mean) * rstd * weight + bias, rstd = 1 / sqrt(biased var + eps);
 * mean and rstd (rows each) are saved for the backward. */
int fnn_layer_norm_forward_f32(int64_t rows, int64_t cols, const float *x, const float *weight, const float *bias,
                               double eps, float *y, float *mean, float *rstd);
int fnn_layer_norm_forward_f64(int64_t rows, int64_t cols, const double *x, const double *weight,
                               const double *bias, double eps, double *y, double *mean, double *rstd);
/* grad_x (rows x cols), grad_weight and grad_bias (cols, overwritten). */
int fnn_layer_norm_backward_f32(int64_t rows, int64_t cols, const float *grad_out, const float *x,
                                const float *weight, const float *mean, const float *rstd, float *grad_x,
                                float *grad_weight, float *grad_bias);
int fnn_layer_norm_backward_f64(int64_t rows, int64_t cols, const double *grad_out, const double *x,
                                const double *weight, const double *mean, const double *rstd, double *grad_x,
                                double *grad_weight, double *grad_bias);
/* Batch norm of x laid out (n, c, s): c channels, s contiguous elements per
 * channel and sample (s = 1 for (N, C), H*W for NCHW).  weight and bias (c)
 * may be NULL (1 and 0).  training != 0: normalise with the batch's mean and
 * biased variance, and if running_mean/running_var are given update them as
 * PyTorch does: r = (1 - momentum) r + momentum stat, with the unbiased
 * variance (needs n*s >= 2).  training == 0: normalise with the running
 * statistics.  The mean and rstd used are written to save_mean/save_rstd. */
int fnn_batch_norm_forward_f32(int64_t n, int64_t c, int64_t s, const float *x, const float *weight,
                               const float *bias, int training, double momentum, double eps, float *running_mean,
                               float *running_var, float *y, float *save_mean, float *save_rstd);
int fnn_batch_norm_forward_f64(int64_t n, int64_t c, int64_t s, const double *x, const double *weight,
                               const double *bias, int training, double momentum, double eps, double *running_mean,
                               double *running_var, double *y, double *save_mean, double *save_rstd);
/* From the forward's save_mean/save_rstd and the same training flag:
 * grad_x (n, c, s), grad_weight and grad_bias (c, overwritten). */
int fnn_batch_norm_backward_f32(int64_t n, int64_t c, int64_t s, const float *grad_out, const float *x,
                                const float *weight, const float *save_mean, const float *save_rstd, int training,
                                float *grad_x, float *grad_weight, float *grad_bias);
int fnn_batch_norm_backward_f64(int64_t n, int64_t c, int64_t s, const double *grad_out, const double *x,
                                const double *weight, const double *save_mean, const double *save_rstd,
                                int training, double *grad_x, double *grad_weight, double *grad_bias);

/* ---- optimizer updates (one fused pass, PyTorch's arithmetic) --------- */
/* SGD: g = grad + weight_decay param; with momentum != 0:
 * buf = first_step ? g : momentum buf + (1 - dampening) g,
 * g = nesterov ? g + momentum buf : buf; then param -= lr g.
 * momentum_buffer may be NULL when momentum == 0. */
int fnn_sgd_step_f32(int64_t n, float *param, const float *grad, float *momentum_buffer, double lr, double momentum,
                     double dampening, double weight_decay, int nesterov, int first_step);
int fnn_sgd_step_f64(int64_t n, double *param, const double *grad, double *momentum_buffer, double lr,
                     double momentum, double dampening, double weight_decay, int nesterov, int first_step);
/* Adam, step t >= 1 (the count after this step): g = grad + weight_decay param;
 * m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g^2;
 * param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). */
int fnn_adam_step_f32(int64_t n, float *param, const float *grad, float *exp_avg, float *exp_avg_sq, int64_t step,
                      double lr, double beta1, double beta2, double eps, double weight_decay);
int fnn_adam_step_f64(int64_t n, double *param, const double *grad, double *exp_avg, double *exp_avg_sq,
                      int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay);
/* AdamW: param *= 1 - lr weight_decay, then Adam's update without decay in g. */
int fnn_adamw_step_f32(int64_t n, float *param, const float *grad, float *exp_avg, float *exp_avg_sq, int64_t step,
                       double lr, double beta1, double beta2, double eps, double weight_decay);
int fnn_adamw_step_f64(int64_t n, double *param, const double *grad, double *exp_avg, double *exp_avg_sq,
                       int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay);
/* RMSprop: g = grad + weight_decay param; sq = alpha sq + (1 - alpha) g^2;
 * avg = sqrt(sq - ga^2) + eps with ga = lerp(ga, g, 1 - alpha) when centered,
 * else sqrt(sq) + eps; with momentum > 0: buf = momentum buf + g / avg,
 * param -= lr buf; else param -= lr g / avg.  momentum_buffer (momentum > 0)
 * and grad_avg (centered) may otherwise be NULL; states start at zero. */
int fnn_rmsprop_step_f32(int64_t n, float *param, const float *grad, float *square_avg, float *momentum_buffer,
                         float *grad_avg, double lr, double alpha, double eps, double weight_decay, double momentum,
                         int centered);
int fnn_rmsprop_step_f64(int64_t n, double *param, const double *grad, double *square_avg, double *momentum_buffer,
                         double *grad_avg, double lr, double alpha, double eps, double weight_decay, double momentum,
                         int centered);

/* ---- GEMM ------------------------------------------------------------ */
/* C = alpha * op(A) op(B) + beta * C, row-major (cblas_?gemm with
 * CblasRowMajor).  op(X) = X for trans 'N'/'n', X^T for 'T'/'t' (or 'C'/'c').
 * op(A) is m x k: A is stored m x k (lda >= max(1, k)) for 'N', k x m
 * (lda >= max(1, m)) for 'T'.  op(B) is k x n: B is stored k x n
 * (ldb >= max(1, n)) for 'N', n x k (ldb >= max(1, k)) for 'T'.  C is m x n,
 * ldc >= max(1, n), and must not overlap A or B.
 * beta == 0 does not read C (NaN or garbage in C is overwritten); k == 0 or
 * alpha == 0 gives beta * C without reading A or B.  Pointers may be null
 * only for empty matrices.
 * Errors (nothing is written): FNN_EINVAL for a bad trans character, a
 * negative size, a null pointer, a leading dimension too small;
 * FNN_EOVERFLOW when a matrix's extent overflows int64; FNN_ENOMEM when the
 * packing workspace cannot be allocated.
 * Results are bit-identical at any thread count (same ISA). */
int fnn_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
int fnn_dgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
              int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc);
/* `batch` products as above, matrix i of each operand at a + i*stride_a,
 * b + i*stride_b, c + i*stride_c (strides in elements, >= 0; a stride of 0
 * reuses one matrix, which is allowed for A and B only: outputs must be
 * distinct, stride_c >= (m-1)*ldc + n when batch > 1). */
int fnn_gemm_batched_f32(char transa, char transb, int64_t batch, int64_t m, int64_t n, int64_t k,
                         float alpha, const float *a, int64_t lda, int64_t stride_a, const float *b,
                         int64_t ldb, int64_t stride_b, float beta, float *c, int64_t ldc,
                         int64_t stride_c);
int fnn_gemm_batched_f64(char transa, char transb, int64_t batch, int64_t m, int64_t n, int64_t k,
                         double alpha, const double *a, int64_t lda, int64_t stride_a, const double *b,
                         int64_t ldb, int64_t stride_b, double beta, double *c, int64_t ldc,
                         int64_t stride_c);

/* Fully connected layer: y = act(x w^T + bias), x m x k (ldx >= max(1, k)),
 * w n x k (PyTorch's (out_features, in_features), ldw >= max(1, k)), bias n
 * elements or null, y m x n (ldy >= max(1, n), not overlapping x, w or bias).
 * act is FNN_ACT_NONE or an FNN_ACT_* code (act_alpha: leaky_relu's slope),
 * applied to each output tile in the GEMM's epilogue (no second pass).
 * Errors as fnn_sgemm, and FNN_EINVAL for an unknown act. */
#define FNN_ACT_NONE (-1) /* fnn_linear_*: no activation */
int fnn_linear_f32(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, const float *w,
                   int64_t ldw, const float *bias, int act, float act_alpha, float *y, int64_t ldy);
int fnn_linear_f64(int64_t m, int64_t n, int64_t k, const double *x, int64_t ldx, const double *w,
                   int64_t ldw, const double *bias, int act, double act_alpha, double *y, int64_t ldy);

/* ==== ABI 1.1: convolution and pooling ================================== */
/* ---- convolution (NCHW) ---------------------------------------------- */
/* 2-D cross-correlation as PyTorch's conv2d: x (n, c, h, w), weight
 * (k, c/groups, r, s), bias (k) or NULL, y (n, k, p, q) with
 * p = (h + 2 pad_h - dil_h (r - 1) - 1) / stride_h + 1 (q likewise).
 * Sizes >= 1 (n >= 0), strides and dilations >= 1, paddings >= 0, groups
 * dividing c and k, the dilated kernel no larger than the padded input;
 * otherwise FNN_EINVAL and nothing is written.  Outputs must not overlap
 * inputs.  Workspace: per thread one packed GEMM panel set (an MC x KC block
 * of A, a KC x NC panel of B; grad-input also one block of at most
 * max(256, r s) x NC columns), never an im2col matrix.  Results are
 * bit-identical at any thread count (same ISA). */
int fnn_conv2d_forward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                           int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dil_h,
                           int64_t dil_w, int64_t groups, const float *x, const float *weight, const float *bias,
                           float *y);
int fnn_conv2d_forward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                           int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dil_h,
                           int64_t dil_w, int64_t groups, const double *x, const double *weight,
                           const double *bias, double *y);
/* grad_x (n, c, h, w) from grad_out (n, k, p, q) and weight. */
int fnn_conv2d_backward_input_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                  int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                  int64_t dil_h, int64_t dil_w, int64_t groups, const float *grad_out,
                                  const float *weight, float *grad_x);
int fnn_conv2d_backward_input_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                  int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                  int64_t dil_h, int64_t dil_w, int64_t groups, const double *grad_out,
                                  const double *weight, double *grad_x);
/* grad_weight (k, c/groups, r, s) and/or grad_bias (k) (either may be NULL;
 * both overwritten) from grad_out (n, k, p, q) and x (x unused, may be NULL,
 * when grad_weight is NULL). */
int fnn_conv2d_backward_weight_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                   int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                   int64_t dil_h, int64_t dil_w, int64_t groups, const float *grad_out,
                                   const float *x, float *grad_weight, float *grad_bias);
int fnn_conv2d_backward_weight_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                   int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                   int64_t dil_h, int64_t dil_w, int64_t groups, const double *grad_out,
                                   const double *x, double *grad_weight, double *grad_bias);

/* ---- pooling (NCHW) --------------------------------------------------- */
/* Window kh x kw, strides >= 1, paddings at most half the window (as
 * PyTorch); output p = (h + 2 pad_h - kh) / stride_h + 1 (q likewise).
 * Max pooling: padding never wins, NaN propagates; argmax (n, c, p, q) gets
 * the index ih * w + iw of each maximum within its plane.  Average pooling
 * counts padding as zeros (divides by kh * kw, PyTorch's
 * count_include_pad=True); a window equal to the whole unpadded plane is
 * global average pooling. */
int fnn_max_pool2d_forward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                               int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, const float *x,
                               float *y, int32_t *argmax);
int fnn_max_pool2d_forward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                               int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, const double *x,
                               double *y, int32_t *argmax);
/* grad_x (n, c, h, w) = scatter-add of grad_out (n, c, p, q) at argmax;
 * FNN_EINVAL (nothing written) if an index is outside [0, h w). */
int fnn_max_pool2d_backward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t p, int64_t q,
                                const float *grad_out, const int32_t *argmax, float *grad_x);
int fnn_max_pool2d_backward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t p, int64_t q,
                                const double *grad_out, const int32_t *argmax, double *grad_x);
int fnn_avg_pool2d_forward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                               int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, const float *x,
                               float *y);
int fnn_avg_pool2d_forward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                               int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, const double *x,
                               double *y);
int fnn_avg_pool2d_backward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                const float *grad_out, float *grad_x);
int fnn_avg_pool2d_backward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                const double *grad_out, double *grad_x);

/* ==== ABI 1.2: recurrent cells and layers, embedding, attention ========= */
/* ---- recurrent cells (one time step, rows = batch, n = hidden) ------ */
/* PyTorch's gate order and formulas; pre-activations include both biases.
 * RNN: h = tanh(pre), pre rows x n (h may equal pre).  Backward:
 * grad_pre = grad_h (1 - h^2). */
int fnn_rnn_tanh_cell_forward_f32(int64_t rows, int64_t n, const float *pre, float *h);
int fnn_rnn_tanh_cell_forward_f64(int64_t rows, int64_t n, const double *pre, double *h);
int fnn_rnn_tanh_cell_backward_f32(int64_t rows, int64_t n, const float *grad_h, const float *h, float *grad_pre);
int fnn_rnn_tanh_cell_backward_f64(int64_t rows, int64_t n, const double *grad_h, const double *h, double *grad_pre);
/* LSTM: gates rows x 4n (i, f, g, o) holds the pre-activations on entry and
 * the activated gates on return; c = f c_prev + i g, h = o tanh(c).  c_prev
 * may be NULL (zeros).  Backward from the activated gates: grad_gates
 * (rows x 4n, pre-activation gradients) and grad_c_prev (may equal grad_c;
 * grad_c may be NULL: zeros). */
int fnn_lstm_cell_forward_f32(int64_t rows, int64_t n, float *gates, const float *c_prev, float *c, float *h);
int fnn_lstm_cell_forward_f64(int64_t rows, int64_t n, double *gates, const double *c_prev, double *c, double *h);
int fnn_lstm_cell_backward_f32(int64_t rows, int64_t n, const float *gates, const float *c_prev, const float *c,
                               const float *grad_h, const float *grad_c, float *grad_gates, float *grad_c_prev);
int fnn_lstm_cell_backward_f64(int64_t rows, int64_t n, const double *gates, const double *c_prev, const double *c,
                               const double *grad_h, const double *grad_c, double *grad_gates,
                               double *grad_c_prev);
/* GRU: gx = x W_ih^T + b_ih and gh = h_prev W_hh^T + b_hh (rows x 3n, r z n);
 * saved (rows x 4n: r, z, n, gh_n) for the backward; h_prev may be NULL.
 * Backward: grad_gx, grad_gh (rows x 3n) and the direct part of grad_h_prev
 * (grad_h z; the caller adds grad_gh W_hh). */
int fnn_gru_cell_forward_f32(int64_t rows, int64_t n, const float *gx, const float *gh, const float *h_prev,
                             float *saved, float *h);
int fnn_gru_cell_forward_f64(int64_t rows, int64_t n, const double *gx, const double *gh, const double *h_prev,
                             double *saved, double *h);
int fnn_gru_cell_backward_f32(int64_t rows, int64_t n, const float *saved, const float *h_prev, const float *grad_h,
                              float *grad_gx, float *grad_gh, float *grad_h_prev);
int fnn_gru_cell_backward_f64(int64_t rows, int64_t n, const double *saved, const double *h_prev,
                              const double *grad_h, double *grad_gx, double *grad_gh, double *grad_h_prev);

/* ---- embedding ------------------------------------------------------ */
/* out[i] = weight[idx[i]] (rows of dim); FNN_EINVAL, nothing written, when
 * an index is outside [0, num).  Backward adds grad_out[i] into
 * grad_weight[idx[i]] (skipping padding_idx; -1 for none), in index order
 * per row at any thread count. */
int fnn_embedding_forward_f32(int64_t n, int64_t num, int64_t dim, const int64_t *idx, const float *weight,
                              float *out);
int fnn_embedding_forward_f64(int64_t n, int64_t num, int64_t dim, const int64_t *idx, const double *weight,
                              double *out);
int fnn_embedding_backward_f32(int64_t n, int64_t num, int64_t dim, const int64_t *idx, const float *grad_out,
                               int64_t padding_idx, float *grad_weight);
int fnn_embedding_backward_f64(int64_t n, int64_t num, int64_t dim, const int64_t *idx, const double *grad_out,
                               int64_t padding_idx, double *grad_weight);

/* ---- recurrent layers over a sequence (one layer, one direction) ------ */
/* Time-major: x (steps, batch, in), y (steps, batch, hid) = h_t.  Weights
 * as PyTorch's: w_ih (G hid, in), w_hh (G hid, hid), b_ih and b_hh (G hid,
 * may be NULL), G = 1 (tanh, relu), 4 (LSTM: i f g o) or 3 (GRU: r z n).
 * h0, c0 (batch, hid) may be NULL (zeros).  Saved for the backward: LSTM
 * cells (steps, batch, hid) = c_t and gates (steps, batch, 4 hid) =
 * activated gates; GRU gates (steps, batch, 4 hid) = r, z, n, W_hn h + b_hn;
 * tanh and relu save nothing but y (cells and gates may be NULL).
 * FNN_RNN_REVERSE or'ed into mode runs the recurrence from the last step to
 * the first (the reverse direction of a bidirectional layer): h0 feeds step
 * steps-1 and y, cells and gates stay indexed by time, so y[0] is the final
 * state. */
#define FNN_RNN_MODE_TANH 0
#define FNN_RNN_MODE_LSTM 1
#define FNN_RNN_MODE_GRU 2
#define FNN_RNN_MODE_RELU 3
#define FNN_RNN_REVERSE 16 /* or'ed into mode: run from the last step to the first */
int fnn_rnn_layer_forward_f32(int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const float *x,
                              const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh,
                              const float *h0, const float *c0, float *y, float *cells, float *gates);
int fnn_rnn_layer_forward_f64(int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const double *x,
                              const double *w_ih, const double *w_hh, const double *b_ih, const double *b_hh,
                              const double *h0, const double *c0, double *y, double *cells, double *gates);
/* Backward through time from grad_y (steps, batch, hid; NULL: zeros) and the
 * gradients of the final state grad_hn, grad_cn (NULL: zeros).  grad_x is
 * overwritten (NULL: not computed, for an input that needs no gradient);
 * grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh are added to (the
 * bias ones may be NULL); grad_h0 (and for LSTM grad_c0) are overwritten. */
int fnn_rnn_layer_backward_f32(int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const float *x,
                               const float *w_ih, const float *w_hh, const float *h0, const float *c0,
                               const float *y, const float *cells, const float *gates, const float *grad_y,
                               const float *grad_hn, const float *grad_cn, float *grad_x, float *grad_w_ih,
                               float *grad_w_hh, float *grad_b_ih, float *grad_b_hh, float *grad_h0,
                               float *grad_c0);
int fnn_rnn_layer_backward_f64(int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const double *x,
                               const double *w_ih, const double *w_hh, const double *h0, const double *c0,
                               const double *y, const double *cells, const double *gates, const double *grad_y,
                               const double *grad_hn, const double *grad_cn, double *grad_x, double *grad_w_ih,
                               double *grad_w_hh, double *grad_b_ih, double *grad_b_hh, double *grad_h0,
                               double *grad_c0);

/* ---- attention -------------------------------------------------------- */
/* softmax(scale q k^T) v for bh independent heads: q, o (bh, sq, d), k, v
 * (bh, sk, d), contiguous.  causal: key j hidden from query i when j > i.
 * lse (bh, sq) receives each score row's log-sum-exp for the backward.
 * Blocked with an online softmax: no sq x sk array is ever formed. */
int fnn_attention_forward_f32(int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const float *k,
                              const float *v, double scale, int causal, float *o, float *lse);
int fnn_attention_forward_f64(int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const double *k,
                              const double *v, double scale, int causal, double *o, double *lse);
/* Gradients w.r.t. q, k, v from the forward's o and lse (recomputes the
 * probabilities block by block). */
int fnn_attention_backward_f32(int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const float *k,
                               const float *v, const float *o, const float *grad_out, const float *lse, double scale,
                               int causal, float *grad_q, float *grad_k, float *grad_v);
int fnn_attention_backward_f64(int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const double *k,
                               const double *v, const double *o, const double *grad_out, const double *lse,
                               double scale, int causal, double *grad_q, double *grad_k, double *grad_v);

/* ==== ABI 1.3: attention with masks ===================================== */
/* The same with masks, applied tile by tile (still no sq x sk array):
 * mask (NULL for none) is added to the scaled scores, mask[h * stride_mask
 * + i * sk + j] for head h (stride_mask 0: one sq x sk mask for every head,
 * else >= sq * sk); key_mask (NULL for none) adds key_mask[(h / heads) * sk
 * + j] (one row per batch element of `heads` heads; heads divides bh).
 * Boolean masks are -inf where a key is hidden.  A query whose keys are all
 * hidden gets a zero output row (as PyTorch's fused attention), lse -inf
 * and no gradient. */
int fnn_attention_masked_forward_f32(int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const float *k,
                                     const float *v, const float *mask, int64_t stride_mask, const float *key_mask,
                                     int64_t heads, double scale, int causal, float *o, float *lse);
int fnn_attention_masked_forward_f64(int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q,
                                     const double *k, const double *v, const double *mask, int64_t stride_mask,
                                     const double *key_mask, int64_t heads, double scale, int causal, double *o,
                                     double *lse);
int fnn_attention_masked_backward_f32(int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const float *k,
                                      const float *v, const float *mask, int64_t stride_mask, const float *key_mask,
                                      int64_t heads, const float *o, const float *grad_out, const float *lse,
                                      double scale, int causal, float *grad_q, float *grad_k, float *grad_v);
int fnn_attention_masked_backward_f64(int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q,
                                      const double *k, const double *v, const double *mask, int64_t stride_mask,
                                      const double *key_mask, int64_t heads, const double *o,
                                      const double *grad_out, const double *lse, double scale, int causal,
                                      double *grad_q, double *grad_k, double *grad_v);

/* ==== ABI 1.4: elementwise add, strided copy ============================ */
/* y = a + alpha * b over n elements, one fused multiply-add each (alpha 1
 * or -1: the correctly rounded sum or difference).  y may be a or b, but
 * must not otherwise overlap them. */
int fnn_add_f32(int64_t n, const float *a, const float *b, double alpha, float *y);
int fnn_add_f64(int64_t n, const double *a, const double *b, double alpha, double *y);
/* dst[i] = src[i] for every index i of an ndim-dimensional array of `shape`
 * (1 <= ndim <= FNN_COPY_MAX_DIMS), with strides in elements (any sign; a
 * source stride may be 0).  dst's elements must be distinct and must not
 * overlap src.  Copies rows of the last dimension; a row that is unit-stride
 * on both sides is one memcpy. */
#define FNN_COPY_MAX_DIMS 8
int fnn_copy_strided_f32(int ndim, const int64_t *shape, const float *src, const int64_t *src_strides, float *dst,
                         const int64_t *dst_strides);
int fnn_copy_strided_f64(int ndim, const int64_t *shape, const double *src, const int64_t *src_strides, double *dst,
                         const int64_t *dst_strides);

/* ==== ABI 1.5: column sums =============================================== */
/* y[j] = beta * y[j] + sum over r = 0..rows-1 of a[r*lda + j], j < cols
 * (a bias gradient: the column sums of an output gradient).  Each sum adds
 * the rows in order, so the result is the same at any thread count and is
 * NumPy's a.sum(axis=0) for a C-contiguous a; beta 0 does not read y.
 * lda >= cols; y must not overlap a.  FNN_EOVERFLOW if rows * lda does not
 * fit in int64_t. */
int fnn_sum_rows_f32(int64_t rows, int64_t cols, const float *a, int64_t lda, double beta, float *y);
int fnn_sum_rows_f64(int64_t rows, int64_t cols, const double *a, int64_t lda, double beta, double *y);

/* ==== ABI 1.6: attention on strided heads =============================== */
/* Masked attention (as fnn_attention_masked_*) on b batch elements of
 * `heads` heads, each tensor in any layout with unit stride along d: head h
 * of batch element n of q has its row i at q[n * stride_q[0] + h *
 * stride_q[1] + i * stride_q[2]], and likewise k, v, o and the gradients
 * with their own three strides (elements, >= 0; the rows of a written
 * tensor at least d apart).  So heads can be read from and written to the
 * (batch, seq, heads * d) rows of a projection in place: q, k and v at
 * offsets 0, E and 2 E of a (b, s, 3 E) array with strides {s * 3 E, d,
 * 3 E}.  A written tensor's elements must be distinct and must not overlap
 * what is read.  Head t = n * heads + h reads mask[t * stride_mask + i * sk
 * + j] and key_mask[n * sk + j]; lse is contiguous (b, heads, sq).  The
 * results are the same as the contiguous functions' on the same values. */
int fnn_attention_strided_forward_f32(int64_t b, int64_t heads, int64_t sq, int64_t sk, int64_t d, const float *q,
                                      const int64_t *stride_q, const float *k, const int64_t *stride_k,
                                      const float *v, const int64_t *stride_v, const float *mask,
                                      int64_t stride_mask, const float *key_mask, double scale, int causal, float *o,
                                      const int64_t *stride_o, float *lse);
int fnn_attention_strided_forward_f64(int64_t b, int64_t heads, int64_t sq, int64_t sk, int64_t d, const double *q,
                                      const int64_t *stride_q, const double *k, const int64_t *stride_k,
                                      const double *v, const int64_t *stride_v, const double *mask,
                                      int64_t stride_mask, const double *key_mask, double scale, int causal,
                                      double *o, const int64_t *stride_o, double *lse);
int fnn_attention_strided_backward_f32(int64_t b, int64_t heads, int64_t sq, int64_t sk, int64_t d, const float *q,
                                       const int64_t *stride_q, const float *k, const int64_t *stride_k,
                                       const float *v, const int64_t *stride_v, const float *mask,
                                       int64_t stride_mask, const float *key_mask, const float *o,
                                       const int64_t *stride_o, const float *grad_out,
                                       const int64_t *stride_grad_out, const float *lse, double scale, int causal,
                                       float *grad_q, const int64_t *stride_grad_q, float *grad_k,
                                       const int64_t *stride_grad_k, float *grad_v, const int64_t *stride_grad_v);
int fnn_attention_strided_backward_f64(int64_t b, int64_t heads, int64_t sq, int64_t sk, int64_t d,
                                       const double *q, const int64_t *stride_q, const double *k,
                                       const int64_t *stride_k, const double *v, const int64_t *stride_v,
                                       const double *mask, int64_t stride_mask, const double *key_mask,
                                       const double *o, const int64_t *stride_o, const double *grad_out,
                                       const int64_t *stride_grad_out, const double *lse, double scale, int causal,
                                       double *grad_q, const int64_t *stride_grad_q, double *grad_k,
                                       const int64_t *stride_grad_k, double *grad_v, const int64_t *stride_grad_v);

/* ==== ABI 1.7: activation with its derivative, products by it ========== */
/* y[i] = f(x[i]) as fnn_act_forward, and dydx[i] = f'(x[i]): what the op's
 * backward multiplies grad_out by, so grad_out[i] * dydx[i] is
 * fnn_act_backward's grad_in[i] bit for bit for every finite grad_out (but
 * relu's +0 where it may be -0).  For gelu, gelu_tanh and silu the two come
 * from the same transcendentals, for little more than the forward costs, and
 * a backward from dydx (fnn_mul) is one pass over memory.  y and dydx must
 * not overlap each other; y may equal x. */
int fnn_act_forward_grad_f32(int op, int64_t n, const float *x, float *y, float *dydx, float alpha);
int fnn_act_forward_grad_f64(int op, int64_t n, const double *x, double *y, double *dydx, double alpha);
/* y = (a * b) * alpha over n elements (alpha 1: the correctly rounded
 * product).  y may be a or b, but must not otherwise overlap them. */
int fnn_mul_f32(int64_t n, const float *a, const float *b, double alpha, float *y);
int fnn_mul_f64(int64_t n, const double *a, const double *b, double alpha, double *y);
/* C = (alpha op(A) op(B)) * D elementwise, D m x n with C's row stride ldc:
 * the gradient through an activation whose derivative D the forward saved
 * (fnn_act_forward_grad), multiplied in the product's epilogue rather than
 * in a pass of its own.  Each element is fnn_mul's product of fnn_sgemm's
 * (beta 0), bit for bit.  D must not overlap C.  Errors as fnn_sgemm. */
int fnn_gemm_mul_f32(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                     int64_t lda, const float *b, int64_t ldb, const float *d, float *c, int64_t ldc);
int fnn_gemm_mul_f64(char transa, char transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                     int64_t lda, const double *b, int64_t ldb, const double *d, double *c, int64_t ldc);

#ifdef __cplusplus
}
#endif
#endif
