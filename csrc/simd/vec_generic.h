/* Portable "vectors" of one lane: the generic ISA runs the same kernel bodies
 * as the SIMD ISAs with VL == 1, so every idea is written once.  Lane-type
 * helpers are defined for float and double once; vec.h maps the generic v_*
 * names onto the element type being instantiated. */
#ifndef FNN_VEC_GENERIC_H
#define FNN_VEC_GENERIC_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#define FNN_GEN_OPS(S, T, TI, MAGIC, BIAS, MANT)                                              \
    typedef T vs_##S;                                                                          \
    typedef int vsm_##S;                                                                       \
    static inline T vs_##S##_load(const T *p) { return *p; }                                   \
    static inline void vs_##S##_store(T *p, T v) { *p = v; }                                   \
    static inline T vs_##S##_load_part(const T *p, int64_t n) { return n > 0 ? *p : (T)0; }    \
    static inline void vs_##S##_store_part(T *p, T v, int64_t n) { if (n > 0) *p = v; }        \
    static inline T vs_##S##_keep_part(T v, int64_t n) { return n > 0 ? v : (T)0; }            \
    static inline T vs_##S##_set1(T s) { return s; }                                          \
    static inline T vs_##S##_add(T a, T b) { return a + b; }                                   \
    static inline T vs_##S##_sub(T a, T b) { return a - b; }                                   \
    static inline T vs_##S##_mul(T a, T b) { return a * b; }                                   \
    static inline T vs_##S##_div(T a, T b) { return a / b; }                                   \
    static inline T vs_##S##_div_nr(T a, T b) { return a / b; }                                \
    static inline T vs_##S##_sqrt(T a) { return (T)sqrt(a); }                                  \
    static inline T vs_##S##_fma(T a, T b, T c) { return a * b + c; }                         \
    static inline T vs_##S##_fnma(T a, T b, T c) { return c - a * b; }                        \
    static inline T vs_##S##_fma_exact(T a, T b, T c) { return (T)fma(a, b, c); }            \
    /* x86 semantics: the second operand is returned when either is NaN */                     \
    static inline T vs_##S##_max(T a, T b) { return a > b ? a : b; }                           \
    static inline T vs_##S##_min(T a, T b) { return a < b ? a : b; }                           \
    static inline T vs_##S##_abs(T a) { return fabs(a); }                                      \
    static inline T vs_##S##_copysign(T mag, T sgn) { return copysign(mag, sgn); }             \
    static inline T vs_##S##_round(T a) { return nearbyint(a); }                               \
    static inline int vs_##S##_lt(T a, T b) { return a < b; }                                  \
    static inline int vs_##S##_gt(T a, T b) { return a > b; }                                  \
    static inline int vs_##S##_eq(T a, T b) { return a == b; }                                 \
    static inline int vs_##S##_all_le(T a, T b) { return a <= b; }                             \
    static inline T vs_##S##_select(int m, T a, T b) { return m ? a : b; }                    \
    static inline T vs_##S##_pow2i(T n) {                                                      \
        T t = n + (T)(MAGIC); TI bits; memcpy(&bits, &t, sizeof bits);                         \
        bits = (TI)((bits + BIAS) << MANT); memcpy(&t, &bits, sizeof t); return t;             \
    }                                                                                          \
    static inline T vs_##S##_reduce_add(T v) { return v; }                                     \
    static inline T vs_##S##_reduce_max(T v) { return v; }                                     \
    static inline void vs_##S##_deinterleave(T a, T b, T *even, T *odd) { *even = a; *odd = b; } \
    static inline int vs_##S##_isnan(T a) { return a != a; }                                   \
    static inline int vs_##S##_mask_or(int a, int b) { return a | b; }                        \
    static inline void vs_##S##_store_i32_part(int32_t *p, T v, int64_t n) { if (n > 0) *p = (int32_t)v; } \
    static inline T vs_##S##_load_i32_part(const int32_t *p, int64_t n) { return n > 0 ? (T)*p : (T)0; } \
    static inline void vs_##S##_interleave(T a, T b, T *lo, T *hi) { *lo = a; *hi = b; }

FNN_GEN_OPS(f32, float, uint32_t, 12582912.0f, 127u, 23)
FNN_GEN_OPS(f64, double, uint64_t, 6755399441055744.0, 1023u, 52)
#undef FNN_GEN_OPS
#endif
