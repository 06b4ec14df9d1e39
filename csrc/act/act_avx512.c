/* Activation kernels for the avx512 ISA: act_body.inc and cross_entropy_body.inc, for float and double. */
#define FNN_ISA_AVX512
#include "cpu/isa_begin.h"
#if FNN_ISA_BUILT
#define FNN_BODY "act/act_body.inc"
#define FNN_BODY2 "act/cross_entropy_body.inc"
#include "simd/instantiate.h"
#endif
