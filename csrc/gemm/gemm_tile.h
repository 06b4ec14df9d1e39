/* The GEMM register tile of the ISA being compiled (MR rows x NR = NV
 * vectors of columns), shared by the GEMM micro-kernel and its packers
 * (gemm_body.inc) and the FMA-peak meter (bench/peak_body.inc).  No
 * include guard: each body includes it and #undefs the names at its end,
 * once per element type. */
#if defined(FNN_ISA_AVX512)
#define GEMM_MR 14
#define GEMM_NV 2
#elif defined(FNN_ISA_AVX2)
#define GEMM_MR 6
#define GEMM_NV 2
#else
#define GEMM_MR 4
#define GEMM_NV 4
#endif
#define GEMM_NR (GEMM_NV * VL)
/* Taps per k block of the flat convolutions: one block of their packed
 * weights (MR x 256) stays in L2 while the column panels pass over it. */
#define GEMM_TAPS_KC 256
