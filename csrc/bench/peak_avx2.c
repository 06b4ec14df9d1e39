/* FMA peak meter for the avx2 ISA: peak_body.inc, for float and double. */
#define FNN_ISA_AVX2
#include "cpu/isa_begin.h"
#if FNN_ISA_BUILT
#include "bench/peak.h"
#define FNN_BODY "bench/peak_body.inc"
#include "simd/instantiate.h"
#endif
