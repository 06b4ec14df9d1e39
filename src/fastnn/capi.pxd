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

from libc.stdint cimport int64_t

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
