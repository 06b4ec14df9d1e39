/* The FMA peak meter of `fastnn bench` (peak.c over peak_body.inc): a
 * benchmark helper, so it is kept out of the kernel table of cpu/kernels.h
 * (and out of fastnn.config()["kernels"]), with a table of its own. */
#ifndef FNN_BENCH_PEAK_H
#define FNN_BENCH_PEAK_H
#include "simd/fnn_common.h"

/* fnn_<f32|f64>_fma_peak__<isa>: `iters` rounds of the GEMM micro-kernel's
 * register footprint of independent FMA chains; returns a sum of them.
 * fnn_<f32|f64>_fma_peak_flops__<isa>: the flops of one round. */
#define FNN_PEAK_DECLARE_(isa)                                                         \
    float FNN_KERNEL_NAME(f32, fma_peak, isa)(int64_t iters);                          \
    double FNN_KERNEL_NAME(f64, fma_peak, isa)(int64_t iters);                         \
    int64_t FNN_KERNEL_NAME(f32, fma_peak_flops, isa)(void);                           \
    int64_t FNN_KERNEL_NAME(f64, fma_peak_flops, isa)(void);
FNN_PEAK_DECLARE_(generic)
FNN_PEAK_DECLARE_(avx2)
FNN_PEAK_DECLARE_(avx512)
#undef FNN_PEAK_DECLARE_

/* Measured FMA peak of the active ISA for element size 4 (float) or 8
 * (double), in GFLOPS, with nt threads for about `seconds`.  Returns a
 * negative value on bad arguments or without OpenMP. */
double fnn_gemm_measure_peak(int elem_size, int nt, double seconds);

/* The flops of one round of the active ISA's meter for element size 4 or 8:
 * 2*MR*NR of that ISA's GEMM tile.  Returns -1 on a bad size or an ISA not
 * built.  The meter is timed; this is what a test can check exactly. */
int64_t fnn_gemm_peak_round_flops(int elem_size);
#endif
