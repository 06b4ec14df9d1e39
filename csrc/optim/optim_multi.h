/* The optimizer updates over several tensors at once (one parallel region
 * for a whole parameter group, as PyTorch's fused/foreach steps).  Each
 * array argument holds `count` pointers; a state array may hold null
 * pointers where the update does not read that state.  The single-tensor
 * functions of fastnn.h are these with count 1.  Internal to the module:
 * fastnn.optim calls them through the bindings. */
#ifndef FASTNN_OPTIM_MULTI_H
#define FASTNN_OPTIM_MULTI_H
#include <stdint.h>

#define FNN_OPTIM_MULTI_DECLS(T, DT)                                                                                \
    int fnn_sgd_step_multi_##DT(int64_t count, const int64_t *n, T *const *param, const T *const *grad,             \
                                T *const *momentum_buffer, double lr, double momentum, double dampening,            \
                                double weight_decay, int nesterov, int first_step);                                 \
    int fnn_adam_step_multi_##DT(int64_t count, const int64_t *n, T *const *param, const T *const *grad,            \
                                 T *const *exp_avg, T *const *exp_avg_sq, int64_t step, double lr, double beta1,    \
                                 double beta2, double eps, double weight_decay, int decoupled);                     \
    int fnn_rmsprop_step_multi_##DT(int64_t count, const int64_t *n, T *const *param, const T *const *grad,         \
                                    T *const *square_avg, T *const *momentum_buffer, T *const *grad_avg,            \
                                    double lr, double alpha, double eps, double weight_decay, double momentum,      \
                                    int centered);
FNN_OPTIM_MULTI_DECLS(float, f32)
FNN_OPTIM_MULTI_DECLS(double, f64)
#undef FNN_OPTIM_MULTI_DECLS

#endif
