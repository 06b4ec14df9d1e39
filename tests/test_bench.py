"""The benchmark protocol's canary: rounds wait out slow phases of the
machine (timings stay in the benchmark; these check the waiting logic with
a scripted speed)."""
from fastnn import bench


class Scripted:
    """speed() readings from a list, then the last one forever."""

    def __init__(self, values):
        self.values, self.calls = list(values), 0

    def __call__(self):
        v = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return v


def test_the_canary_waits_while_the_machine_is_slow():
    speed = Scripted([100, 50, 60, 95, 100])
    c = bench.Canary(speed, tol=0.9, max_wait=10, pause=0)
    c()  # the first reading sets the best
    assert (c.best, speed.calls) == (100, 1)
    c()  # 50 and 60 are slow; 95 is within 10% of 100
    assert speed.calls == 4 and c.slow_rounds == 0
    c()
    assert speed.calls == 5 and c.best == 100 and c.rounds == 3


def test_a_machine_slow_for_good_is_not_waited_on_every_round():
    speed = Scripted([100] + [40] * 5 + [42])
    c = bench.Canary(speed, tol=0.9, max_wait=0.02, pause=0.005)
    c()
    c()  # waits max_wait, then runs the round and takes the slow level as the best
    assert c.slow_rounds == 1 and 40 <= c.best <= 42 and c.waited >= 0.02
    n = speed.calls
    c()  # 42 is within 10% of the new best: no wait
    assert speed.calls == n + 1 and c.slow_rounds == 1


def test_run_calls_the_canary_before_every_round_and_reports_slow_rounds():
    calls = []

    class Always:
        rounds = slow_rounds = 0

        def __call__(self):
            calls.append(1)
            self.slow_rounds += 1

    w = bench.Workload("g", "w", None, lambda: {"fastnn": lambda: None, "numpy": lambda: None}, True, None, None)
    rows = bench.run([w], min_time=0.001, rounds=3, settle=0, canary=Always())
    assert len(calls) == 3 and rows[0]["slow_rounds"] == 3
    assert "3 rounds in a slow phase" in bench.format_row(rows[0])
    rows = bench.run([w], min_time=0.001, rounds=2, settle=0)
    assert "slow_rounds" not in rows[0] and "slow phase" not in bench.format_row(rows[0])


def test_the_default_canary_reads_the_fma_meter():
    c = bench.Canary(seconds=0.005)
    c()
    assert c.best > 0 and c.rounds == 1
