"""Reliability: concurrency, the GIL, memory held flat over many steps,
bit-identical training at any thread count."""
import resource
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastnn
from fastnn import nn, ops, optim


def _mlp(seed):
    fastnn.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 48), nn.GELU(), nn.Linear(48, 10))


def _train(model, steps, seed=0):
    X, y, _, _ = fastnn.datasets.load_digits()
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, len(y), 64)
        loss = loss_fn(model(X[idx]), y[idx])
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


def test_training_bit_identical_at_any_thread_count(restore_threads):
    results = []
    for nt in (1, 2):
        fastnn.set_num_threads(nt)
        model = _mlp(0)
        losses = _train(model, 50)
        results.append((losses, [p.data.tobytes() for p in model.parameters()]))
    assert results[0] == results[1]


def test_cnn_training_bit_identical_at_any_thread_count(restore_threads):
    X, y, _, _ = fastnn.datasets.load_digits()
    X = X.reshape(-1, 1, 8, 8)
    results = []
    for nt in (1, 2):
        fastnn.set_num_threads(nt)
        fastnn.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3),
                              nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16, 10))
        loss_fn = nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        rng = np.random.default_rng(0)
        losses = []
        for _ in range(50):
            idx = rng.integers(0, len(y), 64)
            loss = loss_fn(model(X[idx]), y[idx])
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
        results.append((losses, [p.data.tobytes() for p in model.parameters()]))
    assert results[0] == results[1]


def test_concurrent_python_threads_get_correct_results():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 250)).astype(np.float32)
    x = rng.standard_normal((1000, 500)).astype(np.float32)
    ref_mm = ops.matmul(a, b)
    ref_sig = ops.sigmoid(x)
    ref_sm = ops.softmax(x)
    img = rng.standard_normal((4, 8, 20, 20)).astype(np.float32)
    wt = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    ref_conv = ops.conv2d(img, wt, padding=1)
    errors = []

    def work(k):
        try:
            for _ in range(20):
                if not np.array_equal(ops.matmul(a, b), ref_mm):
                    errors.append(f"thread {k}: matmul differs")
                if not np.array_equal(ops.sigmoid(x), ref_sig):
                    errors.append(f"thread {k}: sigmoid differs")
                if not np.array_equal(ops.softmax(x), ref_sm):
                    errors.append(f"thread {k}: softmax differs")
                if not np.array_equal(ops.conv2d(img, wt, padding=1), ref_conv):
                    errors.append(f"thread {k}: conv2d differs")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    np.testing.assert_allclose(ref_mm, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_small_parallel_paths_bit_identical_with_a_busy_core(restore_threads):
    """The small GEMM paths (slices, k split, column tiles, batches) and the
    activations with another process spinning on the cores, so that the
    worker threads start late, in varied interleavings: the results must
    still equal the single-thread ones bit for bit."""
    rng = np.random.default_rng(3)
    # (a, b, trans_a), each large enough for 2 threads: column slices, k
    # split, gemm_ukr_cm tiles, row slices (one column panel)
    cases = [
        (rng.standard_normal((128, 128)), rng.standard_normal((128, 128)), False),
        (rng.standard_normal((64, 4096)), rng.standard_normal((4096, 64)), False),
        (rng.standard_normal((2048, 256)), rng.standard_normal((2048, 10)), True),
        (rng.standard_normal((512, 128)), rng.standard_normal((128, 32)), False),
    ]
    cases = [(a.astype(np.float32), b.astype(np.float32), t) for a, b, t in cases]
    # batched small products: 16 of 2^18 multiply-adds, one product per thread at a time
    batch = (rng.standard_normal((16, 64, 64)).astype(np.float32), rng.standard_normal((16, 64, 64)).astype(np.float32))
    x = rng.standard_normal(300_000).astype(np.float32)
    rows = rng.standard_normal((400, 700)).astype(np.float32)

    def run_all():
        out = [ops.matmul(a, b, trans_a=t) for a, b, t in cases]
        return out + [ops.matmul(*batch), ops.sigmoid(x), ops.gelu(x), ops.softmax(rows)]

    fastnn.set_num_threads(1)
    ref = run_all()
    fastnn.set_num_threads(2)
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 30: pass"])
    try:
        for rep in range(40):
            for i, (got, want) in enumerate(zip(run_all(), ref)):
                assert np.array_equal(got, want), f"repetition {rep}, result {i} differs from 1 thread"
            if rep % 10 == 9:
                time.sleep(0.05)  # let the workers fall asleep, so the next call wakes them
    finally:
        spinner.kill()
        spinner.wait()
    np.testing.assert_allclose(ref[0], cases[0][0].astype(np.float64) @ cases[0][1], rtol=1e-4, atol=1e-3)


def test_gil_is_released_during_gemm(restore_threads):
    """Two Python threads running one-threaded GEMMs overlap in time: each
    call's interval intersects the other thread's calls."""
    fastnn.set_num_threads(1)
    a = np.random.default_rng(0).standard_normal((700, 700)).astype(np.float32)
    spans = {0: [], 1: []}

    def work(k):
        for _ in range(4):
            t0 = time.perf_counter()
            ops.matmul(a, a)
            spans[k].append((t0, time.perf_counter()))

    ts = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    overlap = sum(max(0.0, min(e0, e1) - max(s0, s1)) for s0, e0 in spans[0] for s1, e1 in spans[1])
    busy = sum(e - s for s, e in spans[0])
    # with the GIL held the calls would serialise and the overlap be ~0
    assert overlap > 0.2 * busy, (overlap, busy)


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.skipif(not hasattr(resource, "getrusage"), reason="needs resource")
def test_rss_flat_over_1000_training_steps():
    model = _mlp(1)
    _train(model, 50)  # warm up: buffers, optimizer state, allocator pools
    before = _rss_kib()
    _train(model, 1000, seed=1)
    growth = _rss_kib() - before
    assert growth < 2048, f"RSS grew by {growth} KiB over 1000 steps"
