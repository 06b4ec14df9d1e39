"""Benchmark workloads shared by benchmarks/ (pytest-benchmark) and `fastnn bench`.

A workload builds its data once and returns one callable per contender:
"fastnn", "numpy" (always) and "torch" (when importable), all computing the
same thing on the same float32 data.  `run()` times the contenders
interleaved, round by round, so a slow phase of a shared machine hits all of
them alike, and reports medians and ratios (numpy time / fastnn time, so
> 1 means fastnn is faster).
"""
import contextlib
import math
import time

import numpy as np

WORKLOADS = []
# the short kernel table of `fastnn demo`
DEMO_WORKLOADS = ("relu", "sigmoid", "gelu", "softmax", "square_f32", "net_f32_AB_128x784x512", "conv2d_forward")


def workload(group, name, *, sizes=None, quick=None, flops=None, nbytes=None, peak=None):
    """Register `make(size) -> {contender: callable}` under group/name.
    flops(size) gives GFLOPS columns; peak() (GFLOPS the machine can do at
    most for this workload, measured) adds fastnn's fraction of it."""
    def deco(make):
        for size in (sizes or [None]):
            WORKLOADS.append(Workload(group, name, size, make, quick is None or size in quick, flops, nbytes, peak))
        return make
    return deco


class Workload:
    def __init__(self, group, name, size, make, quick, flops, nbytes, peak=None):
        self.group, self.name, self.size, self._make = group, name, size, make
        self.quick, self._flops, self._nbytes, self.peak = quick, flops, nbytes, peak

    @property
    def id(self):
        return f"{self.group}/{self.name}" + ("" if self.size is None else f"[{self.size:g}]")

    def make(self):
        return self._make(self.size) if self.size is not None else self._make()

    def flops(self):
        return self._flops(self.size) if self._flops else None

    def nbytes(self):
        return self._nbytes(self.size) if self._nbytes else None


def select(groups=None, quick=False):
    return [w for w in WORKLOADS if (groups is None or w.group in groups) and (w.quick or not quick)]


def torch_or_none():
    """torch, when importable and not switched off with FASTNN_BENCH_TORCH=0
    (its OpenMP pool keeps spinning after each call, which can slow the
    contender timed next on a machine with few cores)."""
    import os
    if os.environ.get("FASTNN_BENCH_TORCH", "1") == "0":
        return None
    try:
        import torch
    except Exception:  # not installed, or broken: the column is simply absent
        return None
    return torch


@contextlib.contextmanager
def threads(n):
    """Every contender on n threads for the duration (None: each library's
    default): fastnn's setting, NumPy's BLAS through threadpoolctl, and
    torch's intra-op pool; all restored afterwards."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    from . import get_num_threads, set_num_threads
    torch = torch_or_none()
    old, old_torch = get_num_threads(), torch.get_num_threads() if torch is not None else None
    set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(n, user_api="blas"):
            yield
    finally:
        set_num_threads(old)
        if torch is not None:
            torch.set_num_threads(old_torch)


def _time_once(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


class Canary:
    """Waits out the slow phases of a shared machine.  Called before each
    round of timings, it runs `speed()` (by default a short run of the
    FMA-peak meter on fastnn's threads, in GFLOPS); while that is below
    `tol` of the best seen, it sleeps `pause` seconds and runs it again, for
    up to `max_wait` seconds.  A round that still finds the machine slow
    then runs anyway (counted in `slow_rounds`), and the best becomes the
    fastest of that wait, so a machine slowed for good is not waited on at
    every round."""

    def __init__(self, speed=None, *, tol=0.9, max_wait=3.0, pause=0.25, seconds=0.02):
        if speed is None:
            def speed():
                from . import _C, get_num_threads
                return _C.gemm_fma_peak(np.float32, get_num_threads(), seconds)
        self.speed, self.tol, self.max_wait, self.pause = speed, tol, max_wait, pause
        self.best, self.waited, self.rounds, self.slow_rounds = 0.0, 0.0, 0, 0

    def __call__(self):
        self.rounds += 1
        c = self.speed()
        t0 = time.perf_counter()
        seen = c
        while c < self.tol * self.best:
            if time.perf_counter() - t0 >= self.max_wait:
                self.slow_rounds += 1
                self.best = seen
                break
            time.sleep(self.pause)
            c = self.speed()
            seen = max(seen, c)
        self.waited += time.perf_counter() - t0
        self.best = max(self.best, c)


def run(workloads, *, min_time=0.2, rounds=7, progress=None, settle=0.12, canary=None):
    """Time each workload's contenders interleaved; returns a list of dicts.

    Before each timing the process sleeps `settle` seconds: OpenBLAS's and
    OpenMP's worker threads keep spinning for a while after a call (OpenBLAS
    up to ~2^28 cycles), and on a machine with few cores they would otherwise
    steal a core from whichever contender is timed next.  After the pause
    each contender makes one untimed call, so the timing starts with its own
    threads awake (an idle core of a virtual machine can take several ms to
    wake, which would otherwise land in the first timed call).  `canary`
    (a Canary, or None) is called before each round, so rounds wait out a
    slow phase of the machine instead of timing it."""
    results = []
    for w in workloads:
        fns = w.make()
        for fn in fns.values():
            fn()  # warm up: first-touch pages, thread pool, caches
        # calls per timing so one timing lasts about min_time / rounds; each
        # estimate is taken after the pause too, or a call slowed by the
        # previous contender's spinning workers would be timed once only
        per = {}
        for k, f in fns.items():
            if settle:
                time.sleep(settle)
                f()
            per[k] = max(_time_once(f, 1), 1e-7)
        number = {k: max(1, int(min_time / rounds / t)) for k, t in per.items()}
        times = {k: [] for k in fns}
        slow_before = canary.slow_rounds if canary is not None else 0
        for _ in range(rounds):
            if canary is not None:
                canary()
            for k, f in fns.items():
                if settle:
                    time.sleep(settle)
                    f()
                times[k].append(_time_once(f, number[k]))
        med = {k: float(np.median(v)) for k, v in times.items()}
        row = {"id": w.id, "group": w.group, "name": w.name, "size": w.size, "median_s": med}
        if canary is not None and canary.slow_rounds > slow_before:
            row["slow_rounds"] = canary.slow_rounds - slow_before
        if "numpy" in med:
            row["ratio_vs_numpy"] = med["numpy"] / med["fastnn"]
        if "torch" in med:
            row["ratio_vs_torch"] = med["torch"] / med["fastnn"]
        fl, nb = w.flops(), w.nbytes()
        if fl:
            row["gflops"] = {k: fl / t / 1e9 for k, t in med.items()}
            if w.peak:
                row["peak_gflops"] = w.peak()
                row["fraction_of_peak"] = {k: g / row["peak_gflops"] for k, g in row["gflops"].items()}
        if nb:
            row["gbytes_per_s"] = {k: nb / t / 1e9 for k, t in med.items()}
        results.append(row)
        if progress:
            progress(row)
    return results


# The one protocol `fastnn bench` and `fastnn demo` both time with, so the
# demo's table shows what `fastnn bench` would for the same rows.
PROTOCOL = {"rounds": 7, "settle": 0.12}


def min_time(quick):
    """Seconds each contender is timed per workload (over all rounds)."""
    return 0.1 if quick else 0.3


def measure(workloads, *, quick=False, progress=None):
    """run() with the protocol of `fastnn bench` (interleaved rounds after a
    canary that waits out slow phases, a pause after every other
    contender's calls, medians)."""
    return run(workloads, min_time=min_time(quick), progress=progress, canary=Canary(), **PROTOCOL)


def header(torch, nthreads=None):
    on = "default threads" if nthreads is None else f"{nthreads} thread{'s' if nthreads > 1 else ''} each"
    return (f"fastnn vs numpy{' and torch' if torch else ''} (float32, {on}); "
            "x = their time / fastnn's time, medians of interleaved rounds, each after an FMA canary "
            "that waits out slow phases")


def machine():
    """A short description of this machine and the libraries compared."""
    import os
    import platform

    from . import __version__, get_isa, get_num_threads
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "isa": get_isa(), "threads": get_num_threads(),
            "fastnn": __version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        from threadpoolctl import threadpool_info
        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            info["numpy_blas"] = f"{blas[0].get('internal_api')} {blas[0].get('version')}"
    except Exception:  # threadpoolctl is optional: the entry is simply absent
        pass
    torch = torch_or_none()
    if torch is not None:
        info["torch"] = torch.__version__
    return info


def _ms(t):
    return f"{t * 1e3:.3f}"


def markdown(results, *, command, quick, info=None):
    """The results as a Markdown document: a header naming the machine, the
    command and the protocol, then one table per group."""
    info = machine() if info is None else info
    torch = any("ratio_vs_torch" in r for r in results)
    lines = ["# Benchmark results", "",
             f"Written by `{command}`; do not edit by hand, rerun the command.", "",
             f"- Run: {'quick (one size per workload, `--quick`)' if quick else 'full (every size)'}; "
             f"{PROTOCOL['rounds']} interleaved rounds, each after an FMA canary that waits out slow phases "
             f"of the machine, {PROTOCOL['settle']} s pause before each timing, "
             f"medians; x = their time / fastnn's time (above 1: fastnn is faster).",
             "- Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), ""]
    groups = []
    for r in results:
        if r["group"] not in groups:
            groups.append(r["group"])
    for g in groups:
        lines += [f"## {g}", ""]
        head = ["workload", "fastnn ms", "numpy ms", "x numpy"]
        if torch:
            head += ["torch ms", "x torch"]
        head += ["fastnn GFLOPS", "% of peak (numpy)", "GB/s"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in results:
            if r["group"] != g:
                continue
            t = r["median_s"]
            label = r["id"].split("/", 1)[1]
            if r["group"] == "conv":  # the index of a configuration means nothing to a reader
                label += f" ({conv_config_name(r['size'])})"
            row = [label, _ms(t["fastnn"])]
            row += [_ms(t["numpy"]), f"{r['ratio_vs_numpy']:.2f}"] if "numpy" in t else ["", ""]
            if torch:
                row += [_ms(t["torch"]) if "torch" in t else "", f"{r['ratio_vs_torch']:.2f}" if "ratio_vs_torch" in r else ""]
            row.append(f"{r['gflops']['fastnn']:.1f}" if "gflops" in r else "")
            f = r.get("fraction_of_peak")
            row.append((f"{100 * f['fastnn']:.0f}%" + (f" ({100 * f['numpy']:.0f}%)" if "numpy" in f else ""))
                       if f else "")
            row.append(f"{r['gbytes_per_s']['fastnn']:.1f}" if "gbytes_per_s" in r else "")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def format_row(r):
    t = r["median_s"]
    s = f"{r['id']:<40} fastnn {t['fastnn'] * 1e3:9.3f} ms"
    if "ratio_vs_numpy" in r:
        s += f"  numpy {t['numpy'] * 1e3:9.3f} ms  x{r['ratio_vs_numpy']:6.2f}"
    else:
        s += f"  numpy {'-':>9}   " + " " * 8
    if "ratio_vs_torch" in r:
        s += f"  torch {t['torch'] * 1e3:9.3f} ms  x{r['ratio_vs_torch']:6.2f}"
    if "gflops" in r:
        s += f"  {r['gflops']['fastnn']:7.1f} GFLOPS"
    if "fraction_of_peak" in r:
        f = r["fraction_of_peak"]
        others = ", ".join(f"{k} {100 * v:5.1f}%" for k, v in f.items() if k != "fastnn")
        s += f"  {100 * f['fastnn']:5.1f}% of peak ({others})"
    if "gbytes_per_s" in r:
        s += f"  {r['gbytes_per_s']['fastnn']:6.1f} GB/s"
    if r.get("slow_rounds"):
        s += f"  ({r['slow_rounds']} rounds in a slow phase)"
    return s


# ---------------------------------------------------------------- activations

ACT_SIZES = [100_000, 1_000_000, 16_000_000]


def _act_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n, dtype=np.float32) * 3
    g = rng.standard_normal(n, dtype=np.float32)
    return x, g


def _erf():
    from scipy.special import erf
    return erf


def _unary_workload(name, fnn_fn, np_fn, torch_fn):
    def make(n):
        from . import ops  # noqa: F401
        x, g = _act_data(int(n))
        # both allocate their result, as each library's users call them
        fns = {"fastnn": lambda: fnn_fn(x, g), "numpy": lambda: np_fn(x, g)}
        torch = torch_or_none()
        if torch is not None:
            tx, tg = torch.from_numpy(x), torch.from_numpy(g)
            fns["torch"] = lambda: torch_fn(torch, tx, tg)
        return fns
    workload("activations", name, sizes=ACT_SIZES, quick=[1_000_000],
             nbytes=lambda n: 8 * n if "backward" not in name else 12 * n)(make)


def _register_activations():
    from . import ops
    s2 = 1 / math.sqrt(2)
    inv_sqrt_2pi = 1 / math.sqrt(2 * math.pi)

    _unary_workload("relu", lambda x, g: ops.relu(x), lambda x, g: np.maximum(x, 0),
                    lambda t, x, g: t.relu(x))
    _unary_workload("relu_backward", lambda x, g: ops.relu_backward(g, x),
                    lambda x, g: np.where(x > 0, g, 0), lambda t, x, g: t.ops.aten.threshold_backward(g, x, 0))
    _unary_workload("sigmoid", lambda x, g: ops.sigmoid(x), lambda x, g: 1 / (1 + np.exp(-x)),
                    lambda t, x, g: t.sigmoid(x))
    _unary_workload("sigmoid_backward", lambda x, g: ops.sigmoid_backward(g, x),
                    lambda x, g: g * x * (1 - x), lambda t, x, g: t.ops.aten.sigmoid_backward(g, x))
    _unary_workload("tanh", lambda x, g: ops.tanh(x), lambda x, g: np.tanh(x),
                    lambda t, x, g: t.tanh(x))
    _unary_workload("tanh_backward", lambda x, g: ops.tanh_backward(g, x),
                    lambda x, g: g * (1 - x * x), lambda t, x, g: t.ops.aten.tanh_backward(g, x))
    _unary_workload("gelu", lambda x, g: ops.gelu(x),
                    lambda x, g: x * np.float32(0.5) * (1 + _erf()(x * np.float32(s2))),
                    lambda t, x, g: t.nn.functional.gelu(x))
    _unary_workload("gelu_backward", lambda x, g: ops.gelu_backward(g, x),
                    lambda x, g: g * (np.float32(0.5) * (1 + _erf()(x * np.float32(s2)))
                                      + x * np.exp(np.float32(-0.5) * x * x) * np.float32(inv_sqrt_2pi)),
                    lambda t, x, g: t.ops.aten.gelu_backward(g, x))

    def rows(name, fnn_fn, np_fn, torch_fn):
        def make(n):
            x, g = _act_data(int(n))
            x, g = x.reshape(-1, 1000), g.reshape(-1, 1000)
            y = ops.softmax(x) if "backward" in name and "log" not in name else (
                ops.log_softmax(x) if "backward" in name else x)
            fns = {"fastnn": lambda: fnn_fn(y, g), "numpy": lambda: np_fn(y, g)}
            torch = torch_or_none()
            if torch is not None:
                ty, tg = torch.from_numpy(y), torch.from_numpy(g)
                fns["torch"] = lambda: torch_fn(torch, ty, tg)
            return fns
        workload("activations", name, sizes=ACT_SIZES, quick=[1_000_000],
                 nbytes=lambda n: 8 * n if "backward" not in name else 12 * n)(make)

    def np_softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def np_log_softmax(x):
        s = x - x.max(axis=1, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=1, keepdims=True))

    rows("softmax", lambda x, g: ops.softmax(x), lambda x, g: np_softmax(x),
         lambda t, x, g: t.softmax(x, 1))
    rows("softmax_backward", lambda y, g: ops.softmax_backward(g, y),
         lambda y, g: y * (g - (g * y).sum(axis=1, keepdims=True)),
         lambda t, y, g: t.ops.aten._softmax_backward_data(g, y, 1, t.float32))
    rows("log_softmax", lambda x, g: ops.log_softmax(x), lambda x, g: np_log_softmax(x),
         lambda t, x, g: t.log_softmax(x, 1))
    rows("log_softmax_backward", lambda y, g: ops.log_softmax_backward(g, y),
         lambda y, g: g - np.exp(y) * g.sum(axis=1, keepdims=True),
         lambda t, y, g: t.ops.aten._log_softmax_backward_data(g, y, 1, t.float32))

    def make_copy(n):
        x, _ = _act_data(int(n))
        out = np.empty_like(x)
        # The machine's copy bandwidth, for relu's streaming target: both
        # columns copy (numpy with one core, fastnn's relu is the contender).
        return {"fastnn": lambda: ops.relu(x, out=out), "numpy": lambda: np.copyto(out, x)}
    workload("memory", "relu_vs_copy", sizes=[16_000_000], quick=[16_000_000], nbytes=lambda n: 8 * n)(make_copy)


_register_activations()


# ---------------------------------------------------------------- losses, normalisation, optimizers

def _register_nn():
    from . import _C, ops

    def make_ce(rows):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((int(rows), 1000), dtype=np.float32)
        t = rng.integers(0, 1000, int(rows))
        r = np.arange(int(rows))

        def numpy_ce():
            m = x.max(1, keepdims=True)
            e = np.exp(x - m)
            s = e.sum(1, keepdims=True)
            loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - x[r, t]))
            g = e / s
            g[r, t] -= 1
            return loss, g / len(r)
        fns = {"fastnn": lambda: ops.cross_entropy(x, t), "numpy": numpy_ce}
        torch = torch_or_none()
        if torch is not None:
            tx, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t)

            def torch_ce():
                tx.grad = None
                torch.nn.functional.cross_entropy(tx, tt).backward()
            fns["torch"] = torch_ce
        return fns
    workload("nn", "cross_entropy_fwd_bwd", sizes=[64, 1024], quick=[1024])(make_ce)

    def make_ln(rows):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((int(rows), 1024), dtype=np.float32)
        w, b = np.ones(1024, np.float32), np.zeros(1024, np.float32)

        def numpy_ln():
            m = x.mean(1, keepdims=True)
            return (x - m) / np.sqrt(x.var(1, keepdims=True) + np.float32(1e-5)) * w + b
        fns = {"fastnn": lambda: ops.layer_norm(x, w, b), "numpy": numpy_ln}
        torch = torch_or_none()
        if torch is not None:
            tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
            fns["torch"] = lambda: torch.nn.functional.layer_norm(tx, (1024,), tw, tb)
        return fns
    workload("nn", "layer_norm", sizes=[256, 4096], quick=[4096], nbytes=lambda n: 8 * 1024 * n)(make_ln)

    def make_bn(n):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((int(n), 64, 28, 28), dtype=np.float32)
        rm, rv = np.zeros(64, np.float32), np.ones(64, np.float32)

        def numpy_bn():
            m = x.mean((0, 2, 3), keepdims=True)
            return (x - m) / np.sqrt(x.var((0, 2, 3), keepdims=True) + np.float32(1e-5))
        fns = {"fastnn": lambda: ops.batch_norm(x, rm, rv, training=True), "numpy": numpy_bn}
        torch = torch_or_none()
        if torch is not None:
            tx, trm, trv = (torch.from_numpy(a.copy()) for a in (x, rm, rv))
            fns["torch"] = lambda: torch.nn.functional.batch_norm(tx, trm, trv, training=True)
        return fns
    workload("nn", "batch_norm2d_train", sizes=[32], quick=[32], nbytes=lambda n: 8 * 64 * 784 * n)(make_bn)

    def make_adam(n):
        rng = np.random.default_rng(0)
        p = rng.standard_normal(int(n), dtype=np.float32)
        g = rng.standard_normal(int(n), dtype=np.float32)
        m, v = np.zeros_like(p), np.zeros_like(p)
        pn, mn, vn = p.copy(), m.copy(), v.copy()

        def numpy_adam():
            mn[:] = 0.9 * mn + 0.1 * g
            vn[:] = 0.999 * vn + 0.001 * g * g
            pn[:] -= 1e-3 * (mn / 0.1) / (np.sqrt(vn / 0.001) + 1e-8)
        fns = {"fastnn": lambda: _C.adam_step(p, g, m, v, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False),
               "numpy": numpy_adam}
        torch = torch_or_none()
        if torch is not None:
            tp = torch.from_numpy(p.copy())
            tp.grad = torch.from_numpy(g)
            opt = torch.optim.Adam([tp], lr=1e-3, foreach=False)
            fns["torch"] = opt.step
        return fns
    workload("optim", "adam_step", sizes=[1_000_000, 16_000_000], quick=[1_000_000],
             nbytes=lambda n: 28 * n)(make_adam)


_register_nn()


# ---------------------------------------------------------------- whole training steps

def _register_train():
    from . import manual_seed, nn, optim
    from .bench_numpy import NumpyLeNet5, NumpyMLP

    def step_fns(model, ref, torch_model, x, y, head=None, torch_head=None):
        """One SGD-with-momentum step of each contender on the same batch,
        written as each library's users write it (fastnn and torch:
        loss.backward(); NumPy: the layers' gradients by hand, none for the
        input batch); torch_model(torch.nn) builds the torch twin when torch
        is importable; head(out) / torch_head(out) picks what the loss sees."""
        loss_fn = nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def fastnn_step():
            out = model(x)
            loss = loss_fn(out if head is None else head(out), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        fns = {"fastnn": fastnn_step}
        if ref is not None:
            fns["numpy"] = lambda: ref.step(x, y)
        torch = torch_or_none()
        if torch is not None:
            tm = torch_model(torch.nn)
            topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)

            def torch_step():
                out = tm(tx)
                loss = torch.nn.functional.cross_entropy(out if torch_head is None else torch_head(out), ty)
                topt.zero_grad()
                loss.backward()
                topt.step()
            fns["torch"] = torch_step
        return fns

    def batch_of(shape, classes=10):
        rng = np.random.default_rng(0)
        return rng.standard_normal(shape, dtype=np.float32), rng.integers(0, classes, shape[0])

    def peak():
        return fma_peak(np.float32)

    def mlp_step(batch):
        x, y = batch_of((batch, 784))
        manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        return step_fns(model, NumpyMLP([784, 512, 512, 10]), lambda T: T.Sequential(
            T.Linear(784, 512), T.ReLU(), T.Linear(512, 512), T.ReLU(), T.Linear(512, 10)), x, y)

    def mlp_flops(batch):
        macs = 784 * 512 + 512 * 512 + 512 * 10
        # forward and grad-weight for every layer, grad-input for all but the first
        return 2 * batch * (3 * macs - 784 * 512)
    workload("train", "mlp_784_512_512_10_step", sizes=[128, 32], quick=[128, 32], flops=mlp_flops,
             peak=peak)(mlp_step)

    def lenet_step(batch):
        x, y = batch_of((batch, 1, 28, 28))
        manual_seed(0)

        def lenet(T):  # the same layers in fastnn.nn and torch.nn
            return T.Sequential(T.Conv2d(1, 6, 5, padding=2), T.ReLU(), T.MaxPool2d(2), T.Conv2d(6, 16, 5), T.ReLU(),
                                T.MaxPool2d(2), T.Flatten(), T.Linear(400, 120), T.ReLU(), T.Linear(120, 84),
                                T.ReLU(), T.Linear(84, 10))
        return step_fns(lenet(nn), NumpyLeNet5(), lenet, x, y)

    def lenet_flops(batch):
        macs = 6 * 25 * 28 * 28 + 16 * 150 * 10 * 10 + 400 * 120 + 120 * 84 + 84 * 10
        return 2 * batch * (3 * macs - 6 * 25 * 28 * 28)  # no grad-input for the first conv
    workload("train", "lenet5_step", sizes=[64], quick=[64], flops=lenet_flops, peak=peak)(lenet_step)

    # LSTM: input 64, hidden 256, 64 steps, batch 32, a 10-way head on the last step
    def lstm_step(size=None):
        x, y = batch_of((32, 64, 64))
        manual_seed(0)

        def build(T):
            class Model(T.Module):
                def __init__(self):
                    super().__init__()
                    self.lstm = T.LSTM(64, 256, batch_first=True)
                    self.head = T.Linear(256, 10)

                def forward(self, inp):
                    return self.head(self.lstm(inp)[0][:, -1])
            return Model()
        return step_fns(build(nn), None, build, x, y)

    def lstm_flops(size=None):
        b, t, i, h = 32, 64, 64, 256
        macs = b * t * 4 * h * (i + h)
        return 2 * (3 * macs - b * t * 4 * h * i) + 2 * 3 * b * h * 10  # no grad for the input batch
    workload("train", "lstm_i64_h256_t64_b32_step", flops=lstm_flops, peak=peak)(lstm_step)

    # Transformer: d 128, 2 pre-norm layers, 4 heads, ff 512, causal, 64 tokens, batch 32,
    # a 10-way head at every position
    def transformer_step(size=None):
        x, _ = batch_of((32, 64, 128))
        y = np.random.default_rng(1).integers(0, 10, 32 * 64)
        manual_seed(0)
        blocks = nn.Sequential(*[nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, activation="gelu",
                                                            norm_first=True, batch_first=True, causal=True)
                                 for _ in range(2)])
        model = nn.Sequential(blocks, nn.Linear(128, 10))

        def torch_model(T):
            import torch

            class Model(T.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = T.ModuleList([T.TransformerEncoderLayer(
                        128, 4, 512, dropout=0.0, activation="gelu", norm_first=True, batch_first=True)
                        for _ in range(2)])
                    self.head = T.Linear(128, 10)
                    self.mask = torch.nn.Transformer.generate_square_subsequent_mask(64)

                def forward(self, inp):
                    for blk in self.blocks:
                        inp = blk(inp, src_mask=self.mask, is_causal=True)
                    return self.head(inp)
            return Model()
        return step_fns(model, None, torch_model, x, y, head=lambda o: o.reshape(-1, 10),
                        torch_head=lambda o: o.reshape(-1, 10))

    def transformer_flops(size=None):
        b, t, d, ff, layers = 32, 64, 128, 512, 2
        per_token = layers * (4 * d * d + 2 * d * ff) + d * 10
        attn = layers * b * t * t * d  # causal: half of the 2 t^2 d products
        macs = b * t * per_token + attn
        return 2 * 3 * macs
    workload("train", "transformer_d128_l2_t64_b32_step", flops=transformer_flops, peak=peak)(transformer_step)


_register_train()

# ---------------------------------------------------------------- convolution

# (N, C, H=W, K, R=S, stride, padding, groups): LeNet-5's two layers, the 3x3
# layers of a ResNet at 56^2-14^2, a 1x1 bottleneck, a stride-2 downsampling
# layer and a depthwise layer
CONV_CONFIGS = [
    (64, 1, 28, 6, 5, 1, 0, 1),
    (64, 6, 14, 16, 5, 1, 0, 1),
    (8, 64, 56, 64, 3, 1, 1, 1),
    (8, 128, 28, 128, 3, 1, 1, 1),
    (8, 256, 14, 256, 3, 1, 1, 1),
    (8, 256, 56, 64, 1, 1, 0, 1),
    (8, 64, 56, 128, 3, 2, 1, 1),
    (8, 128, 28, 128, 3, 1, 1, 128),  # depthwise
]
CONV_PASSES = ("conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight")


def conv_config_name(i):
    n, c, h, k, r, st, pd, g = CONV_CONFIGS[int(i)]
    dw = " depthwise" if g > 1 else ""
    return f"N={n} C={c} {h}x{h} K={k} {r}x{r} stride {st} pad {pd}{dw}"


def _conv_flops(i):
    n, c, h, k, r, st, pd, g = CONV_CONFIGS[int(i)]
    p = (h + 2 * pd - r) // st + 1
    return 2.0 * n * k * (c // g) * r * r * p * p


def _register_conv():
    from . import bench_numpy as npc
    from . import ops

    def make(pass_name):
        def mk(i):
            n, c, h, k, r, st, pd, g = CONV_CONFIGS[int(i)]
            rng = np.random.default_rng(0)
            x = rng.standard_normal((n, c, h, h), dtype=np.float32)
            w = (rng.standard_normal((k, c // g, r, r), dtype=np.float32) / np.float32(np.sqrt(c // g * r * r)))
            b = rng.standard_normal(k, dtype=np.float32)
            p = (h + 2 * pd - r) // st + 1
            gy = rng.standard_normal((n, k, p, p), dtype=np.float32)
            kw = dict(stride=st, padding=pd, groups=g)
            dw = g > 1 and g == c == k
            if pass_name == "conv2d_forward":
                fns = {"fastnn": lambda: ops.conv2d(x, w, b, **kw),
                       "numpy": (lambda: npc.conv2d_depthwise(x, w, b, st, pd)) if dw else
                       (lambda: npc.conv2d(x, w, b, st, pd, g))}
            elif pass_name == "conv2d_grad_input":
                fns = {"fastnn": lambda: ops.conv2d_backward(gy, x, w, **kw, need_weight=False, need_bias=False),
                       "numpy": (lambda: npc.conv2d_grad_input_depthwise(gy, x.shape, w, st, pd)) if dw else
                       (lambda: npc.conv2d_grad_input(gy, x.shape, w, st, pd, g))}
            else:
                fns = {"fastnn": lambda: ops.conv2d_backward(gy, x, w, **kw, need_input=False, need_bias=False),
                       "numpy": (lambda: npc.conv2d_grad_weight_depthwise(gy, x, w.shape, st, pd)) if dw else
                       (lambda: npc.conv2d_grad_weight(gy, x, w.shape, st, pd, g))}
            torch = torch_or_none()
            if torch is not None:
                tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, gy))
                F = torch.nn.functional
                mask = {"conv2d_forward": None, "conv2d_grad_input": [True, False, False],
                        "conv2d_grad_weight": [False, True, False]}[pass_name]
                if mask is None:
                    fns["torch"] = lambda: F.conv2d(tx, tw, tb, stride=st, padding=pd, groups=g)
                else:
                    def torch_bwd():
                        with torch.no_grad():
                            return torch.ops.aten.convolution_backward(tg, tx, tw, None, [st, st], [pd, pd], [1, 1],
                                                                       False, [0, 0], g, mask)
                    fns["torch"] = torch_bwd
            return fns
        return mk

    for pass_name in CONV_PASSES:
        workload("conv", pass_name, sizes=list(range(len(CONV_CONFIGS))), quick=[2], flops=_conv_flops,
                 peak=lambda: fma_peak(np.float32))(make(pass_name))


_register_conv()

# ---------------------------------------------------------------- gemm

_PEAK = {}


def fma_peak(dtype):
    """This CPU's FMA peak (GFLOPS) for dtype at fastnn's default thread
    count, measured once per process: independent FMA chains in the GEMM
    micro-kernel's register footprint on the active ISA (best of several
    runs, since the machine may be shared)."""
    from . import _C, get_num_threads
    key = (np.dtype(dtype).name, get_num_threads())
    if key not in _PEAK:
        _PEAK[key] = max(_C.gemm_fma_peak(dtype, key[1], 0.1) for _ in range(3))
    return _PEAK[key]


GEMM_SQUARES = [64, 128, 256, 512, 1024, 2048, 4096]
# (m, k, n) of a layer's forward product x (m, k) @ W (k, n); the backward
# products are A^T B (dW = x^T dy: (k, m) @ (m, n)) and A B^T (dx = dy W^T:
# (m, n) @ (n, k)), with the same operand shapes.
GEMM_NET = [(128, 784, 512), (128, 512, 10), (32, 64, 64)]


def _gemm_fns(a, b, ta, tb):
    from . import ops
    A = a.T if ta else a
    B = b.T if tb else b
    out = np.empty((A.shape[0], B.shape[1]), a.dtype)
    out_np = np.empty_like(out)
    fns = {"fastnn": lambda: ops.matmul(a, b, out=out, trans_a=ta, trans_b=tb),
           "numpy": lambda: np.matmul(A, B, out=out_np)}
    torch = torch_or_none()
    if torch is not None:
        ta_, tb_ = torch.from_numpy(a), torch.from_numpy(b)
        tA, tB = (ta_.T if ta else ta_), (tb_.T if tb else tb_)
        tout = torch.from_numpy(np.empty_like(out))
        fns["torch"] = lambda: torch.mm(tA, tB, out=tout)
    return fns


def _register_gemm():
    for dt in (np.float32, np.float64):
        tag = np.dtype(dt).name.replace("float", "f")

        def make_square(n, dt=dt):
            rng = np.random.default_rng(0)
            a = rng.standard_normal((int(n), int(n))).astype(dt)
            b = rng.standard_normal((int(n), int(n))).astype(dt)
            return _gemm_fns(a, b, False, False)
        workload("gemm", f"square_{tag}", sizes=GEMM_SQUARES, quick=[256, 1024],
                 flops=lambda n: 2.0 * n ** 3, peak=lambda dt=dt: fma_peak(dt))(make_square)

        for m, k, n in GEMM_NET:
            for kind in ("AB", "AtB", "ABt"):
                # stored operand shapes and transposes of each product
                if kind == "AB":
                    sa, sb, ta, tb, flops = (m, k), (k, n), False, False, 2.0 * m * k * n
                elif kind == "AtB":
                    sa, sb, ta, tb, flops = (m, k), (m, n), True, False, 2.0 * k * m * n
                else:
                    sa, sb, ta, tb, flops = (m, n), (k, n), False, True, 2.0 * m * n * k

                def make_net(sa=sa, sb=sb, ta=ta, tb=tb, dt=dt):
                    rng = np.random.default_rng(1)
                    return _gemm_fns(rng.standard_normal(sa).astype(dt), rng.standard_normal(sb).astype(dt), ta, tb)
                workload("gemm", f"net_{tag}_{kind}_{m}x{k}x{n}", flops=lambda _s=None, f=flops: f,
                         peak=lambda dt=dt: fma_peak(dt))(make_net)

        def make_longk(dt=dt):
            rng = np.random.default_rng(2)
            return _gemm_fns(rng.standard_normal((64, 4096)).astype(dt), rng.standard_normal((4096, 64)).astype(dt),
                             False, False)
        workload("gemm", f"longk_{tag}_64x4096x64", flops=lambda _s=None: 2.0 * 64 * 4096 * 64,
                 peak=lambda dt=dt: fma_peak(dt))(make_longk)

    def make_linear():
        from . import ops
        rng = np.random.default_rng(3)
        x = rng.standard_normal((128, 784)).astype(np.float32)
        w = rng.standard_normal((512, 784)).astype(np.float32)
        bias = rng.standard_normal(512).astype(np.float32)
        out = np.empty((128, 512), np.float32)
        out_np = np.empty_like(out)

        def np_linear():
            np.matmul(x, w.T, out=out_np)
            np.add(out_np, bias, out=out_np)
            np.maximum(out_np, 0, out=out_np)
        fns = {"fastnn": lambda: ops.linear(x, w, bias, activation="relu", out=out), "numpy": np_linear}
        torch = torch_or_none()
        if torch is not None:
            tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(bias)
            fns["torch"] = lambda: torch.relu(torch.nn.functional.linear(tx, tw, tb))
        return fns
    workload("gemm", "linear_relu_f32_128x784x512", flops=lambda _s=None: 2.0 * 128 * 784 * 512,
             peak=lambda: fma_peak(np.float32))(make_linear)


_register_gemm()



# ---------------------------------------------------------------- sequence models

def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_lstm_fwd_bwd(x, w_ih, w_hh, b, gy):
    """A plain NumPy LSTM (time-major x (T, B, I), PyTorch gate order) forward
    and backward through time, BLAS matmuls: the benchmark's peer."""
    steps, batch, _ = x.shape
    hid = w_hh.shape[1]
    pre = (x.reshape(steps * batch, -1) @ w_ih.T + b).reshape(steps, batch, 4 * hid)
    h = np.zeros((batch, hid), x.dtype)
    c = np.zeros((batch, hid), x.dtype)
    hs, cs, acts = [h], [c], []
    for t in range(steps):
        g = pre[t] + h @ w_hh.T
        i, f = _np_sigmoid(g[:, :hid]), _np_sigmoid(g[:, hid:2 * hid])
        gg, o = np.tanh(g[:, 2 * hid:3 * hid]), _np_sigmoid(g[:, 3 * hid:])
        c = f * c + i * gg
        h = o * np.tanh(c)
        hs.append(h)
        cs.append(c)
        acts.append((i, f, gg, o))
    dG = np.empty_like(pre)
    dh = np.zeros((batch, hid), x.dtype)
    dc = np.zeros((batch, hid), x.dtype)
    for t in reversed(range(steps)):
        i, f, gg, o = acts[t]
        dh = dh + gy[t]
        tc = np.tanh(cs[t + 1])
        dc = dc + dh * o * (1 - tc * tc)
        dG[t, :, :hid] = dc * gg * i * (1 - i)
        dG[t, :, hid:2 * hid] = dc * cs[t] * f * (1 - f)
        dG[t, :, 2 * hid:3 * hid] = dc * i * (1 - gg * gg)
        dG[t, :, 3 * hid:] = dh * tc * o * (1 - o)
        dc = dc * f
        dh = dG[t] @ w_hh
    d2 = dG.reshape(steps * batch, -1)
    dw_ih = d2.T @ x.reshape(steps * batch, -1)
    dw_hh = d2[batch:].T @ np.stack(hs[1:-1]).reshape(-1, hid) if steps > 1 else np.zeros_like(w_hh)
    db = d2.sum(0)
    dx = (d2 @ w_ih).reshape(x.shape)
    return np.stack(hs[1:]), dx, dw_ih, dw_hh, db


def numpy_attention_fwd_bwd(q, k, v, go, causal, scale):
    """Plain NumPy attention forward and backward on whole score matrices
    (BLAS matmuls, additive causal mask): the benchmark's peer."""
    s = q @ k.transpose(0, 1, 3, 2) * q.dtype.type(scale)
    if causal:
        sq, sk = s.shape[-2:]
        s += np.where(np.arange(sk)[None, :] > np.arange(sq)[:, None], -np.inf, 0).astype(q.dtype)
    s -= s.max(-1, keepdims=True)
    p = np.exp(s, out=s)
    p /= p.sum(-1, keepdims=True)
    o = p @ v
    dv = p.transpose(0, 1, 3, 2) @ go
    dp = go @ v.transpose(0, 1, 3, 2)
    dp -= (go * o).sum(-1, keepdims=True)
    dp *= p
    dp *= q.dtype.type(scale)
    return o, dp @ k, dp.transpose(0, 1, 3, 2) @ q, dv


def _register_seq():
    from . import nn, ops, tensor

    def make_lstm(size=None):
        steps, batch, n_in, hid = 64, 32, 64, 256
        rng = np.random.default_rng(0)
        m = nn.LSTM(n_in, hid, batch_first=False)
        x = rng.standard_normal((steps, batch, n_in), dtype=np.float32)
        gy = rng.standard_normal((steps, batch, hid), dtype=np.float32)
        w_ih, w_hh = m.weight_ih_l0.data, m.weight_hh_l0.data
        b = m.bias_ih_l0.data + m.bias_hh_l0.data

        xt = tensor(x, requires_grad=True)

        def fastnn_step():
            xt.grad = None
            y, _ = m(xt)
            y.backward(gy)
        fns = {"fastnn": fastnn_step, "numpy": lambda: numpy_lstm_fwd_bwd(x, w_ih, w_hh, b, gy)}
        torch = torch_or_none()
        if torch is not None:
            tm = torch.nn.LSTM(n_in, hid)
            tx, tg = torch.from_numpy(x).requires_grad_(), torch.from_numpy(gy)

            def torch_step():
                y, _ = tm(tx)
                y.backward(tg)
            fns["torch"] = torch_step
        return fns
    workload("seq", "lstm_fwd_bwd_i64_h256_t64_b32", flops=lambda s: 3 * 2 * 64 * 32 * 4 * 256 * (64 + 256))(make_lstm)

    def make_attn(size=None):
        b, h, s, d = 8, 4, 512, 64
        rng = np.random.default_rng(0)
        q, k, v, go = (rng.standard_normal((b, h, s, d), dtype=np.float32) for _ in range(4))
        scale = 1 / math.sqrt(d)

        def fastnn_step():
            o, lse = ops.attention_forward_lse(q, k, v, causal=True)
            ops.attention_backward_lse(go, q, k, v, o, lse, causal=True)
        fns = {"fastnn": fastnn_step, "numpy": lambda: numpy_attention_fwd_bwd(q, k, v, go, True, scale)}
        torch = torch_or_none()
        if torch is not None:
            tq, tk, tv = (torch.from_numpy(a).requires_grad_() for a in (q, k, v))
            tg = torch.from_numpy(go)

            def torch_step():
                o = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
                o.backward(tg)
            fns["torch"] = torch_step
        return fns
    # flops of the dense computation (2 forward + 4 backward products of s x s x d)
    workload("seq", "attention_causal_fwd_bwd_b8_h4_s512_d64",
             flops=lambda s: 6 * 2 * 8 * 4 * 512 * 512 * 64)(make_attn)


_register_seq()
