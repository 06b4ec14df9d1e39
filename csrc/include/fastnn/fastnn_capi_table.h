/* fastnn_capi_table.h: the layout of fastnn's C API table (no Python here).
 *
 * fastnn._C exports one `const fnn_capi_t` as the PyCapsule
 * "fastnn._C._C_API".  Include fastnn_capi.h, not this file, to use it: it
 * fetches the table (import_fastnn()) and lets you call the kernels by their
 * fastnn.h names.
 *
 * ABI rules
 *  - The first three fields (abi_major, abi_minor, size) never move.
 *  - The table is append-only: a new function is added at the END of
 *    FNN_CAPI_FUNCTIONS and FNN_CAPI_ABI_MINOR goes up by one.  Existing
 *    entries never change position, name or signature.  (Convolution and
 *    pooling, still to come, will be appended this way.)
 *  - Changing or removing an entry bumps FNN_CAPI_ABI_MAJOR; a module built
 *    against another major then refuses to import (ImportError).
 *  - `size` is sizeof(fnn_capi_t) of the fastnn that exports the table: a
 *    module built against a newer minor (a bigger table) refuses to import
 *    into an older fastnn; a module built against an older minor works with
 *    any newer one.
 *
 * FNN_CAPI_FUNCTIONS(X) calls X(ret, name, params) once per entry, in table
 * order; entry `name` is the fastnn.h function fnn_<name>.  The table, the
 * list of names in fastnn._C and the tests derive from this one list.
 */
#ifndef FASTNN_CAPI_TABLE_H
#define FASTNN_CAPI_TABLE_H
#include <stddef.h>
#include <stdint.h>

#include "fastnn/fastnn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FNN_CAPI_ABI_MAJOR 1
#define FNN_CAPI_ABI_MINOR 0
#define FNN_CAPI_CAPSULE_NAME "fastnn._C._C_API"

/* clang-format off */
#define FNN_CAPI_FUNCTIONS(X)                                                                                    \
    /* ---- ABI 1.0 (new entries go at the end) ---- threads and ISA */                                          \
    X(int, get_num_threads, (void))                                                                              \
    X(int, set_num_threads, (int n))                                                                             \
    X(int, get_isa, (void))                                                                                      \
    X(int, best_isa, (void))                                                                                     \
    X(int, set_isa, (int isa))                                                                                   \
    X(const char *, isa_name, (int isa))                                                                         \
    /* activations */                                                                                            \
    X(int, act_forward_f32, (int op, int64_t n, const float *x, float *y, float alpha))                          \
    X(int, act_forward_f64, (int op, int64_t n, const double *x, double *y, double alpha))                       \
    X(int, act_backward_f32, (int op, int64_t n, const float *grad_out, const float *saved, float *grad_in,      \
                              float alpha))                                                                      \
    X(int, act_backward_f64, (int op, int64_t n, const double *grad_out, const double *saved, double *grad_in,   \
                              double alpha))                                                                     \
    X(int, row_forward_f32, (int op, int64_t rows, int64_t cols, const float *x, float *y))                      \
    X(int, row_forward_f64, (int op, int64_t rows, int64_t cols, const double *x, double *y))                    \
    X(int, row_backward_f32, (int op, int64_t rows, int64_t cols, const float *grad_out, const float *y,         \
                              float *grad_in))                                                                   \
    X(int, row_backward_f64, (int op, int64_t rows, int64_t cols, const double *grad_out, const double *y,       \
                              double *grad_in))                                                                  \
    /* cross-entropy */                                                                                          \
    X(int, cross_entropy_index_f32, (int64_t rows, int64_t cols, const float *logits, const int64_t *target,     \
                                     int reduction, float *grad, double *row_loss, double *loss))                \
    X(int, cross_entropy_index_f64, (int64_t rows, int64_t cols, const double *logits, const int64_t *target,    \
                                     int reduction, double *grad, double *row_loss, double *loss))               \
    X(int, cross_entropy_prob_f32, (int64_t rows, int64_t cols, const float *logits, const float *target,        \
                                    int reduction, float *grad, double *row_loss, double *loss))                 \
    X(int, cross_entropy_prob_f64, (int64_t rows, int64_t cols, const double *logits, const double *target,      \
                                    int reduction, double *grad, double *row_loss, double *loss))                \
    /* normalisation */                                                                                          \
    X(int, layer_norm_forward_f32, (int64_t rows, int64_t cols, const float *x, const float *weight,             \
                                    const float *bias, double eps, float *y, float *mean, float *rstd))          \
    X(int, layer_norm_forward_f64, (int64_t rows, int64_t cols, const double *x, const double *weight,           \
                                    const double *bias, double eps, double *y, double *mean, double *rstd))      \
    X(int, layer_norm_backward_f32, (int64_t rows, int64_t cols, const float *grad_out, const float *x,          \
                                     const float *weight, const float *mean, const float *rstd, float *grad_x,   \
                                     float *grad_weight, float *grad_bias))                                      \
    X(int, layer_norm_backward_f64, (int64_t rows, int64_t cols, const double *grad_out, const double *x,        \
                                     const double *weight, const double *mean, const double *rstd,               \
                                     double *grad_x, double *grad_weight, double *grad_bias))                    \
    X(int, batch_norm_forward_f32, (int64_t n, int64_t c, int64_t s, const float *x, const float *weight,        \
                                    const float *bias, int training, double momentum, double eps,                \
                                    float *running_mean, float *running_var, float *y, float *save_mean,         \
                                    float *save_rstd))                                                           \
    X(int, batch_norm_forward_f64, (int64_t n, int64_t c, int64_t s, const double *x, const double *weight,      \
                                    const double *bias, int training, double momentum, double eps,               \
                                    double *running_mean, double *running_var, double *y, double *save_mean,     \
                                    double *save_rstd))                                                          \
    X(int, batch_norm_backward_f32, (int64_t n, int64_t c, int64_t s, const float *grad_out, const float *x,     \
                                     const float *weight, const float *save_mean, const float *save_rstd,        \
                                     int training, float *grad_x, float *grad_weight, float *grad_bias))         \
    X(int, batch_norm_backward_f64, (int64_t n, int64_t c, int64_t s, const double *grad_out, const double *x,   \
                                     const double *weight, const double *save_mean, const double *save_rstd,     \
                                     int training, double *grad_x, double *grad_weight, double *grad_bias))      \
    /* optimizer updates */                                                                                      \
    X(int, sgd_step_f32, (int64_t n, float *param, const float *grad, float *momentum_buffer, double lr,         \
                          double momentum, double dampening, double weight_decay, int nesterov, int first_step)) \
    X(int, sgd_step_f64, (int64_t n, double *param, const double *grad, double *momentum_buffer, double lr,      \
                          double momentum, double dampening, double weight_decay, int nesterov, int first_step)) \
    X(int, adam_step_f32, (int64_t n, float *param, const float *grad, float *exp_avg, float *exp_avg_sq,        \
                           int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay))\
    X(int, adam_step_f64, (int64_t n, double *param, const double *grad, double *exp_avg, double *exp_avg_sq,    \
                           int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay))\
    X(int, adamw_step_f32, (int64_t n, float *param, const float *grad, float *exp_avg, float *exp_avg_sq,       \
                            int64_t step, double lr, double beta1, double beta2, double eps,                     \
                            double weight_decay))                                                                \
    X(int, adamw_step_f64, (int64_t n, double *param, const double *grad, double *exp_avg, double *exp_avg_sq,   \
                            int64_t step, double lr, double beta1, double beta2, double eps,                     \
                            double weight_decay))                                                                \
    X(int, rmsprop_step_f32, (int64_t n, float *param, const float *grad, float *square_avg,                     \
                              float *momentum_buffer, float *grad_avg, double lr, double alpha, double eps,      \
                              double weight_decay, double momentum, int centered))                               \
    X(int, rmsprop_step_f64, (int64_t n, double *param, const double *grad, double *square_avg,                  \
                              double *momentum_buffer, double *grad_avg, double lr, double alpha, double eps,    \
                              double weight_decay, double momentum, int centered))                               \
    /* GEMM and the fully connected layer */                                                                     \
    X(int, sgemm, (char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,       \
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc))                 \
    X(int, dgemm, (char transa, char transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,     \
                   int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc))              \
    X(int, gemm_batched_f32, (char transa, char transb, int64_t batch, int64_t m, int64_t n, int64_t k,          \
                              float alpha, const float *a, int64_t lda, int64_t stride_a, const float *b,        \
                              int64_t ldb, int64_t stride_b, float beta, float *c, int64_t ldc,                  \
                              int64_t stride_c))                                                                 \
    X(int, gemm_batched_f64, (char transa, char transb, int64_t batch, int64_t m, int64_t n, int64_t k,          \
                              double alpha, const double *a, int64_t lda, int64_t stride_a, const double *b,     \
                              int64_t ldb, int64_t stride_b, double beta, double *c, int64_t ldc,                \
                              int64_t stride_c))                                                                 \
    X(int, linear_f32, (int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, const float *w,            \
                        int64_t ldw, const float *bias, int act, float act_alpha, float *y, int64_t ldy))        \
    X(int, linear_f64, (int64_t m, int64_t n, int64_t k, const double *x, int64_t ldx, const double *w,          \
                        int64_t ldw, const double *bias, int act, double act_alpha, double *y, int64_t ldy))
/* clang-format on */

typedef struct fnn_capi_t {
    unsigned int abi_major; /* FNN_CAPI_ABI_MAJOR of the exporting fastnn */
    unsigned int abi_minor; /* FNN_CAPI_ABI_MINOR of the exporting fastnn */
    size_t size;            /* sizeof(fnn_capi_t) of the exporting fastnn */
#define FNN_CAPI_MEMBER_(ret, name, params) ret(*name) params;
    FNN_CAPI_FUNCTIONS(FNN_CAPI_MEMBER_)
#undef FNN_CAPI_MEMBER_
} fnn_capi_t;

#ifdef __cplusplus
}
#endif
#endif
