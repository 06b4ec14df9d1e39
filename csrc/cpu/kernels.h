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

/* GEMM, in gemm/gemm_body.inc.  The epilogue applied to each output tile
 * while it is in registers: C = act(alpha * AB + beta * C + bias[col]);
 * beta == 0 never reads C; bias may be null; act < 0 is none, else an
 * FNN_ACT_* code with parameter act_alpha. */
#define FNN_GEMM_EPI_(T, DT)                                                   \
    typedef struct fnn_gemm_epi_##DT {                                         \
        T alpha, beta;                                                         \
        const T *bias;                                                         \
        int act;                                                               \
        T act_alpha;                                                           \
    } fnn_gemm_epi_##DT;
FNN_GEMM_EPI_(float, f32)
FNN_GEMM_EPI_(double, f64)
#undef FNN_GEMM_EPI_
/* Register blocking of an ISA's micro-kernel: an MR x NR tile of C. */
typedef struct fnn_gemm_info {
    int mr, nr;
} fnn_gemm_info;
typedef void fnn_gemm_info_f32_t(fnn_gemm_info *info);
typedef void fnn_gemm_info_f64_t(fnn_gemm_info *info);
#define FNN_GEMM_SIGS_(T, DT)                                                                       \
    typedef void fnn_gemm_ukr_##DT##_t(int64_t kc, const T *a, int64_t rs_a, int64_t cs_a,          \
                                       const T *b, int64_t rs_b, T *c, int64_t ldc, int64_t mr,      \
                                       int64_t nr, const fnn_gemm_epi_##DT *e);                     \
    typedef void fnn_gemm_pack_a_##DT##_t(int64_t mc, int64_t kc, const T *a, int64_t rs_a,          \
                                          int64_t cs_a, T *dst);                                    \
    typedef void fnn_gemm_pack_b_##DT##_t(int64_t kc, int64_t nc, const T *b, int64_t rs_b,          \
                                          int64_t cs_b, T *dst);                                    \
    typedef void fnn_gemm_ksum_##DT##_t(int64_t m, int64_t n, int64_t nparts, const T *parts,        \
                                        int64_t part_stride, T *c, int64_t ldc,                     \
                                        const fnn_gemm_epi_##DT *e);
typedef float fnn_gemm_peak_f32_t(int64_t iters);
typedef double fnn_gemm_peak_f64_t(int64_t iters);
FNN_GEMM_SIGS_(float, f32)
FNN_GEMM_SIGS_(double, f64)
#undef FNN_GEMM_SIGS_
#define FNN_GEMM_KERNELS(K) K(gemm_info, fnn_gemm_info) K(gemm_ukr, fnn_gemm_ukr) \
    K(gemm_pack_a, fnn_gemm_pack_a) K(gemm_pack_b, fnn_gemm_pack_b) K(gemm_ksum, fnn_gemm_ksum) \
    K(gemm_peak, fnn_gemm_peak)

/* Every kernel of every area: K(name, signature). */
#define FNN_KERNEL_LIST(K)                          \
    FNN_ACT_UNARY_OPS(FNN_ACT_UNARY_KERNELS_, K)    \
    FNN_ACT_ROW_OPS(FNN_ACT_ROW_KERNELS_, K)        \
    FNN_GEMM_KERNELS(K)

typedef struct fnn_kernel_table {
    const char *isa;
#define K(name, sig) sig##_f32_t *name##_f32; sig##_f64_t *name##_f64;
    FNN_KERNEL_LIST(K)
#undef K
} fnn_kernel_table;

/* The table of the ISA in use; set at import and by fnn_set_isa(). */
extern const fnn_kernel_table *fnn_active;

#endif
