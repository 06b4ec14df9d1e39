/* Elementwise arithmetic kernels for the generic ISA: elem_body.inc, for float and double. */
#define FNN_ISA_GENERIC
#include "cpu/isa_begin.h"
#if FNN_ISA_BUILT
#define FNN_BODY "elem/elem_body.inc"
#include "simd/instantiate.h"
#endif
