/* AVX-512 vectors: 16 floats or 8 doubles, with mask registers for compares
 * and tails.  Include only inside the avx512 target region. */
#ifndef FNN_VEC_AVX512_H
#define FNN_VEC_AVX512_H
/* v_scalef(v, n) = v 2^n in one instruction, rounded once (vmath's v_scale) */
#define FNN_VEC_HAS_SCALEF 1
#include <immintrin.h>
#include <stdint.h>

#define FNN_AVX512_COMMON(S, T, V, M, X, I, VL, MAGIC, BIAS, MANT)                                   \
    typedef V vs_##S;                                                                                \
    typedef M vsm_##S;                                                                               \
    static inline V vs_##S##_load(const T *p) { return _mm512_loadu_##X(p); }                        \
    static inline void vs_##S##_store(T *p, V v) { _mm512_storeu_##X(p, v); }                       \
    static inline M fnn_avx512_tail_##S(int64_t n) { return (M)(n >= VL ? (M)~0u : (M)((1u << n) - 1u)); } \
    static inline V vs_##S##_load_part(const T *p, int64_t n) {                                      \
        return _mm512_maskz_loadu_##X(fnn_avx512_tail_##S(n), p);                                    \
    }                                                                                                \
    static inline void vs_##S##_store_part(T *p, V v, int64_t n) {                                   \
        _mm512_mask_storeu_##X(p, fnn_avx512_tail_##S(n), v);                                        \
    }                                                                                                \
    static inline V vs_##S##_keep_part(V v, int64_t n) { return _mm512_maskz_mov_##X(fnn_avx512_tail_##S(n), v); } \
    static inline V vs_##S##_set1(T s) { return _mm512_set1_##X(s); }                                \
    static inline V vs_##S##_add(V a, V b) { return _mm512_add_##X(a, b); }                          \
    static inline V vs_##S##_sub(V a, V b) { return _mm512_sub_##X(a, b); }                          \
    static inline V vs_##S##_mul(V a, V b) { return _mm512_mul_##X(a, b); }                          \
    static inline V vs_##S##_div(V a, V b) { return _mm512_div_##X(a, b); }                          \
    static inline V vs_##S##_sqrt(V a) { return _mm512_sqrt_##X(a); }                                \
    static inline V vs_##S##_fma(V a, V b, V c) { return _mm512_fmadd_##X(a, b, c); }                \
    static inline V vs_##S##_fnma(V a, V b, V c) { return _mm512_fnmadd_##X(a, b, c); }              \
    static inline V vs_##S##_fma_exact(V a, V b, V c) { return _mm512_fmadd_##X(a, b, c); }          \
    static inline V vs_##S##_max(V a, V b) { return _mm512_max_##X(a, b); }                          \
    static inline V vs_##S##_min(V a, V b) { return _mm512_min_##X(a, b); }                          \
    static inline V vs_##S##_abs(V a) { return _mm512_abs_##X(a); }                                  \
    static inline V vs_##S##_copysign(V mag, V sgn) {                                                \
        V m = _mm512_set1_##X((T)-0.0);                                                              \
        return _mm512_or_##X(_mm512_andnot_##X(m, mag), _mm512_and_##X(m, sgn));                     \
    }                                                                                                \
    static inline V vs_##S##_round(V a) {                                                            \
        return _mm512_roundscale_##X(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);              \
    }                                                                                                \
    static inline M vs_##S##_lt(V a, V b) { return _mm512_cmp_##X##_mask(a, b, _CMP_LT_OQ); }       \
    static inline M vs_##S##_gt(V a, V b) { return _mm512_cmp_##X##_mask(a, b, _CMP_GT_OQ); }       \
    static inline M vs_##S##_eq(V a, V b) { return _mm512_cmp_##X##_mask(a, b, _CMP_EQ_OQ); }       \
    static inline int vs_##S##_all_le(V a, V b) {                                                    \
        return _mm512_cmp_##X##_mask(a, b, _CMP_LE_OQ) == (M)~0u;                                    \
    }                                                                                                \
    static inline V vs_##S##_select(M m, V a, V b) { return _mm512_mask_blend_##X(m, b, a); }        \
    static inline V vs_##S##_pow2i(V n) {                                                            \
        __m512i b = _mm512_cast##X##_si512(_mm512_add_##X(n, _mm512_set1_##X((T)(MAGIC))));          \
        b = _mm512_slli_epi##I(_mm512_add_epi##I(b, _mm512_set1_epi##I(BIAS)), MANT);                \
        return _mm512_castsi512_##X(b);                                                              \
    }                                                                                                \
    static inline V vs_##S##_scalef(V v, V n) { return _mm512_scalef_##X(v, n); }                  \
    static inline T vs_##S##_reduce_add(V v) { return _mm512_reduce_add_##X(v); }                   \
    static inline T vs_##S##_reduce_max(V v) { return _mm512_reduce_max_##X(v); }

/* a / b through the 14-bit reciprocal estimate and Newton steps: within an
 * ulp of the quotient for finite a and finite, normal b; several times the
 * throughput of a divide.  Double keeps the divide. */
static inline __m512 vs_f32_div_nr(__m512 a, __m512 b);
static inline __m512d vs_f64_div_nr(__m512d a, __m512d b);

FNN_AVX512_COMMON(f32, float, __m512, __mmask16, ps, 32, 16, 12582912.0f, 127, 23)
FNN_AVX512_COMMON(f64, double, __m512d, __mmask8, pd, 64, 8, 6755399441055744.0, 1023, 52)
#undef FNN_AVX512_COMMON

static inline __m512 vs_f32_div_nr(__m512 a, __m512 b) {
    __m512 r = _mm512_rcp14_ps(b);
    __m512 q = _mm512_mul_ps(a, r);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(b, q, a), q); /* error ~ 2^-28 + rounding */
}
static inline __m512d vs_f64_div_nr(__m512d a, __m512d b) { return _mm512_div_pd(a, b); }

/* Even and odd lanes of the pair (a, b) taken as one array of 2*VL elements;
 * lane tests and mask union; truncating conversion to int32 with a store of
 * the first n lanes (n > 0). */
static inline void vs_f32_deinterleave(__m512 a, __m512 b, __m512 *even, __m512 *odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *even = _mm512_permutex2var_ps(a, ie, b);
    *odd = _mm512_permutex2var_ps(a, _mm512_add_epi32(ie, _mm512_set1_epi32(1)), b);
}
static inline void vs_f64_deinterleave(__m512d a, __m512d b, __m512d *even, __m512d *odd) {
    const __m512i ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    *even = _mm512_permutex2var_pd(a, ie, b);
    *odd = _mm512_permutex2var_pd(a, _mm512_add_epi64(ie, _mm512_set1_epi64(1)), b);
}
/* In-register transpose of a VL x VL block: r[i] is row i on entry and
 * column i on return.  Unpacks and in-lane shuffles, then whole 128-bit
 * lanes into place in two rounds. */
static inline void vs_f32_transpose(__m512 *r) {
    __m512 t[16];
    _Pragma("GCC unroll 8") for (int j = 0; j < 16; j += 2) {
        t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < 16; j += 4) {
        r[j] = _mm512_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[j + 1] = _mm512_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[j + 2] = _mm512_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[j + 3] = _mm512_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
        t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
        t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
        r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
        r[4 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xdd);
    }
}
static inline void vs_f64_transpose(__m512d *r) {
    __m512d t[8];
    _Pragma("GCC unroll 4") for (int j = 0; j < 8; j += 2) {
        t[j] = _mm512_unpacklo_pd(r[j], r[j + 1]);
        t[j + 1] = _mm512_unpackhi_pd(r[j], r[j + 1]);
    }
    /* 128-bit lanes: (0,2) (1,3) pairs, then (0,4) (1,5) ... */
    _Pragma("GCC unroll 2") for (int j = 0; j < 8; j += 4) {
        r[j] = _mm512_shuffle_f64x2(t[j], t[j + 2], 0x88);
        r[j + 1] = _mm512_shuffle_f64x2(t[j + 1], t[j + 3], 0x88);
        r[j + 2] = _mm512_shuffle_f64x2(t[j], t[j + 2], 0xdd);
        r[j + 3] = _mm512_shuffle_f64x2(t[j + 1], t[j + 3], 0xdd);
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
        t[c] = _mm512_shuffle_f64x2(r[c], r[4 + c], 0x88);
        t[4 + c] = _mm512_shuffle_f64x2(r[c], r[4 + c], 0xdd);
    }
    _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++) r[c] = t[c];
}
/* p[0], p[stride], ..., p[(VL-1)*stride] by one gather; the lane offsets
 * are int32, so (VL-1)*stride must fit in one.  Built from the stride on
 * each call: a loop with a fixed stride computes them once. */
static inline __m512 vs_f32_load_strided(const float *p, int64_t stride) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)stride));
    return _mm512_i32gather_ps(idx, p, 4);
}
static inline __m512d vs_f64_load_strided(const double *p, int64_t stride) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)stride));
    return _mm512_i32gather_pd(idx, p, 8);
}
static inline __mmask16 vs_f32_isnan(__m512 a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
static inline __mmask8 vs_f64_isnan(__m512d a) { return _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q); }
static inline __mmask16 vs_f32_mask_or(__mmask16 a, __mmask16 b) { return (__mmask16)(a | b); }
static inline __mmask8 vs_f64_mask_or(__mmask8 a, __mmask8 b) { return (__mmask8)(a | b); }
static inline void vs_f32_store_i32_part(int32_t *p, __m512 v, int64_t n) {
    _mm512_mask_storeu_epi32(p, fnn_avx512_tail_f32(n), _mm512_cvttps_epi32(v));
}
static inline void vs_f64_store_i32_part(int32_t *p, __m512d v, int64_t n) {
    _mm256_mask_storeu_epi32(p, fnn_avx512_tail_f64(n), _mm512_cvttpd_epi32(v));
}
/* The first n int32 at p as lanes (0 past n); the pair (a, b) interleaved,
 * a0 b0 a1 b1 ..., as two vectors (deinterleave's inverse). */
static inline __m512 vs_f32_load_i32_part(const int32_t *p, int64_t n) {
    return _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(fnn_avx512_tail_f32(n), p));
}
static inline __m512d vs_f64_load_i32_part(const int32_t *p, int64_t n) {
    return _mm512_cvtepi32_pd(_mm256_maskz_loadu_epi32(fnn_avx512_tail_f64(n), p));
}
static inline void vs_f32_interleave(__m512 a, __m512 b, __m512 *lo, __m512 *hi) {
    const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    *lo = _mm512_permutex2var_ps(a, il, b);
    *hi = _mm512_permutex2var_ps(a, _mm512_add_epi32(il, _mm512_set1_epi32(8)), b);
}
static inline void vs_f64_interleave(__m512d a, __m512d b, __m512d *lo, __m512d *hi) {
    const __m512i il = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    *lo = _mm512_permutex2var_pd(a, il, b);
    *hi = _mm512_permutex2var_pd(a, _mm512_add_epi64(il, _mm512_set1_epi64(4)), b);
}
#endif
