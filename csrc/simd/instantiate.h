/* Compiles the kernel body named by FNN_BODY once for float and once for
 * double, for the ISA chosen by cpu/isa_begin.h.  Usage, in <area>_<isa>.c:
 *     #define FNN_ISA_AVX2
 *     #include "cpu/isa_begin.h"
 *     #define FNN_BODY "act/act_body.inc"
 *     #include "simd/instantiate.h"
 * A second body that builds on the first one's helpers may be named by
 * FNN_BODY2 (act/cross_entropy_body.inc after act/act_body.inc).
 */
#define FNN_F32
#include "vec.h"
#include "vmath.inc"
#include FNN_BODY
#ifdef FNN_BODY2
#include FNN_BODY2
#endif
#include "vmath_end.h"
#include "vec_end.h"
#undef FNN_F32

#define FNN_F64
#include "vec.h"
#include "vmath.inc"
#include FNN_BODY
#ifdef FNN_BODY2
#include FNN_BODY2
#endif
#include "vmath_end.h"
#include "vec_end.h"
#undef FNN_F64
