"""Single-thread GEMM comparison by CPU time, for shared machines.

When other processes keep the cores busy, wall-clock timings of threaded
code measure the scheduler (a parallel region waits a whole tick for a
descheduled worker) more than the kernels.  This runs the "gemm" workloads
of fastnn.bench with fastnn and NumPy's BLAS both limited to one thread and
times the calling thread's CPU time (time.thread_time), best of several
rounds, interleaved:

    python benchmarks/gemm_cpu_time.py [--quick]
"""
import sys
import time

import numpy as np
import threadpoolctl

import fastnn
from fastnn import _C, bench


def best_cpu_time(fn, number, rounds):
    best = float("inf")
    for _ in range(rounds):
        t0 = time.thread_time()
        for _ in range(number):
            fn()
        best = min(best, (time.thread_time() - t0) / number)
    return best


def main(argv):
    quick = "--quick" in argv
    fastnn.set_num_threads(1)
    with threadpoolctl.threadpool_limits(1):
        peak = {dt: max(_C.gemm_fma_peak(dt, 1, 0.1) for _ in range(3)) for dt in (np.float32, np.float64)}
        print(f"one core: FMA peak float32 {peak[np.float32]:.1f} GFLOPS, float64 {peak[np.float64]:.1f} GFLOPS")
        for w in bench.select(["gemm"], quick=quick):
            fns = w.make()
            fns.pop("torch", None)
            for f in fns.values():
                f()
            number = max(1, int(0.02 / max(best_cpu_time(fns["numpy"], 1, 1), 1e-7)))
            t = {k: best_cpu_time(f, number, 7) for k, f in fns.items()}
            pk = peak[np.float64 if "f64" in w.id else np.float32]
            fl = w.flops()
            print(f"{w.id:<40} fastnn {t['fastnn'] * 1e3:9.3f} ms  numpy {t['numpy'] * 1e3:9.3f} ms  "
                  f"x{t['numpy'] / t['fastnn']:5.2f}  {fl / t['fastnn'] / 1e9:6.1f} GFLOPS "
                  f"{100 * fl / t['fastnn'] / 1e9 / pk:5.1f}% of peak (numpy {100 * fl / t['numpy'] / 1e9 / pk:5.1f}%)",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
