/* Pool kernels for the avx512 ISA: pool_body.inc, for float and double. */
#define FNN_ISA_AVX512
#include "cpu/isa_begin.h"
#if FNN_ISA_BUILT
#include "cpu/kernels.h"
#define FNN_BODY "pool/pool_body.inc"
#include "simd/instantiate.h"
#endif
