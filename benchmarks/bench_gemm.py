"""GEMM benchmarks: fastnn vs NumPy (and torch when importable), float32 and
float64, every workload of fastnn.bench's "gemm" group (squares 64-4096, the
network shapes with their A^T B / A B^T backward products, the long-k
product, a fused linear+relu).

    pytest benchmarks/bench_gemm.py --benchmark-group-by=param:wid

Ratios and the fraction of the measured FMA peak: `fastnn bench --group gemm`
(interleaved rounds, one process).
"""
import pytest

from fastnn import bench

WORKLOADS = bench.select(["gemm"])
CONTENDERS = ["fastnn", "numpy", "torch"]


@pytest.fixture(scope="module")
def made():
    cache = {}

    def get(w):
        if w.id not in cache:
            cache.clear()  # keep one workload's arrays alive at a time
            cache[w.id] = w.make()
        return cache[w.id]
    return get


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("wid", [w.id for w in WORKLOADS])
def test_gemm(benchmark, made, wid, contender):
    w = next(w for w in WORKLOADS if w.id == wid)
    fns = made(w)
    if contender not in fns:  # only torch can be absent; the numpy column never is
        assert contender == "torch"
        pytest.skip("torch is not installed")
    benchmark.group = wid
    fl = w.flops()
    if fl:
        benchmark.extra_info["gflop"] = fl / 1e9
    benchmark(fns[contender])
