"""Whole training steps: fastnn's layers vs a hand-written NumPy step (vs torch)."""
import pytest

from conftest import CONTENDERS, bench_params, contender_fn


@pytest.mark.parametrize("who", CONTENDERS)
@pytest.mark.parametrize("workload", bench_params(["train"]))
def test_train_step(benchmark, workload, who):
    benchmark.group = workload.id
    benchmark(contender_fn(workload, who))
