"""Team sizes (cpu/threads.h): each parallel call picks its team from the
workers' observed lateness, and the caller runs every item no worker has
claimed.  Whichever choice is made, and whoever runs which item, results
must be bit-identical to one thread's."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import fastnn
from fastnn import _C, nn, ops, optim

MODES = ["serial", "full", "worker_late", "caller_late", "worker_shared"]


@pytest.fixture
def team_mode(restore_threads):
    before = _C._team_test_mode("auto")
    yield _C._team_test_mode
    _C._team_test_mode(before)


def _cases():
    rng = np.random.default_rng(5)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    # (a, b, trans_a, trans_b): column / row slices, k split, gemm_ukr_cm,
    # gemm_ukr_dot, the shared-panel path (>= 2^27 multiply-adds)
    mm = [(f32(128, 128), f32(128, 128), False, False), (f32(512, 128), f32(128, 32), False, False),
          (f32(64, 4096), f32(4096, 64), False, False), (f32(2048, 256), f32(2048, 10), True, False),
          (f32(1024, 512), f32(10, 512), False, True), (f32(520, 520), f32(520, 520), False, False),
          (f32(128, 784).astype(np.float64), f32(784, 512).astype(np.float64), False, False)]
    batch = (f32(16, 64, 64), f32(16, 64, 64))
    x, g = f32(300_001), f32(300_001)
    rows = f32(400, 700)
    return mm, batch, x, g, rows


def _run_all(cases):
    mm, batch, x, g, rows = cases
    out = [ops.matmul(a, b, trans_a=ta, trans_b=tb) for a, b, ta, tb in mm]
    y = ops.sigmoid(x)
    sm = ops.softmax(rows)
    return out + [ops.matmul(*batch), y, ops.gelu(x), ops.sigmoid_backward(g, y), sm,
                  ops.softmax_backward(rows, sm)] + _loops(rows) + _conv_gemm_paths()


def _conv_gemm_paths():
    """Convolutions on the implicit-GEMM paths, whose chunks of items are a
    team's items, forward and backward, on sizes that use two threads: 1x1
    (B streamed; grad-input claimed item by item), 1x1 with stride 2 (the
    im2col packers) and 3x3 with a padding the flat grad-input does not take."""
    rng = np.random.default_rng(7)
    out = []
    for (n, c, k, hw, r, stride, pad) in ((16, 64, 64, 16, 1, 1, 0), (16, 64, 48, 32, 1, 2, 0),
                                          (8, 16, 32, 16, 3, 1, 3)):
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = rng.standard_normal((k, c, r, r)).astype(np.float32)
        y = ops.conv2d(x, w, stride=stride, padding=pad)
        out += [y, *ops.conv2d_backward(y, x, w, stride=stride, padding=pad)]
    return out


def _loops(rows):
    """Kernels whose iterations are a team's items (FNN_TEAM_FOR): norms,
    pooling, depthwise and stride-1 convolution, cross-entropy, attention and
    embedding, forward and backward, on sizes that use two threads."""
    rng = np.random.default_rng(6)
    img = rng.standard_normal((16, 16, 64, 64)).astype(np.float32)
    w_ln = rng.standard_normal(700).astype(np.float32)
    w_dw = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    y, mean, rstd = ops.layer_norm(rows, w_ln, w_ln)
    bn, bn_mean, bn_rstd = ops.batch_norm(img, None, None, training=True)
    mp, argmax = ops.max_pool2d(img, 2)
    ap = ops.avg_pool2d(img, 3)
    dw = ops.conv2d(img, w_dw, padding=1, groups=16)
    loss, grad = ops.cross_entropy(rows, rng.integers(0, 700, 400))[:2]
    small, w_c = img[:, :3, :28, :28].copy(), rng.standard_normal((6, 3, 5, 5)).astype(np.float32)
    conv = ops.conv2d(small, w_c, padding=2)
    q, k, v = (rng.standard_normal((8, 8, 64, 32)).astype(np.float32) for _ in range(3))
    att = ops.scaled_dot_product_attention(q, k, v, causal=True)
    idx = rng.integers(0, 300, 4096)
    emb = ops.embedding(idx, rows[:300])
    extra = [conv, *ops.conv2d_backward(conv, small, w_c, padding=2), att,
             *ops.scaled_dot_product_attention_backward(att, q, k, v, causal=True), emb,
             ops.embedding_backward(emb, idx, 300)]
    return extra + [y, mean, rstd, *ops.layer_norm_backward(rows, rows, w_ln, mean, rstd),
            bn, bn_mean, bn_rstd, *ops.batch_norm_backward(img, img, None, bn_mean, bn_rstd, training=True),
            mp, ops.max_pool2d_backward(mp, argmax, img.shape), ap, ops.avg_pool2d_backward(ap, img.shape, 3),
            dw, *ops.conv2d_backward(dw, img, w_dw, padding=1, groups=16), np.asarray(loss), grad]


def _train(steps=3):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses, [p.data.tobytes() for p in model.parameters()]


@pytest.mark.parametrize("mode", MODES)
def test_every_team_choice_is_bit_identical_to_one_thread(team_mode, mode):
    cases = _cases()
    fastnn.set_num_threads(1)
    ref, ref_train = _run_all(cases), _train()
    fastnn.set_num_threads(2)
    team_mode(mode)
    for rep in range(3):
        for i, (got, want) in enumerate(zip(_run_all(cases), ref)):
            assert got.dtype == want.dtype and np.array_equal(got, want), f"{mode}, repetition {rep}: result {i} differs"
    assert _train() == ref_train, f"{mode}: training differs from 1 thread"


def test_late_worker_items_go_to_the_caller(team_mode):
    """With the worker forced late, the caller runs every item of a short
    call itself (the join then only waits for the worker to arrive), and the
    regions are judged late; the next calls in auto mode run serially."""
    fastnn.set_num_threads(2)
    x = np.random.default_rng(1).standard_normal(100_000).astype(np.float32)
    ref = ops.sigmoid(x)
    before = _C.team_stats()
    team_mode("worker_late")
    for _ in range(4):
        assert np.array_equal(ops.sigmoid(x), ref)
    mid = _C.team_stats()
    assert mid["regions"] - before["regions"] == 4
    assert mid["late"] > before["late"], "a worker 0.3 ms late on a ~0.05 ms call was not judged late"
    team_mode("auto")
    assert np.array_equal(ops.sigmoid(x), ref)
    assert _C.team_stats()["serial_calls"] > mid["serial_calls"], "after late regions the call did not run serially"
    assert fastnn.get_num_threads() == 2  # the setting itself is unchanged


def test_worker_sharing_its_core_turns_the_team_off(team_mode):
    """A region whose worker was off its core for over 1 ms (here asleep,
    as when another thread holds that core) is counted as shared and judged
    late, even when the caller alone would have been slower; the next
    calls in auto mode run serially."""
    fastnn.set_num_threads(2)
    a = np.random.default_rng(3).standard_normal((512, 512)).astype(np.float32)
    ref = ops.matmul(a, a)
    before = _C.team_stats()
    team_mode("worker_shared")
    for _ in range(3):
        assert np.array_equal(ops.matmul(a, a), ref)
    mid = _C.team_stats()
    assert mid["regions"] - before["regions"] == 3
    assert mid["shared"] - before["shared"] == 3, "a worker 1.5 ms off its core was not seen"
    assert mid["late"] > before["late"], "regions whose worker shared its core were not judged late"
    team_mode("auto")
    assert np.array_equal(ops.matmul(a, a), ref)
    assert _C.team_stats()["serial_calls"] > mid["serial_calls"], "after shared regions the call did not run serially"


def test_on_time_workers_keep_the_team(team_mode):
    """On a quiet machine, a region whose worker shares the work is not
    judged late, so large products keep both threads."""
    fastnn.set_num_threads(2)
    a = np.random.default_rng(2).standard_normal((512, 512)).astype(np.float32)
    # The judge sets a region's wall time against the caller's CPU time, so
    # another process taking a core makes any region late.  Each attempt
    # alternates full (no delay), which tells a busy machine, with
    # caller_late (the worker starts first: it saves time, never waits); a
    # quiet attempt must find no caller_late region late.  A judge that
    # gets caller_late wrong fails every quiet attempt; a preemption during
    # some attempts does not fail the test (the caller's deliberate delay is
    # a sleep, and on a loaded machine its wake-up can come milliseconds
    # late while the undelayed regions around it are on time).  Attempts are
    # spaced out so that one burst of load does not cover them all.
    quiet = []
    for _attempt in range(10):
        time.sleep(0.02)
        late = {"full": 0, "caller_late": 0}
        for _ in range(5):
            for mode in late:
                team_mode(mode)
                before = _C.team_stats()
                ops.matmul(a, a)
                after = _C.team_stats()
                assert after["regions"] - before["regions"] == 1
                late[mode] += after["late"] - before["late"]
        if not late["full"]:
            quiet.append(late["caller_late"])
            if late["caller_late"] == 0:
                return
    if not quiet:
        pytest.skip("the machine is busy: even undelayed regions lose to one thread")
    assert min(quiet) == 0, f"caller_late regions judged late in every quiet attempt: {quiet}"


def test_team_test_mode_rejects_unknown_modes(team_mode):
    with pytest.raises(ValueError, match="_team_test_mode"):
        team_mode("sometimes")


def test_the_wait_policy_is_the_users_or_libgomps(tmp_path):
    """fastnn sets no libgomp wait policy of its own and leaves the environment
    as it was; config() says whose policy holds."""
    code = ("import os, fastnn; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'),"
            " fastnn.config()['omp_wait'])")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["None", "None", "libgomp"]
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "active"}, capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["None", "active", "user"]


def test_beside_numpy_rows_are_medians_of_rounds(restore_threads):
    """The threads benchmark's NumPy rows: one row per product, each ratio
    the median of the rounds' ratios (so within the rounds' range), and the
    thread count left as it was."""
    from fastnn import bench_threads
    fastnn.set_num_threads(2)
    lines = []
    rows = bench_threads.beside_numpy(shapes=[(48, 40, 32, 4), (16, 24, 8, 3)], rounds=3, out=lines.append)
    assert [r["shape"] for r in rows] == ["48x40x32", "16x24x8"] and len(lines) == 2
    for r in rows:
        lo, hi = r["numpy_ratio_range"]
        assert r["rounds"] == 3 and 0 < lo <= r["numpy_ratio"] <= hi
        assert all(r[k] > 0 for k in ("fastnn_1t", "fastnn_alone", "numpy_alone", "fastnn_after_numpy",
                                      "numpy_after_fastnn", "fastnn_ratio", "fastnn_ratio_mean"))
    assert fastnn.get_num_threads() == 2
