"""Convolution forward, grad-input and grad-weight (float32, default threads):
fastnn vs the NumPy as_strided im2col + matmul implementation of
fastnn/bench_numpy.py (vs torch when importable), on the workloads of
fastnn.bench.CONV_CONFIGS."""
import pytest

from conftest import CONTENDERS, bench_params, contender_fn


@pytest.mark.parametrize("who", CONTENDERS)
@pytest.mark.parametrize("workload", bench_params(["conv"]))
def test_conv(benchmark, workload, who):
    benchmark.group = workload.id
    benchmark(contender_fn(workload, who))
