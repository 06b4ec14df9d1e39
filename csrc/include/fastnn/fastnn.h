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

#ifdef __cplusplus
}
#endif
#endif
