/* Maps the element-type-neutral names used by every kernel body (T, V, VL,
 * v_add, ...) onto the lane helpers of one ISA and one element type.
 *
 * Before including: define exactly one of FNN_ISA_GENERIC / FNN_ISA_AVX2 /
 * FNN_ISA_AVX512 (done by cpu/isa_begin.h) and exactly one of FNN_F32 /
 * FNN_F64.  Include vec_end.h afterwards to undo the mapping, so a file can
 * instantiate the same body for the other type (simd/instantiate.h does both).
 */
#include "fnn_common.h"

#if defined(FNN_ISA_GENERIC)
#include "vec_generic.h"
#define FNN_ISA_NAME generic
#define FNN_VL_F32 1
#define FNN_VL_F64 1
#elif defined(FNN_ISA_AVX2)
#include "vec_avx2.h"
#define FNN_ISA_NAME avx2
#define FNN_VL_F32 8
#define FNN_VL_F64 4
#elif defined(FNN_ISA_AVX512)
#include "vec_avx512.h"
#define FNN_ISA_NAME avx512
#define FNN_VL_F32 16
#define FNN_VL_F64 8
#else
#error "vec.h: no FNN_ISA_* defined"
#endif

#if defined(FNN_F32)
#define T float
#define DT f32
#define VL FNN_VL_F32
#elif defined(FNN_F64)
#define T double
#define DT f64
#define VL FNN_VL_F64
#else
#error "vec.h: define FNN_F32 or FNN_F64"
#endif

/* TNAME(x): a helper local to this element type (x_f32).
 * KNAME(x): the exported kernel of this type and ISA (fnn_f32_x__avx2). */
#define TNAME(x) FNN_CAT3(x, _, DT)
#define KNAME(x) FNN_KERNEL_NAME(DT, x, FNN_ISA_NAME)
#define VS(op) FNN_CAT4(vs_, DT, _, op)

#define V FNN_CAT(vs_, DT)
#define VM FNN_CAT(vsm_, DT)
#define v_load VS(load)
#define v_store VS(store)
#define v_load_part VS(load_part)
#define v_store_part VS(store_part)
/* lanes at or past n set to 0 (a tail's sum without reloading its store,
 * which a masked load cannot take from the store buffer) */
#define v_keep_part VS(keep_part)
#define v_set1 VS(set1)
#define v_add VS(add)
#define v_sub VS(sub)
#define v_mul VS(mul)
#define v_div VS(div)
#define v_div_nr VS(div_nr)
#define v_sqrt VS(sqrt)
#define v_fma VS(fma)
#define v_fnma VS(fnma)
#define v_fma_exact VS(fma_exact)
#define v_max VS(max)
#define v_min VS(min)
#define v_abs VS(abs)
#define v_copysign VS(copysign)
#define v_round VS(round)
#define v_lt VS(lt)
#define v_gt VS(gt)
#define v_eq VS(eq)
/* every lane a <= b (a NaN lane fails): a branch on a whole vector */
#define v_all_le VS(all_le)
#define v_select VS(select)
#define v_pow2i VS(pow2i)
#define v_scalef VS(scalef)
#define v_reduce_add VS(reduce_add)
#define v_reduce_max VS(reduce_max)
#define v_deinterleave VS(deinterleave)
#define v_isnan VS(isnan)
#define v_mask_or VS(mask_or)
#define v_store_i32_part VS(store_i32_part)
#define v_load_i32_part VS(load_i32_part)
#define v_interleave VS(interleave)
/* AVX-512 only, for the kernels' AVX-512 paths (GEMM packing): */
#define v_transpose VS(transpose)
#define v_load_strided VS(load_strided)
