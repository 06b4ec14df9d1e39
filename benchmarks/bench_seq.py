"""Sequence models, forward + backward: fastnn vs NumPy (vs torch).
LSTM (input 64, hidden 256, seq 64, batch 32) and causal attention (batch 8,
heads 4, seq 512, head dim 64).  `fastnn bench` prints the same ratios from
one interleaved run: python -c "from fastnn import bench; [print(bench.format_row(r))
for r in bench.run(bench.select(['seq']))]" """
import pytest

from conftest import CONTENDERS, bench_params, contender_fn


@pytest.mark.parametrize("who", CONTENDERS)
@pytest.mark.parametrize("workload", bench_params(["seq"]))
def test_seq(benchmark, workload, who):
    benchmark.group = workload.id
    benchmark(contender_fn(workload, who))
