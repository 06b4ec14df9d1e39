/* Small macros shared by every C file of fastnn. */
#ifndef FNN_COMMON_H
#define FNN_COMMON_H
#include <math.h>
#include <stdint.h>
#include <stddef.h>

#define FNN_CAT_(a, b) a##b
#define FNN_CAT(a, b) FNN_CAT_(a, b)
#define FNN_CAT3(a, b, c) FNN_CAT(FNN_CAT(a, b), c)
#define FNN_CAT4(a, b, c, d) FNN_CAT(FNN_CAT3(a, b, c), d)
#define FNN_STR_(a) #a
#define FNN_STR(a) FNN_STR_(a)

/* fnn_<type>_<kernel>__<isa>, e.g. fnn_f32_sigmoid_fwd__avx2 */
#define FNN_KERNEL_NAME(dt, name, isa) FNN_CAT(FNN_CAT4(fnn_, dt, _, name), FNN_CAT(__, isa))

#define FNN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FNN_MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
