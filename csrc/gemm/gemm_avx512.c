/* GEMM micro-kernel and packing for the avx512 ISA: gemm_body.inc, for float and double. */
#define FNN_ISA_AVX512
#include "cpu/isa_begin.h"
#if FNN_ISA_BUILT
#include "cpu/kernels.h"
#include "fastnn/fastnn.h"
#define FNN_BODY "gemm/gemm_body.inc"
#include "simd/instantiate.h"
#endif
