# fastnn/capi.pxd: fastnn's C API for Cython.
#
#     from fastnn.capi cimport import_fastnn, fnn_sgemm
#     import_fastnn()          # once, at module level
#
# Build the module with include_dirs=[fastnn.get_include()] (the headers);
# Cython finds this file through the installed fastnn package (or pass
# include_path=[fastnn.get_include()], which holds a copy).  Do not link to
# fastnn.  These are the functions of fastnn/fastnn.h, called through the
# table that fastnn._C exports (fastnn/fastnn_capi.h); all are nogil and
# return 0 or a negative FNN_E* code (except fnn_isa_name).  Keep in the
# order of FNN_CAPI_FUNCTIONS (a test checks it).

from libc.stdint cimport int32_t, int64_t

cdef extern from "fastnn/fastnn_capi.h":
    # Fetch and check the table (needs the GIL: call it at module level);
    # raises ImportError on an ABI mismatch.
    int import_fastnn() except -1

cdef extern from "fastnn/fastnn_capi.h" nogil:
    # ABI of the header this module is compiled against
    int FNN_CAPI_ABI_MAJOR
    int FNN_CAPI_ABI_MINOR

    # error codes
    int FNN_OK
    int FNN_EINVAL
    int FNN_ENOMEM
    int FNN_ENOTSUP
    int FNN_EOVERFLOW

    # ISAs
    int FNN_ISA_ID_GENERIC
    int FNN_ISA_ID_AVX2
    int FNN_ISA_ID_AVX512

    # activation, row-op and reduction codes
    int FNN_ACT_RELU
    int FNN_ACT_LEAKY_RELU
    int FNN_ACT_SIGMOID
    int FNN_ACT_TANH
    int FNN_ACT_GELU
    int FNN_ACT_GELU_TANH
    int FNN_ACT_SILU
    int FNN_ACT_ELU
    int FNN_ACT_COUNT
    int FNN_ACT_NONE  # fnn_linear_*: no activation
    int FNN_ROW_SOFTMAX
    int FNN_ROW_LOG_SOFTMAX
    int FNN_REDUCTION_NONE
    int FNN_REDUCTION_MEAN
    int FNN_REDUCTION_SUM

    # threads and ISA
    int fnn_get_num_threads()
    int fnn_set_num_threads(int n)
    int fnn_get_isa()
    int fnn_best_isa()
    int fnn_set_isa(int isa)
    const char *fnn_isa_name(int isa)

    # activations
    int fnn_act_forward_f32(int op, int64_t n, const float *x, float *y, float alpha)
    int fnn_act_forward_f64(int op, int64_t n, const double *x, double *y, double alpha)
    int fnn_act_backward_f32(int op, int64_t n, const float *grad_out, const float *saved, float *grad_in,
                             float alpha)
    int fnn_act_backward_f64(int op, int64_t n, const double *grad_out, const double *saved, double *grad_in,
                             double alpha)
    int fnn_row_forward_f32(int op, int64_t rows, int64_t cols, const float *x, float *y)
    int fnn_row_forward_f64(int op, int64_t rows, int64_t cols, const double *x, double *y)
    int fnn_row_backward_f32(int op, int64_t rows, int64_t cols, const float *grad_out, const float *y,
                             float *grad_in)
    int fnn_row_backward_f64(int op, int64_t rows, int64_t cols, const double *grad_out, const double *y,
                             double *grad_in)

    # cross-entropy
    int fnn_cross_entropy_index_f32(int64_t rows, int64_t cols, const float *logits, const int64_t *target,
                                    int reduction, float *grad, double *row_loss, double *loss)
    int fnn_cross_entropy_index_f64(int64_t rows, int64_t cols, const double *logits, const int64_t *target,
                                    int reduction, double *grad, double *row_loss, double *loss)
    int fnn_cross_entropy_prob_f32(int64_t rows, int64_t cols, const float *logits, const float *target,
                                   int reduction, float *grad, double *row_loss, double *loss)
    int fnn_cross_entropy_prob_f64(int64_t rows, int64_t cols, const double *logits, const double *target,
                                   int reduction, double *grad, double *row_loss, double *loss)

    # normalisation
    int fnn_layer_norm_forward_f32(int64_t rows, int64_t cols, const float *x, const float *weight,
                                   const float *bias, double eps, float *y, float *mean, float *rstd)
    int fnn_layer_norm_forward_f64(int64_t rows, int64_t cols, const double *x, const double *weight,
                                   const double *bias, double eps, double *y, double *mean, double *rstd)
    int fnn_layer_norm_backward_f32(int64_t rows, int64_t cols, const float *grad_out, const float *x,
                                    const float *weight, const float *mean, const float *rstd, float *grad_x,
                                    float *grad_weight, float *grad_bias)
    int fnn_layer_norm_backward_f64(int64_t rows, int64_t cols, const double *grad_out, const double *x,
                                    const double *weight, const double *mean, const double *rstd,
                                    double *grad_x, double *grad_weight, double *grad_bias)
    int fnn_batch_norm_forward_f32(int64_t n, int64_t c, int64_t s, const float *x, const float *weight,
                                   const float *bias, int training, double momentum, double eps,
                                   float *running_mean, float *running_var, float *y, float *save_mean,
                                   float *save_rstd)
    int fnn_batch_norm_forward_f64(int64_t n, int64_t c, int64_t s, const double *x, const double *weight,
                                   const double *bias, int training, double momentum, double eps,
                                   double *running_mean, double *running_var, double *y, double *save_mean,
                                   double *save_rstd)
    int fnn_batch_norm_backward_f32(int64_t n, int64_t c, int64_t s, const float *grad_out, const float *x,
                                    const float *weight, const float *save_mean, const float *save_rstd,
                                    int training, float *grad_x, float *grad_weight, float *grad_bias)
    int fnn_batch_norm_backward_f64(int64_t n, int64_t c, int64_t s, const double *grad_out, const double *x,
                                    const double *weight, const double *save_mean, const double *save_rstd,
                                    int training, double *grad_x, double *grad_weight, double *grad_bias)

    # optimizer updates
    int fnn_sgd_step_f32(int64_t n, float *param, const float *grad, float *momentum_buffer, double lr,
                         double momentum, double dampening, double weight_decay, int nesterov, int first_step)
    int fnn_sgd_step_f64(int64_t n, double *param, const double *grad, double *momentum_buffer, double lr,
                         double momentum, double dampening, double weight_decay, int nesterov, int first_step)
    int fnn_adam_step_f32(int64_t n, float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                          int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay)
    int fnn_adam_step_f64(int64_t n, double *param, const double *grad, double *exp_avg, double *exp_avg_sq,
                          int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay)
    int fnn_adamw_step_f32(int64_t n, float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                           int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay)
    int fnn_adamw_step_f64(int64_t n, double *param, const double *grad, double *exp_avg, double *exp_avg_sq,
                           int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay)
    int fnn_rmsprop_step_f32(int64_t n, float *param, const float *grad, float *square_avg,
                             float *momentum_buffer, float *grad_avg, double lr, double alpha, double eps,
                             double weight_decay, double momentum, int centered)
    int fnn_rmsprop_step_f64(int64_t n, double *param, const double *grad, double *square_avg,
                             double *momentum_buffer, double *grad_avg, double lr, double alpha, double eps,
                             double weight_decay, double momentum, int centered)

    # GEMM (row-major, cblas-like) and the fully connected layer
    int fnn_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
    int fnn_dgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                  int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc)
    int fnn_gemm_batched_f32(char transa, char transb, int64_t batch, int64_t m, int64_t n, int64_t k,
                             float alpha, const float *a, int64_t lda, int64_t stride_a, const float *b,
                             int64_t ldb, int64_t stride_b, float beta, float *c, int64_t ldc,
                             int64_t stride_c)
    int fnn_gemm_batched_f64(char transa, char transb, int64_t batch, int64_t m, int64_t n, int64_t k,
                             double alpha, const double *a, int64_t lda, int64_t stride_a, const double *b,
                             int64_t ldb, int64_t stride_b, double beta, double *c, int64_t ldc,
                             int64_t stride_c)
    int fnn_linear_f32(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, const float *w,
                       int64_t ldw, const float *bias, int act, float act_alpha, float *y, int64_t ldy)
    int fnn_linear_f64(int64_t m, int64_t n, int64_t k, const double *x, int64_t ldx, const double *w,
                       int64_t ldw, const double *bias, int act, double act_alpha, double *y, int64_t ldy)

    # convolution and pooling (NCHW; ABI 1.1)
    int fnn_conv2d_forward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                               int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dil_h,
                               int64_t dil_w, int64_t groups, const float *x, const float *weight,
                               const float *bias, float *y)
    int fnn_conv2d_forward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                               int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dil_h,
                               int64_t dil_w, int64_t groups, const double *x, const double *weight,
                               const double *bias, double *y)
    int fnn_conv2d_backward_input_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                      int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                      int64_t dil_h, int64_t dil_w, int64_t groups, const float *grad_out,
                                      const float *weight, float *grad_x)
    int fnn_conv2d_backward_input_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                      int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                      int64_t dil_h, int64_t dil_w, int64_t groups, const double *grad_out,
                                      const double *weight, double *grad_x)
    int fnn_conv2d_backward_weight_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                       int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                       int64_t dil_h, int64_t dil_w, int64_t groups, const float *grad_out,
                                       const float *x, float *grad_weight, float *grad_bias)
    int fnn_conv2d_backward_weight_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                       int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                       int64_t dil_h, int64_t dil_w, int64_t groups, const double *grad_out,
                                       const double *x, double *grad_weight, double *grad_bias)
    int fnn_max_pool2d_forward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                   int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                   const float *x, float *y, int32_t *argmax)
    int fnn_max_pool2d_forward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                   int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                   const double *x, double *y, int32_t *argmax)
    int fnn_max_pool2d_backward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t p, int64_t q,
                                    const float *grad_out, const int32_t *argmax, float *grad_x)
    int fnn_max_pool2d_backward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t p, int64_t q,
                                    const double *grad_out, const int32_t *argmax, double *grad_x)
    int fnn_avg_pool2d_forward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                   int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                   const float *x, float *y)
    int fnn_avg_pool2d_forward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                   int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                   const double *x, double *y)
    int fnn_avg_pool2d_backward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                    int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                    const float *grad_out, float *grad_x)
    int fnn_avg_pool2d_backward_f64(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                    int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                    const double *grad_out, double *grad_x)
    int fnn_rnn_tanh_cell_forward_f32(int64_t rows, int64_t n, const float *pre, float *h)
    int fnn_rnn_tanh_cell_forward_f64(int64_t rows, int64_t n, const double *pre, double *h)
    int fnn_rnn_tanh_cell_backward_f32(int64_t rows, int64_t n, const float *grad_h, const float *h, float
                                       *grad_pre)
    int fnn_rnn_tanh_cell_backward_f64(int64_t rows, int64_t n, const double *grad_h, const double *h, double
                                       *grad_pre)
    int fnn_lstm_cell_forward_f32(int64_t rows, int64_t n, float *gates, const float *c_prev, float *c, float
                                  *h)
    int fnn_lstm_cell_forward_f64(int64_t rows, int64_t n, double *gates, const double *c_prev, double *c,
                                  double *h)
    int fnn_lstm_cell_backward_f32(int64_t rows, int64_t n, const float *gates, const float *c_prev, const float
                                   *c, const float *grad_h, const float *grad_c, float *grad_gates, float
                                   *grad_c_prev)
    int fnn_lstm_cell_backward_f64(int64_t rows, int64_t n, const double *gates, const double *c_prev, const
                                   double *c, const double *grad_h, const double *grad_c, double *grad_gates,
                                   double *grad_c_prev)
    int fnn_gru_cell_forward_f32(int64_t rows, int64_t n, const float *gx, const float *gh, const float *h_prev,
                                 float *saved, float *h)
    int fnn_gru_cell_forward_f64(int64_t rows, int64_t n, const double *gx, const double *gh, const double
                                 *h_prev, double *saved, double *h)
    int fnn_gru_cell_backward_f32(int64_t rows, int64_t n, const float *saved, const float *h_prev, const float
                                  *grad_h, float *grad_gx, float *grad_gh, float *grad_h_prev)
    int fnn_gru_cell_backward_f64(int64_t rows, int64_t n, const double *saved, const double *h_prev, const
                                  double *grad_h, double *grad_gx, double *grad_gh, double *grad_h_prev)
    int fnn_embedding_forward_f32(int64_t n, int64_t num, int64_t dim, const int64_t *idx, const float *weight,
                                  float *out)
    int fnn_embedding_forward_f64(int64_t n, int64_t num, int64_t dim, const int64_t *idx, const double *weight,
                                  double *out)
    int fnn_embedding_backward_f32(int64_t n, int64_t num, int64_t dim, const int64_t *idx, const float
                                   *grad_out, int64_t padding_idx, float *grad_weight)
    int fnn_embedding_backward_f64(int64_t n, int64_t num, int64_t dim, const int64_t *idx, const double
                                   *grad_out, int64_t padding_idx, double *grad_weight)
    int fnn_rnn_layer_forward_f32(int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const float
                                  *x, const float *w_ih, const float *w_hh, const float *b_ih, const float
                                  *b_hh, const float *h0, const float *c0, float *y, float *cells, float *gates)
    int fnn_rnn_layer_forward_f64(int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const double
                                  *x, const double *w_ih, const double *w_hh, const double *b_ih, const double
                                  *b_hh, const double *h0, const double *c0, double *y, double *cells, double
                                  *gates)
    int fnn_rnn_layer_backward_f32(int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const float
                                   *x, const float *w_ih, const float *w_hh, const float *h0, const float *c0,
                                   const float *y, const float *cells, const float *gates, const float *grad_y,
                                   const float *grad_hn, const float *grad_cn, float *grad_x, float *grad_w_ih,
                                   float *grad_w_hh, float *grad_b_ih, float *grad_b_hh, float *grad_h0, float
                                   *grad_c0)
    int fnn_rnn_layer_backward_f64(int mode, int64_t steps, int64_t batch, int64_t n_in, int64_t hid, const double
                                   *x, const double *w_ih, const double *w_hh, const double *h0, const double
                                   *c0, const double *y, const double *cells, const double *gates, const double
                                   *grad_y, const double *grad_hn, const double *grad_cn, double *grad_x, double
                                   *grad_w_ih, double *grad_w_hh, double *grad_b_ih, double *grad_b_hh, double
                                   *grad_h0, double *grad_c0)
    int fnn_attention_forward_f32(int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const float *k,
                                  const float *v, double scale, int causal, float *o, float *lse)
    int fnn_attention_forward_f64(int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const double
                                  *k, const double *v, double scale, int causal, double *o, double *lse)
    int fnn_attention_backward_f32(int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const float
                                   *k, const float *v, const float *o, const float *grad_out, const float *lse,
                                   double scale, int causal, float *grad_q, float *grad_k, float *grad_v)
    int fnn_attention_backward_f64(int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const double
                                   *k, const double *v, const double *o, const double *grad_out, const double
                                   *lse, double scale, int causal, double *grad_q, double *grad_k, double
                                   *grad_v)
    int fnn_attention_masked_forward_f32(int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const
                                         float *k, const float *v, const float *mask, int64_t stride_mask, const
                                         float *key_mask, int64_t heads, double scale, int causal, float *o, float
                                         *lse)
    int fnn_attention_masked_forward_f64(int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const
                                         double *k, const double *v, const double *mask, int64_t stride_mask,
                                         const double *key_mask, int64_t heads, double scale, int causal, double
                                         *o, double *lse)
    int fnn_attention_masked_backward_f32(int64_t bh, int64_t sq, int64_t sk, int64_t d, const float *q, const
                                          float *k, const float *v, const float *mask, int64_t stride_mask, const
                                          float *key_mask, int64_t heads, const float *o, const float *grad_out,
                                          const float *lse, double scale, int causal, float *grad_q, float
                                          *grad_k, float *grad_v)
    int fnn_attention_masked_backward_f64(int64_t bh, int64_t sq, int64_t sk, int64_t d, const double *q, const
                                          double *k, const double *v, const double *mask, int64_t stride_mask,
                                          const double *key_mask, int64_t heads, const double *o, const double
                                          *grad_out, const double *lse, double scale, int causal, double *grad_q,
                                          double *grad_k, double *grad_v)
