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
 *    FNN_CAPI_FUNCTIONS and FNN_CAPI_ABI_MINOR goes up by one (once per
 *    batch of additions, marked by an "ABI 1.x" comment in the list).
 *    Existing entries never change position, name or signature.
 *    (Convolution and pooling were appended this way, as ABI 1.1; recurrent
 *    cells and layers, embedding and attention as ABI 1.2; masked attention
 *    as ABI 1.3.)
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
#define FNN_CAPI_ABI_MINOR 3
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
                        int64_t ldw, const double *bias, int act, double act_alpha, double *y, int64_t ldy))     \
    /* ---- ABI 1.1 ---- convolution and pooling (NCHW) */                                                       \
    X(int, conv2d_forward_f32, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,     \
                                int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,                \
                                int64_t dil_h, int64_t dil_w, int64_t groups, const float *x,                    \
                                const float *weight, const float *bias, float *y))                               \
    X(int, conv2d_forward_f64, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,     \
                                int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,                \
                                int64_t dil_h, int64_t dil_w, int64_t groups, const double *x,                   \
                                const double *weight, const double *bias, double *y))                            \
    X(int, conv2d_backward_input_f32, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r,         \
                                       int64_t s, int64_t stride_h, int64_t stride_w, int64_t pad_h,             \
                                       int64_t pad_w, int64_t dil_h, int64_t dil_w, int64_t groups,              \
                                       const float *grad_out, const float *weight, float *grad_x))               \
    X(int, conv2d_backward_input_f64, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r,         \
                                       int64_t s, int64_t stride_h, int64_t stride_w, int64_t pad_h,             \
                                       int64_t pad_w, int64_t dil_h, int64_t dil_w, int64_t groups,              \
                                       const double *grad_out, const double *weight, double *grad_x))            \
    X(int, conv2d_backward_weight_f32, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r,        \
                                        int64_t s, int64_t stride_h, int64_t stride_w, int64_t pad_h,            \
                                        int64_t pad_w, int64_t dil_h, int64_t dil_w, int64_t groups,             \
                                        const float *grad_out, const float *x, float *grad_weight,               \
                                        float *grad_bias))                                                       \
    X(int, conv2d_backward_weight_f64, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r,        \
                                        int64_t s, int64_t stride_h, int64_t stride_w, int64_t pad_h,            \
                                        int64_t pad_w, int64_t dil_h, int64_t dil_w, int64_t groups,             \
                                        const double *grad_out, const double *x, double *grad_weight,            \
                                        double *grad_bias))                                                      \
    X(int, max_pool2d_forward_f32, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,          \
                                    int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,            \
                                    const float *x, float *y, int32_t *argmax))                                  \
    X(int, max_pool2d_forward_f64, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,          \
                                    int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,            \
                                    const double *x, double *y, int32_t *argmax))                                \
    X(int, max_pool2d_backward_f32, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t p, int64_t q,           \
                                     const float *grad_out, const int32_t *argmax, float *grad_x))               \
    X(int, max_pool2d_backward_f64, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t p, int64_t q,           \
                                     const double *grad_out, const int32_t *argmax, double *grad_x))             \
    X(int, avg_pool2d_forward_f32, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,          \
                                    int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,            \
                                    const float *x, float *y))                                                   \
    X(int, avg_pool2d_forward_f64, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,          \
                                    int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,            \
                                    const double *x, double *y))                                                 \
    X(int, avg_pool2d_backward_f32, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,         \
                                     int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,           \
                                     const float *grad_out, float *grad_x))                                      \
    X(int, avg_pool2d_backward_f64, (int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,         \
                                     int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,           \
                                     const double *grad_out, double *grad_x))                                    \
    /* ---- ABI 1.2 ---- recurrent cells and layers, embedding, attention */                                     \
    X(int, rnn_tanh_cell_forward_f32, (int64_t rows, int64_t n, const float *pre, float *h))                     \
    X(int, rnn_tanh_cell_forward_f64, (int64_t rows, int64_t n, const double *pre, double *h))                   \
    X(int, rnn_tanh_cell_backward_f32, (int64_t rows, int64_t n, const float *grad_h, const float *h, float      \
                                        *grad_pre))                                                              \
    X(int, rnn_tanh_cell_backward_f64, (int64_t rows, int64_t n, const double *grad_h, const double *h, double   \
                                        *grad_pre))                                                              \
    X(int, lstm_cell_forward_f32, (int64_t rows, int64_t n, float *gates, const float *c_prev, float *c, float   \
                                   *h))                                                                          \
    X(int, lstm_cell_forward_f64, (int64_t rows, int64_t n, double *gates, const double *c_prev, double *c,      \
                                   double *h))                                                                   \
    X(int, lstm_cell_backward_f32, (int64_t rows, int64_t n, const float *gates, const float *c_prev, const      \
                                    float *c, const float *grad_h, const float *grad_c, float *grad_gates, float \
                                    *grad_c_prev))                                                               \
    X(int, lstm_cell_backward_f64, (int64_t rows, int64_t n, const double *gates, const double *c_prev, const    \
                                    double *c, const double *grad_h, const double *grad_c, double *grad_gates,   \
                                    double *grad_c_prev))                                                        \
    X(int, gru_cell_forward_f32, (int64_t rows, int64_t n, const float *gx, const float *gh, const float         \
                                  *h_prev, float *saved, float *h))                                              \
    X(int, gru_cell_forward_f64, (int64_t rows, int64_t n, const double *gx, const double *gh, const double      \
                                  *h_prev, double *saved, double *h))                                            \
    X(int, gru_cell_backward_f32, (int64_t rows, int64_t n, const float *saved, const float *h_prev, const float \
                                   *grad_h, float *grad_gx, float *grad_gh, float *grad_h_prev))                 \
    X(int, gru_cell_backward_f64, (int64_t rows, int64_t n, const double *saved, const double *h_prev, const     \
                                   double *grad_h, double *grad_gx, double *grad_gh, double *grad_h_prev))       \
    X(int, embedding_forward_f32, (int64_t n, int64_t num, int64_t dim, const int64_t *idx, const float *weight, \
                                   float *out))                                                                  \
    X(int, embedding_forward_f64, (int64_t n, int64_t num, int64_t dim, const int64_t *idx, const double         \
                                   *weight, double *out))                                                        \
    X(int, embedding_backward_f32, (int64_t n, int64_t num, int64_t dim, const int64_t *idx, const float         \
                                    *grad_out, int64_t padding_idx, float *grad_weight))                         \
    X(int, embedding_backward_f64, (int64_t n, int64_t num, int64_t dim, const int64_t *idx, const double        \
                                    *grad_out, int64_t padding_idx, double *grad_weight))                        \
    X(int, rnn_layer_forward_f32, (int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const float  \
                                   *x, const float *w_ih, const float *w_hh, const float *b_ih, const float      \
                                   *b_hh, const float *h0, const float *c0, float *y, float *cells, float        \
                                   *gates))                                                                      \
    X(int, rnn_layer_forward_f64, (int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const double \
                                   *x, const double *w_ih, const double *w_hh, const double *b_ih, const double  \
                                   *b_hh, const double *h0, const double *c0, double *y, double *cells, double   \
                                   *gates))                                                                      \
    X(int, rnn_layer_backward_f32, (int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const float \
                                    *x, const float *w_ih, const float *w_hh, const float *h0, const float *c0,  \
                                    const float *y, const float *cells, const float *gates, const float *grad_y, \
                                    const float *grad_hn, const float *grad_cn, float *grad_x, float *grad_w_ih, \
                                    float *grad_w_hh, float *grad_b_ih, float *grad_b_hh, float *grad_h0, float  \
                                    *grad_c0))                                                                   \
    X(int, rnn_layer_backward_f64, (int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const       \
                                    double *x, const double *w_ih, const double *w_hh, const double *h0, const   \
                                    double *c0, const double *y, const double *cells, const double *gates, const \
                                    double *grad_y, const double *grad_hn, const double *grad_cn, double         \
                                    *grad_x, double *grad_w_ih, double *grad_w_hh, double *grad_b_ih, double     \
                                    *grad_b_hh, double *grad_h0, double *grad_c0))                               \
    X(int, attention_forward_f32, (int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const float    \
                                   *k, const float *v, double scale, int causal, float *o, float *lse))          \
    X(int, attention_forward_f64, (int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const double  \
                                   *k, const double *v, double scale, int causal, double *o, double *lse))       \
    X(int, attention_backward_f32, (int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const float   \
                                    *k, const float *v, const float *o, const float *grad_out, const float *lse, \
                                    double scale, int causal, float *grad_q, float *grad_k, float *grad_v))      \
    X(int, attention_backward_f64, (int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const double \
                                    *k, const double *v, const double *o, const double *grad_out, const double   \
                                    *lse, double scale, int causal, double *grad_q, double *grad_k, double       \
                                    *grad_v))                                                                    \
    /* ---- ABI 1.3 ---- attention with masks */                                                                 \
    X(int, attention_masked_forward_f32, (int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const   \
                                          float *k, const float *v, const float *mask, int64_t stride_mask,      \
                                          const float *key_mask, int64_t heads, double scale, int causal, float  \
                                          *o, float *lse))                                                       \
    X(int, attention_masked_forward_f64, (int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const  \
                                          double *k, const double *v, const double *mask, int64_t stride_mask,   \
                                          const double *key_mask, int64_t heads, double scale, int causal,       \
                                          double *o, double *lse))                                               \
    X(int, attention_masked_backward_f32, (int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const  \
                                           float *k, const float *v, const float *mask, int64_t stride_mask,     \
                                           const float *key_mask, int64_t heads, const float *o, const float     \
                                           *grad_out, const float *lse, double scale, int causal, float *grad_q, \
                                           float *grad_k, float *grad_v))                                        \
    X(int, attention_masked_backward_f64, (int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const \
                                           double *k, const double *v, const double *mask, int64_t stride_mask,  \
                                           const double *key_mask, int64_t heads, const double *o, const double  \
                                           *grad_out, const double *lse, double scale, int causal, double        \
                                           *grad_q, double *grad_k, double *grad_v))
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
