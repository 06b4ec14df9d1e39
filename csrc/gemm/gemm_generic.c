/* GEMM micro-kernel and packing for the generic ISA: gemm_body.inc, for float and double. */
#define FNN_ISA_GENERIC
#include "cpu/isa_begin.h"
#if FNN_ISA_BUILT
#include "cpu/kernels.h"
#include "fastnn/fastnn.h"
#define FNN_BODY "gemm/gemm_body.inc"
#include "simd/instantiate.h"
#endif
