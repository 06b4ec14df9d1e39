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
 * import_fastnn() once (module init) and call these by name.
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
#define FNN_ACT_COUNT 6

/* Row op codes. */
#define FNN_ROW_SOFTMAX 0
#define FNN_ROW_LOG_SOFTMAX 1

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
/* y[i] = f(x[i]) for i < n.  alpha is leaky_relu's negative slope (ignored by
 * the other ops).  y may equal x. */
int fnn_act_forward_f32(int op, int64_t n, const float *x, float *y, float alpha);
int fnn_act_forward_f64(int op, int64_t n, const double *x, double *y, double alpha);
/* grad_in[i] = grad_out[i] * f'(.) where saved is what the op's backward
 * needs: x for relu, leaky_relu, gelu, gelu_tanh; y = f(x) for sigmoid, tanh. */
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
#define FNN_ACT_NONE (-1)
int fnn_linear_f32(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, const float *w,
                   int64_t ldw, const float *bias, int act, float act_alpha, float *y, int64_t ldy);
int fnn_linear_f64(int64_t m, int64_t n, int64_t k, const double *x, int64_t ldx, const double *w,
                   int64_t ldw, const double *bias, int act, double act_alpha, double *y, int64_t ldy);

#ifdef __cplusplus
}
#endif
#endif
