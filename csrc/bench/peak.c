/* The FMA-peak meter: the yardstick of `fastnn bench` (fraction of peak),
 * reached from Python as fastnn._C.gemm_fma_peak.  It times the chains of
 * peak_body.inc for the ISA in use (fnn_get_isa), so the figure is the
 * peak of the kernels that the GEMM being measured runs. */
#include "bench/peak.h"
#include "fastnn/fastnn.h"

/* threads at most, as for the GEMM */
#define FNN_PEAK_MAX_THREADS 256

/* The meter times teams of threads with OpenMP; without it there is none. */
#ifdef _OPENMP
#include <omp.h>

/* One ISA's meter, by FNN_ISA_ID_*; null where the ISA was not built. */
typedef struct fnn_peak_isa {
    float (*run_f32)(int64_t iters);
    double (*run_f64)(int64_t iters);
    int64_t (*flops_f32)(void);
    int64_t (*flops_f64)(void);
} fnn_peak_isa;
#define FNN_PEAK_ISA_(isa)                                                                             \
    {FNN_KERNEL_NAME(f32, fma_peak, isa), FNN_KERNEL_NAME(f64, fma_peak, isa),                         \
     FNN_KERNEL_NAME(f32, fma_peak_flops, isa), FNN_KERNEL_NAME(f64, fma_peak_flops, isa)}
static const fnn_peak_isa fnn_peak_isas[3] = {
    FNN_PEAK_ISA_(generic),
#if defined(FNN_HAVE_AVX2)
    FNN_PEAK_ISA_(avx2),
#else
    {0, 0, 0, 0},
#endif
#if defined(FNN_HAVE_AVX512)
    FNN_PEAK_ISA_(avx512),
#else
    {0, 0, 0, 0},
#endif
};
#undef FNN_PEAK_ISA_

/* The meter of the ISA in use, or null where that ISA was not built. */
static const fnn_peak_isa *fnn_peak_active(void) {
    const int isa = fnn_get_isa();
    return isa < 0 || isa > 2 || !fnn_peak_isas[isa].run_f32 ? 0 : &fnn_peak_isas[isa];
}

static double fnn_peak_run(const fnn_peak_isa *p, int elem_size, int64_t iters) {
    return elem_size == 4 ? (double)p->run_f32(iters) : p->run_f64(iters);
}
#endif

double fnn_gemm_measure_peak(int elem_size, int nt, double seconds) {
    if ((elem_size != 4 && elem_size != 8) || nt < 1 || nt > FNN_PEAK_MAX_THREADS || !(seconds > 0)) return -1;
#ifdef _OPENMP
    const fnn_peak_isa *p = fnn_peak_active();
    if (!p) return -1;
    const double flops_per_iter = (double)(elem_size == 4 ? p->flops_f32() : p->flops_f64());
    /* Calibrate bursts of ~2 ms on one thread, then time the team over many
     * bursts and keep the best: on a shared machine some bursts run with a
     * core taken by another process, and the peak is what the cores can do. */
    int64_t iters = 1 << 10;
    double t = 0, sink = 0;
    for (;;) {
        double t0 = omp_get_wtime();
        sink += fnn_peak_run(p, elem_size, iters);
        t = omp_get_wtime() - t0;
        if (t > 1e-3 || iters > ((int64_t)1 << 40)) break;
        iters *= 2;
    }
    iters = (int64_t)((double)iters * 2e-3 / FNN_MAX(t, 1e-9));
    if (iters < 1) iters = 1;
    int reps = (int)(seconds / 2e-3);
    if (reps < 10) reps = 10;
    double best = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = 0, t1 = 0;
        int team = 1;
#pragma omp parallel num_threads(nt) reduction(+ : sink)
        {
#pragma omp barrier
#pragma omp master
            {
                t0 = omp_get_wtime();
                team = omp_get_num_threads();
            }
            sink += fnn_peak_run(p, elem_size, iters);
#pragma omp barrier
#pragma omp master
            t1 = omp_get_wtime();
        }
        double g = flops_per_iter * (double)iters * team / (t1 - t0) / 1e9;
        if (g > best) best = g;
    }
    return sink == 12345.678 ? best + 1e-300 : best;
#else
    (void)seconds;
    return -1;
#endif
}

int64_t fnn_gemm_peak_round_flops(int elem_size) {
    if (elem_size != 4 && elem_size != 8) return -1;
#ifdef _OPENMP
    const fnn_peak_isa *p = fnn_peak_active();
    if (!p) return -1;
    return elem_size == 4 ? p->flops_f32() : p->flops_f64();
#else
    return -1;
#endif
}
