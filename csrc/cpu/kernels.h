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
/* One contiguous row of a softmax-like op. */
typedef void fnn_row_fwd_f32_t(int64_t cols, const float *x, float *y);
typedef void fnn_row_fwd_f64_t(int64_t cols, const double *x, double *y);
typedef void fnn_row_bwd_f32_t(int64_t cols, const float *g, const float *y, float *dx);
typedef void fnn_row_bwd_f64_t(int64_t cols, const double *g, const double *y, double *dx);

/* Activations, in act/act_body.inc.  FNN_ACT_UNARY_OPS is also the order of
 * the FNN_ACT_* op codes of fastnn.h. */
#define FNN_ACT_UNARY_OPS(X, K) X(K, relu) X(K, leaky_relu) X(K, sigmoid) X(K, tanh) X(K, gelu) X(K, gelu_tanh)
#define FNN_ACT_ROW_OPS(X, K) X(K, softmax) X(K, log_softmax)

#define FNN_ACT_UNARY_KERNELS_(K, op) K(op##_fwd, fnn_unary_fwd) K(op##_bwd, fnn_unary_bwd)
#define FNN_ACT_ROW_KERNELS_(K, op) K(op##_fwd, fnn_row_fwd) K(op##_bwd, fnn_row_bwd)

/* Every kernel of every area: K(name, signature). */
#define FNN_KERNEL_LIST(K)                          \
    FNN_ACT_UNARY_OPS(FNN_ACT_UNARY_KERNELS_, K)    \
    FNN_ACT_ROW_OPS(FNN_ACT_ROW_KERNELS_, K)

typedef struct fnn_kernel_table {
    const char *isa;
#define K(name, sig) sig##_f32_t *name##_f32; sig##_f64_t *name##_f64;
    FNN_KERNEL_LIST(K)
#undef K
} fnn_kernel_table;

/* The table of the ISA in use; set at import and by fnn_set_isa(). */
extern const fnn_kernel_table *fnn_active;

#endif
