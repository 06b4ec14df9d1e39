"""Threads on a shared machine: `fastnn bench --group threads`.

Two situations where a parallel call can lose to a serial one:

- busy core: another process keeps one core busy (this starts a spinning
  subprocess itself).  For each workload, 400 calls are timed at 1 and at 2
  threads in each of 7 rounds, which of the two goes first alternating
  round by round; the figure is the ratio of the median totals (2 threads /
  1 thread), which should be at most 1.1.
- beside NumPy: `numpy @` and fastnn alternate on the same product, each call
  timed right after the other library's.  fastnn's call is compared with its
  own 1-thread time (at most 2x), NumPy's with NumPy called alone (at most
  1.3x: fastnn's waiting holds no core NumPy's threads need).  Each of
  NUMPY_ROUNDS rounds times the calls alone and then alternating; the
  figures are the medians of the rounds' ratios.

Only fastnn's public API is used, so an older build can be measured the same
way (PYTHONPATH=that/src).
"""
import statistics
import subprocess
import sys
import time

import numpy as np

BUSY_CALLS = 400
BUSY_ROUNDS = 7  # the totals of one round swing by 10-20% on a shared machine


def mlp_step_fn(batch=128, seed=0):
    """One SGD step of a 784-512-512-10 MLP on a fixed batch, written as
    users write it (loss.backward())."""
    from . import manual_seed, nn, optim
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01)

    def step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def _matmul_fns(m, k, n, seed=0):
    from . import ops
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    out = np.empty((m, n), np.float32)
    out_np = np.empty_like(out)
    return (lambda: ops.matmul(a, b, out=out)), (lambda: np.matmul(a, b, out=out_np))


def busy_workloads():
    from . import ops
    x = np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32)
    out = np.empty_like(x)
    return {
        "sigmoid 1e6": lambda: ops.sigmoid(x, out=out),
        "matmul 256^3": _matmul_fns(256, 256, 256)[0],
        "MLP step 784-512-512-10 b128": mlp_step_fn(),
    }


def _spinner():
    """A process that keeps one core busy until killed."""
    p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)  # started and spinning
    return p


def _timed_calls(fn, calls):
    ts = np.empty(calls)
    t_all = time.perf_counter()
    for i in range(calls):
        t0 = time.perf_counter()
        fn()
        ts[i] = time.perf_counter() - t0
    return time.perf_counter() - t_all, ts


def busy_core(calls=BUSY_CALLS, rounds=BUSY_ROUNDS, out=print):
    """Rows {name, total_1, total_2, ratio, median_2, p99_2, over_2ms_2} with
    one core busy with another process."""
    import fastnn
    fns = busy_workloads()
    before = fastnn.get_num_threads()
    rows = []
    spin = _spinner()
    try:
        for name, fn in fns.items():
            totals = {1: [], 2: []}
            per_call = {1: [], 2: []}
            for r in range(rounds):
                for nt in ((1, 2) if r % 2 == 0 else (2, 1)):
                    fastnn.set_num_threads(nt)
                    for _ in range(10):
                        fn()
                    total, ts = _timed_calls(fn, calls)
                    totals[nt].append(total)
                    per_call[nt].append(ts)
            t1, t2 = statistics.median(totals[1]), statistics.median(totals[2])
            c2 = np.concatenate(per_call[2])
            c1 = np.concatenate(per_call[1])
            row = {"name": name, "total_1": t1, "total_2": t2, "ratio": t2 / t1,
                   "median_1": float(np.median(c1)), "median_2": float(np.median(c2)),
                   "p99_1": float(np.percentile(c1, 99)), "p99_2": float(np.percentile(c2, 99)),
                   "over_2ms_2": float(np.mean(c2 > 2e-3))}
            rows.append(row)
            out(f"  {name:<30} {calls} calls: 1 thread {t1 * 1e3:7.1f} ms, 2 threads {t2 * 1e3:7.1f} ms"
                f"  ratio {row['ratio']:5.2f}  | 2 threads: median {row['median_2'] * 1e3:6.3f} ms,"
                f" p99 {row['p99_2'] * 1e3:6.3f} ms, over 2 ms {100 * row['over_2ms_2']:4.1f}%"
                f"  (1 thread p99 {row['p99_1'] * 1e3:6.3f} ms)")
    finally:
        spin.kill()
        spin.wait()
        fastnn.set_num_threads(before)
    return rows


NUMPY_SHAPES = [(256, 256, 256, 300), (128, 784, 512, 200), (1024, 1024, 1024, 20)]
# Each round times the calls alone and then alternating, and the figures
# are the medians of the rounds' ratios: a slow phase of a shared machine
# between the alone and the alternating timings would otherwise decide a
# ratio by itself.
NUMPY_ROUNDS = 5


def _median_alone(fn, calls):
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), statistics.fmean(ts)


def _beside_numpy_round(f_fn, np_fn, calls, nthreads):
    """One round on one product: fastnn at 1 and nthreads threads alone,
    NumPy alone, then the two alternating; medians and means of each."""
    import fastnn
    # alone: fastnn at 1 thread after a pause (no NumPy thread spinning),
    # NumPy back to back (its threads awake)
    time.sleep(0.15)
    fastnn.set_num_threads(1)
    for _ in range(3):
        f_fn()
    f1 = _median_alone(f_fn, calls)
    fastnn.set_num_threads(nthreads)
    time.sleep(0.15)
    for _ in range(3):
        f_fn()
    f2 = _median_alone(f_fn, calls)
    for _ in range(3):
        np_fn()
    npa = _median_alone(np_fn, calls)
    f_after, np_after = [], []
    for _ in range(calls):
        t0 = time.perf_counter()
        np_fn()
        t1 = time.perf_counter()
        f_fn()
        t2 = time.perf_counter()
        np_after.append(t1 - t0)
        f_after.append(t2 - t1)
    np_after = np_after[1:]  # the first NumPy call follows no fastnn call
    return {"fastnn_1t": f1, "fastnn_alone": f2, "numpy_alone": npa,
            "fastnn_after_numpy": (statistics.median(f_after), statistics.fmean(f_after)),
            "numpy_after_fastnn": (statistics.median(np_after), statistics.fmean(np_after))}


def beside_numpy(shapes=NUMPY_SHAPES, rounds=NUMPY_ROUNDS, out=print):
    """Rows for fastnn and `numpy @` alternating on one product, at fastnn's
    default thread count: times are medians over the rounds, and each ratio
    is the median of the rounds' ratios (median over median, and mean over
    mean)."""
    import fastnn
    before = fastnn.get_num_threads()
    rows = []
    try:
        for m, k, n, calls in shapes:
            f_fn, np_fn = _matmul_fns(m, k, n)
            rs = [_beside_numpy_round(f_fn, np_fn, calls, before) for _ in range(rounds)]

            def med(key, i=0):
                return statistics.median(r[key][i] for r in rs)

            def ratios(key, ref, i=0):
                return [r[key][i] / r[ref][i] for r in rs]

            def ratio(key, ref, i=0):
                return statistics.median(ratios(key, ref, i))

            row = {"shape": f"{m}x{k}x{n}", "rounds": rounds, "fastnn_1t": med("fastnn_1t"),
                   "fastnn_alone": med("fastnn_alone"), "numpy_alone": med("numpy_alone"),
                   "fastnn_after_numpy": med("fastnn_after_numpy"),
                   "numpy_after_fastnn": med("numpy_after_fastnn"),
                   "fastnn_ratio": ratio("fastnn_after_numpy", "fastnn_1t"),
                   "fastnn_ratio_mean": ratio("fastnn_after_numpy", "fastnn_1t", 1),
                   "numpy_ratio": ratio("numpy_after_fastnn", "numpy_alone"),
                   "numpy_ratio_mean": ratio("numpy_after_fastnn", "numpy_alone", 1),
                   "numpy_ratio_range": (min(ratios("numpy_after_fastnn", "numpy_alone")),
                                         max(ratios("numpy_after_fastnn", "numpy_alone")))}
            rows.append(row)
            lo, hi = row["numpy_ratio_range"]
            out(f"  {row['shape']:<12} alone: fastnn 1 thread {row['fastnn_1t'] * 1e3:7.3f} ms, {before} threads"
                f" {row['fastnn_alone'] * 1e3:7.3f} ms, numpy {row['numpy_alone'] * 1e3:7.3f} ms | fastnn after numpy"
                f" {row['fastnn_after_numpy'] * 1e3:7.3f} ms ({row['fastnn_ratio']:4.2f}x its 1-thread time;"
                f" mean {row['fastnn_ratio_mean']:4.2f}x) | numpy after fastnn {row['numpy_after_fastnn'] * 1e3:7.3f} ms"
                f" ({row['numpy_ratio']:4.2f}x alone, rounds {lo:4.2f}-{hi:4.2f}; mean {row['numpy_ratio_mean']:4.2f}x)")
    finally:
        fastnn.set_num_threads(before)
    return rows


def main(out=print):
    import fastnn
    out(f"threads on a shared machine: fastnn {fastnn.__version__}, {fastnn.get_num_threads()} threads by default")
    out(f"one core busy with another process ({BUSY_CALLS} calls, median total of {BUSY_ROUNDS} alternated rounds;"
        " ratio = 2 threads / 1 thread, target <= 1.10):")
    busy = busy_core(out=out)
    time.sleep(0.2)
    out(f"alternating with `numpy @` (medians of {NUMPY_ROUNDS} rounds' ratios; fastnn target <= 2x its 1-thread"
        " time, numpy <= 1.3x alone):")
    mixed = beside_numpy(out=out)
    return {"busy_core": busy, "beside_numpy": mixed}


if __name__ == "__main__":
    main()
