"""Threads on a shared machine (fastnn.bench_threads): each workload at 1 and
2 threads while another process keeps one core busy, and fastnn beside
`numpy @`.  It loads a core on purpose: run it alone.

    python -m pytest benchmarks/bench_threads.py --benchmark-group-by=param:name
    python benchmarks/bench_threads.py      # the figures of `fastnn bench --group threads`
"""
import sys

import pytest

import fastnn
from fastnn import bench_threads

WORKLOADS = bench_threads.busy_workloads()


@pytest.fixture(scope="module")
def busy_core():
    spin = bench_threads._spinner()
    yield
    spin.kill()
    spin.wait()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_busy_core(benchmark, busy_core, restore_threads, name, threads):
    fastnn.set_num_threads(threads)
    benchmark.group = f"busy core: {name}"
    benchmark.pedantic(WORKLOADS[name], rounds=bench_threads.BUSY_CALLS, warmup_rounds=10)


@pytest.mark.parametrize("shape", bench_threads.NUMPY_SHAPES[:2], ids=lambda s: "x".join(map(str, s[:3])))
def test_fastnn_after_numpy(benchmark, shape):
    """fastnn's call, each right after a `numpy @` on the same shape."""
    m, k, n, _ = shape
    f_fn, np_fn = bench_threads._matmul_fns(m, k, n)
    benchmark.group = f"beside numpy: {m}x{k}x{n}"
    benchmark.pedantic(f_fn, setup=np_fn, rounds=200, warmup_rounds=5)


@pytest.fixture
def restore_threads():
    before = fastnn.get_num_threads()
    yield
    fastnn.set_num_threads(before)


if __name__ == "__main__":
    bench_threads.main()
    sys.exit(0)
