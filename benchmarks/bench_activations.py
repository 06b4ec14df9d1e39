"""Activations and softmax, forward and backward: fastnn vs NumPy (vs torch)."""
import pytest

from conftest import CONTENDERS, bench_params, contender_fn


@pytest.mark.parametrize("who", CONTENDERS)
@pytest.mark.parametrize("workload", bench_params(["activations", "memory"]))
def test_activation(benchmark, workload, who):
    benchmark.group = workload.id
    benchmark(contender_fn(workload, who))
