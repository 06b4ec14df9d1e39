/* AVX2 + FMA vectors: 8 floats or 4 doubles.  Include only inside a
 * `#pragma GCC target("avx2,fma")` region (see cpu/isa_begin.h). */
#ifndef FNN_VEC_AVX2_H
#define FNN_VEC_AVX2_H
#include <immintrin.h>
#include <stdint.h>

#define FNN_AVX2_COMMON(S, T, V, X, I, SET1I, MAGIC, BIAS, MANT)                                            \
    typedef V vs_##S;                                                                                \
    typedef V vsm_##S;                                                                               \
    static inline V vs_##S##_load(const T *p) { return _mm256_loadu_##X(p); }                        \
    static inline void vs_##S##_store(T *p, V v) { _mm256_storeu_##X(p, v); }                       \
    static inline V vs_##S##_set1(T s) { return _mm256_set1_##X(s); }                                \
    static inline V vs_##S##_add(V a, V b) { return _mm256_add_##X(a, b); }                          \
    static inline V vs_##S##_sub(V a, V b) { return _mm256_sub_##X(a, b); }                          \
    static inline V vs_##S##_mul(V a, V b) { return _mm256_mul_##X(a, b); }                          \
    static inline V vs_##S##_div(V a, V b) { return _mm256_div_##X(a, b); }                          \
    static inline V vs_##S##_sqrt(V a) { return _mm256_sqrt_##X(a); }                                \
    static inline V vs_##S##_fma(V a, V b, V c) { return _mm256_fmadd_##X(a, b, c); }                \
    static inline V vs_##S##_fnma(V a, V b, V c) { return _mm256_fnmadd_##X(a, b, c); }              \
    static inline V vs_##S##_fma_exact(V a, V b, V c) { return _mm256_fmadd_##X(a, b, c); }          \
    static inline V vs_##S##_max(V a, V b) { return _mm256_max_##X(a, b); }                          \
    static inline V vs_##S##_min(V a, V b) { return _mm256_min_##X(a, b); }                          \
    static inline V vs_##S##_abs(V a) { return _mm256_andnot_##X(_mm256_set1_##X((T)-0.0), a); }     \
    static inline V vs_##S##_copysign(V mag, V sgn) {                                                \
        V m = _mm256_set1_##X((T)-0.0);                                                              \
        return _mm256_or_##X(_mm256_andnot_##X(m, mag), _mm256_and_##X(m, sgn));                     \
    }                                                                                                \
    static inline V vs_##S##_round(V a) {                                                            \
        return _mm256_round_##X(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);                   \
    }                                                                                                \
    static inline V vs_##S##_lt(V a, V b) { return _mm256_cmp_##X(a, b, _CMP_LT_OQ); }               \
    static inline V vs_##S##_gt(V a, V b) { return _mm256_cmp_##X(a, b, _CMP_GT_OQ); }               \
    static inline V vs_##S##_eq(V a, V b) { return _mm256_cmp_##X(a, b, _CMP_EQ_OQ); }               \
    static inline int vs_##S##_all_le(V a, V b) {                                                    \
        return _mm256_movemask_##X(_mm256_cmp_##X(a, b, _CMP_LE_OQ)) == (1 << (32 / sizeof(T))) - 1; \
    }                                                                                                \
    static inline V vs_##S##_select(V m, V a, V b) { return _mm256_blendv_##X(b, a, m); }            \
    static inline V vs_##S##_pow2i(V n) {                                                            \
        __m256i b = _mm256_cast##X##_si256(_mm256_add_##X(n, _mm256_set1_##X((T)(MAGIC))));          \
        b = _mm256_slli_epi##I(_mm256_add_epi##I(b, SET1I(BIAS)), MANT);                \
        return _mm256_castsi256_##X(b);                                                              \
    }

FNN_AVX2_COMMON(f32, float, __m256, ps, 32, _mm256_set1_epi32, 12582912.0f, 127, 23)
FNN_AVX2_COMMON(f64, double, __m256d, pd, 64, _mm256_set1_epi64x, 6755399441055744.0, 1023, 52)
#undef FNN_AVX2_COMMON

/* Partial loads and stores for the tail of an array: lanes at or past n are
 * neither read nor written. */
static inline __m256i fnn_avx2_tail_mask32(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i fnn_avx2_tail_mask64(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}
static inline __m256 vs_f32_load_part(const float *p, int64_t n) { return _mm256_maskload_ps(p, fnn_avx2_tail_mask32(n)); }
static inline void vs_f32_store_part(float *p, __m256 v, int64_t n) { _mm256_maskstore_ps(p, fnn_avx2_tail_mask32(n), v); }
static inline __m256d vs_f64_load_part(const double *p, int64_t n) { return _mm256_maskload_pd(p, fnn_avx2_tail_mask64(n)); }
static inline void vs_f64_store_part(double *p, __m256d v, int64_t n) { _mm256_maskstore_pd(p, fnn_avx2_tail_mask64(n), v); }
static inline __m256 vs_f32_keep_part(__m256 v, int64_t n) {
    return _mm256_and_ps(v, _mm256_castsi256_ps(fnn_avx2_tail_mask32(n)));
}
static inline __m256d vs_f64_keep_part(__m256d v, int64_t n) {
    return _mm256_and_pd(v, _mm256_castsi256_pd(fnn_avx2_tail_mask64(n)));
}

/* a / b through the reciprocal estimate and Newton steps: within an ulp of
 * the quotient (not always correctly rounded) for finite a and finite,
 * normal b; several times the throughput of a divide.  Double divides. */
static inline __m256 vs_f32_div_nr(__m256 a, __m256 b) {
    __m256 r = _mm256_rcp_ps(b); /* 12 bits */
    r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(b, r, _mm256_set1_ps(1.f)), r); /* 23 bits */
    __m256 q = _mm256_mul_ps(a, r);
    return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(b, q, a), q);
}
static inline __m256d vs_f64_div_nr(__m256d a, __m256d b) { return _mm256_div_pd(a, b); }

static inline float vs_f32_reduce_add(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float vs_f32_reduce_max(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline double vs_f64_reduce_add(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
static inline double vs_f64_reduce_max(__m256d v) {
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
}

/* Even and odd lanes of the pair (a, b) taken as one array of 2*VL elements;
 * lane tests and mask union; truncating conversion to int32 with a store of
 * the first n lanes (n > 0). */
static inline void vs_f32_deinterleave(__m256 a, __m256 b, __m256 *even, __m256 *odd) {
    /* in-lane shuffles give a0 a2 b0 b2 | a4 a6 b4 b6; the 64-bit permute orders the pairs */
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
}
static inline void vs_f64_deinterleave(__m256d a, __m256d b, __m256d *even, __m256d *odd) {
    *even = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xd8);
    *odd = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xd8);
}
static inline __m256 vs_f32_isnan(__m256 a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
static inline __m256d vs_f64_isnan(__m256d a) { return _mm256_cmp_pd(a, a, _CMP_UNORD_Q); }
static inline __m256 vs_f32_mask_or(__m256 a, __m256 b) { return _mm256_or_ps(a, b); }
static inline __m256d vs_f64_mask_or(__m256d a, __m256d b) { return _mm256_or_pd(a, b); }
static inline void vs_f32_store_i32_part(int32_t *p, __m256 v, int64_t n) {
    _mm256_maskstore_epi32(p, fnn_avx2_tail_mask32(FNN_MIN(n, 8)), _mm256_cvttps_epi32(v));
}
static inline void vs_f64_store_i32_part(int32_t *p, __m256d v, int64_t n) {
    const __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32((int)FNN_MIN(n, 4)), _mm_setr_epi32(0, 1, 2, 3));
    _mm_maskstore_epi32(p, m, _mm256_cvttpd_epi32(v));
}
/* The first n int32 at p as lanes (0 past n); the pair (a, b) interleaved,
 * a0 b0 a1 b1 ..., as two vectors (deinterleave's inverse). */
static inline __m256 vs_f32_load_i32_part(const int32_t *p, int64_t n) {
    return _mm256_cvtepi32_ps(_mm256_maskload_epi32(p, fnn_avx2_tail_mask32(FNN_MIN(n, 8))));
}
static inline __m256d vs_f64_load_i32_part(const int32_t *p, int64_t n) {
    const __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32((int)FNN_MIN(n, 4)), _mm_setr_epi32(0, 1, 2, 3));
    return _mm256_cvtepi32_pd(_mm_maskload_epi32(p, m));
}
static inline void vs_f32_interleave(__m256 a, __m256 b, __m256 *lo, __m256 *hi) {
    /* in-lane unpacks give a0 b0 a1 b1 | a4 b4 a5 b5 and a2 b2 a3 b3 | a6 b6 a7 b7 */
    const __m256 l = _mm256_unpacklo_ps(a, b), h = _mm256_unpackhi_ps(a, b);
    *lo = _mm256_permute2f128_ps(l, h, 0x20);
    *hi = _mm256_permute2f128_ps(l, h, 0x31);
}
static inline void vs_f64_interleave(__m256d a, __m256d b, __m256d *lo, __m256d *hi) {
    const __m256d l = _mm256_unpacklo_pd(a, b), h = _mm256_unpackhi_pd(a, b);
    *lo = _mm256_permute2f128_pd(l, h, 0x20);
    *hi = _mm256_permute2f128_pd(l, h, 0x31);
}
#endif
