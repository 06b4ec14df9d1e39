/* Conv kernels for the avx2 ISA: conv_body.inc, for float and double. */
#define FNN_ISA_AVX2
#include "cpu/isa_begin.h"
#if FNN_ISA_BUILT
#include "cpu/kernels.h"
#define FNN_BODY "conv/conv_body.inc"
#include "simd/instantiate.h"
#endif
