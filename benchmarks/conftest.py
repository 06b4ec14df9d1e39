"""pytest-benchmark suites over fastnn.bench's workloads: every workload is
measured for fastnn, for NumPy where the workload has a NumPy twin (all but
the LSTM and Transformer training steps), and for torch when importable.
Run: python -m pytest benchmarks/ --benchmark-group-by=param:workload"""
import pytest

from fastnn import bench

CONTENDERS = ["fastnn", "numpy", "torch"]


def bench_params(groups):
    return [pytest.param(w, id=w.id) for w in bench.select(groups)]


_made = {}


def contender_fn(workload, who):
    """The callable of one contender; a workload is built once and kept while its
    contenders are timed, one workload at a time."""
    if workload.id not in _made:
        _made.clear()  # keep one workload's data alive at a time
        _made[workload.id] = workload.make()
    fns = _made[workload.id]
    if who not in fns:
        assert who != "fastnn", f"{workload.id} has no fastnn column"
        pytest.skip("torch is not importable" if who == "torch" else f"{workload.id} has no NumPy twin")
    return fns[who]
