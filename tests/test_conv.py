"""Convolution (fastnn.ops.conv2d, conv2d_backward; fnn_conv2d_* in C).

Forward, grad-input, grad-weight and grad-bias are checked against a float64
direct NumPy reference (tests/conv_reference.py) with bounds that scale
with the length of each sum (C/groups*R*S for the forward, K/groups*R*S for
grad-input, N*P*Q for grad-weight), over a sampled grid of N, C, K, H, W in
1..17, kernels 1..5, strides 1..3, padding 0..2, dilation 1..2 and groups 1,
2 and depthwise; on every ISA of the CPU at 1 and 2 threads, and the results
at 1 and 2 threads must be bit-identical.  Finite differences check the
gradients in float64; bad input raises clear exceptions.
"""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import ops

import conv_reference as ref
from nn_helpers import assert_bit_identical, examples, numeric_grad, using

ISAS = fastnn.config()["isa_available"]
DTYPES = (np.float32, np.float64)
CI = bool(os.environ.get("CI"))


def sample_grid(count, seed):
    """`count` valid random conv configurations: 1-4 images, kernels up to
    5x5, strides up to 3, padding up to 2, dilation up to 2, one group, two
    groups or depthwise."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        n = int(rng.integers(1, 5))
        r, s = (int(v) for v in rng.integers(1, 6, 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        padding = tuple(int(v) for v in rng.integers(0, 3, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        kind = rng.choice(["g1", "g2", "dw"])
        if kind == "g1":
            g, c, k = 1, int(rng.integers(1, 18)), int(rng.integers(1, 18))
        elif kind == "g2":
            g, c, k = 2, 2 * int(rng.integers(1, 9)), 2 * int(rng.integers(1, 9))
        else:
            c = int(rng.integers(1, 18))
            g, k = c, c * int(rng.choice([1, 1, 2]))
        h, w = (int(v) for v in rng.integers(1, 18, 2))
        if h + 2 * padding[0] < dilation[0] * (r - 1) + 1 or w + 2 * padding[1] < dilation[1] * (s - 1) + 1:
            continue
        out.append((n, c, k, h, w, (r, s), stride, padding, dilation, g))
    return out


GRID = sample_grid(10 if CI else 16, 1234)
# shapes that reach the blocked paths: several KC blocks, several column
# blocks, 1x1 straight GEMM, channels-per-group of 1 without groups
LARGE = [
    (2, 70, 9, 12, 12, (3, 3), (1, 1), (1, 1), (1, 1), 1),     # C*R*S = 630 > KC
    (1, 8, 600, 5, 5, (3, 3), (1, 1), (1, 1), (1, 1), 1),      # K = 600 > KC for grad-input
    (2, 16, 20, 40, 40, (3, 3), (2, 2), (1, 1), (1, 1), 1),    # many column blocks
    (2, 24, 30, 13, 11, (1, 1), (1, 1), (0, 0), (1, 1), 1),    # 1x1 straight GEMM
    (2, 24, 30, 13, 11, (1, 1), (1, 1), (0, 0), (1, 1), 3),    # grouped 1x1
    (1, 300, 20, 9, 8, (1, 1), (1, 1), (0, 0), (1, 1), 1),     # 1x1, 300 channels: a k block short of KC
    (1, 520, 12, 5, 4, (1, 1), (1, 1), (0, 0), (1, 1), 1),     # 1x1, C > 512 (any ISA's KC): two k blocks
    (2, 16, 10, 7, 9, (1, 1), (1, 1), (0, 0), (1, 1), 1),      # 1x1, fewer filters than one register tile
    (3, 1, 7, 17, 15, (5, 5), (1, 1), (2, 2), (1, 1), 1),      # one input channel, GEMM path
    (2, 12, 24, 9, 9, (3, 3), (1, 1), (1, 1), (1, 1), 12),     # depthwise with multiplier 2
    # the flat GEMM (more than 16 filters or channels per group, stride 1):
    # row tails of every size, partial column panels, several tap blocks
    (2, 40, 45, 11, 13, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (1, 33, 29, 7, 6, (2, 3), (1, 1), (0, 1), (1, 1), 1),
    (2, 20, 18, 12, 12, (3, 3), (1, 1), (2, 2), (2, 2), 1),     # dilated
    (2, 36, 38, 10, 9, (3, 3), (1, 1), (1, 1), (1, 1), 2),      # grouped, 18 / 19 per group
    # grad-input by stride phases: wide and narrow, a kernel smaller than the
    # stride (phases without taps), unequal strides
    (2, 40, 24, 15, 14, (3, 3), (2, 2), (1, 1), (1, 1), 1),
    (2, 20, 18, 13, 11, (2, 2), (3, 3), (0, 1), (1, 1), 1),
    (1, 6, 10, 12, 9, (5, 3), (2, 3), (2, 1), (1, 1), 2),
    # forward by stride phase planes: kernel equal to the stride, one
    # stride of 1, narrow (<= 16 filters) and wide
    (2, 17, 20, 16, 17, (3, 4), (3, 2), (2, 0), (1, 1), 1),
    (2, 9, 33, 11, 14, (3, 3), (1, 2), (1, 1), (1, 1), 1),
    (3, 5, 7, 10, 13, (2, 3), (2, 2), (1, 2), (1, 1), 1),
]


def rand(rng, shape, dtype):
    return rng.uniform(-1, 1, size=shape).astype(dtype)


def make(cfg, dtype, seed=0):
    n, c, k, h, w, (r, s), stride, padding, dilation, g = cfg
    rng = np.random.default_rng(seed)
    x = rand(rng, (n, c, h, w), dtype)
    wt = rand(rng, (k, c // g, r, s), dtype)
    b = rand(rng, (k,), dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=g)
    p = ref.out_size(h, r, stride[0], padding[0], dilation[0])
    q = ref.out_size(w, s, stride[1], padding[1], dilation[1])
    gy = rand(rng, (n, k, p, q), dtype)
    return x, wt, b, gy, kw


def run_all(x, wt, b, gy, kw):
    y = ops.conv2d(x, wt, b, **kw)
    gx, gw, gb = ops.conv2d_backward(gy, x, wt, **kw)
    return y, gx, gw, gb


def check_against_reference(cfg, dtype, results, x, wt, b, gy, kw):
    n, c, k, h, w, (r, s), stride, padding, dilation, g = cfg
    y, gx, gw, gb = results
    args = (kw["stride"], kw["padding"], kw["dilation"], g)
    ry = ref.conv2d(x, wt, b, *args)
    rx, rw, rb = ref.conv2d_backward(gy, x, wt, *args)
    eps = np.finfo(dtype).eps
    p, q = gy.shape[2:]
    # |x|, |w|, |g| <= 1: each sum of L products of magnitude <= 1
    for got, want, length, what in ((y, ry, c // g * r * s + 1, "forward"), (gx, rx, k // g * r * s, "grad_input"),
                                    (gw, rw, n * p * q, "grad_weight"), (gb, rb, n * p * q, "grad_bias")):
        assert got.shape == want.shape and got.dtype == dtype, what
        err = np.abs(got.astype(np.float64) - want).max(initial=0.0)
        assert err <= 2 * length * eps, f"{what} {cfg}: error {err:.3g} > {2 * length * eps:.3g}"


def check_configs_at_1_and_2_threads(cfgs, isa, dtype):
    """Each config bit-identical at 1 and 2 threads and within the bound of
    the float64 reference, on one ISA."""
    with using(isa=isa):
        for cfg in cfgs:
            x, wt, b, gy, kw = make(cfg, dtype)
            per_threads = []
            for nt in (1, 2):
                with using(threads=nt):
                    per_threads.append(run_all(x, wt, b, gy, kw))
            assert_bit_identical(per_threads)
            check_against_reference(cfg, dtype, per_threads[0], x, wt, b, gy, kw)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_grid_against_reference_every_isa_bit_identical_threads(isa, dtype):
    check_configs_at_1_and_2_threads(GRID + LARGE, isa, dtype)


# shapes with enough work that every path really runs on 2 threads (small
# problems stay on the calling thread)
THREADED = [
    (16, 8, 12, 32, 32, (5, 5), (1, 1), (2, 2), (1, 1), 1),    # flat forward, grad-input and grad-weight
    (16, 128, 128, 32, 32, (3, 3), (1, 1), (1, 1), (1, 1), 128),  # depthwise, flat
    (16, 64, 64, 65, 65, (3, 3), (2, 2), (1, 1), (1, 1), 64),  # depthwise stride 2, direct
    (4, 32, 64, 24, 24, (3, 3), (1, 1), (1, 1), (1, 1), 1),    # flat GEMM
    (4, 32, 64, 24, 24, (3, 3), (2, 1), (1, 1), (1, 1), 1),    # stride 2 x 1: forward by phase planes, grad-input by phases
    (4, 64, 48, 28, 28, (1, 1), (1, 1), (0, 0), (1, 1), 1),    # 1x1: B packed by the first tile of each panel
    (4, 32, 64, 26, 26, (3, 3), (2, 2), (2, 2), (2, 2), 1),    # dilated stride 2: implicit GEMM forward
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_threaded_paths_bit_identical(isa, dtype):
    check_configs_at_1_and_2_threads(THREADED, isa, dtype)


@settings(max_examples=examples(25), deadline=None)
@given(seed=st.integers(0, 2**31 - 1), isa=st.sampled_from(ISAS), dtype=st.sampled_from(DTYPES))
def test_random_configs(seed, isa, dtype):
    cfg = sample_grid(1, seed)[0]
    x, wt, b, gy, kw = make(cfg, dtype, seed)
    with using(isa=isa):
        res = [None, None]
        for i, nt in enumerate((1, 2)):
            with using(threads=nt):
                res[i] = run_all(x, wt, b, gy, kw)
    assert_bit_identical(res)
    check_against_reference(cfg, dtype, res[0], x, wt, b, gy, kw)


def test_need_flags_and_no_bias():
    cfg = (2, 4, 6, 7, 7, (3, 3), (1, 1), (1, 1), (1, 1), 2)
    x, wt, b, gy, kw = make(cfg, np.float64)
    full = ops.conv2d_backward(gy, x, wt, **kw)
    for ni, nw, nb in ((True, False, False), (False, True, False), (False, False, True), (False, False, False)):
        got = ops.conv2d_backward(gy, x, wt, **kw, need_input=ni, need_weight=nw, need_bias=nb)
        for want, have, flag in zip(full, got, (ni, nw, nb)):
            if flag:
                assert np.array_equal(want, have)
            else:
                assert have is None
    y = ops.conv2d(x, wt, None, **kw)
    np.testing.assert_allclose(y, ref.conv2d(x, wt, None, (1, 1), (1, 1), (1, 1), 2), atol=1e-12)


def test_noncontiguous_inputs_and_empty_batch():
    cfg = (2, 3, 4, 8, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1)
    x, wt, b, gy, kw = make(cfg, np.float32)
    xs = np.asfortranarray(x)
    assert np.array_equal(ops.conv2d(xs, wt, b, **kw), ops.conv2d(x, wt, b, **kw))
    y0 = ops.conv2d(x[:0], wt, b, **kw)
    assert y0.shape == (0, 4, 8, 8)
    gx, gw, gb = ops.conv2d_backward(gy[:0], x[:0], wt, **kw)
    assert gx.shape == (0, 3, 8, 8) and not gw.any() and not gb.any()


def test_nan_propagates():
    cfg = (1, 2, 2, 6, 6, (3, 3), (1, 1), (0, 0), (1, 1), 1)
    x, wt, b, gy, kw = make(cfg, np.float32)
    x[0, 0, 0, 0] = np.nan
    y = ops.conv2d(x, wt, b, **kw)
    assert np.isnan(y[:, :, 0, 0]).all() and not np.isnan(y[:, :, 3, 3]).any()


@pytest.mark.parametrize("cfg", [
    (2, 3, 2, 5, 4, (3, 2), (1, 1), (1, 0), (1, 1), 1),
    (1, 4, 4, 6, 7, (2, 3), (2, 1), (1, 2), (2, 1), 2),
    (2, 3, 3, 5, 5, (3, 3), (2, 2), (1, 1), (1, 1), 3),
])
def test_finite_differences_float64(cfg):
    x, wt, b, gy, kw = make(cfg, np.float64, seed=7)

    def loss():
        return float(np.sum(ops.conv2d(x, wt, b, **kw) * gy))
    gx, gw, gb = ops.conv2d_backward(gy, x, wt, **kw)
    for arr, g in ((x, gx), (wt, gw), (b, gb)):
        np.testing.assert_allclose(g, numeric_grad(loss, arr), rtol=1e-6, atol=1e-8)


def test_bad_input():
    x = np.zeros((2, 4, 8, 8), np.float32)
    w = np.zeros((6, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="channel mismatch"):
        ops.conv2d(x, np.zeros((6, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="groups=3 must divide"):
        ops.conv2d(x, np.zeros((6, 1, 3, 3), np.float32), groups=3)
    with pytest.raises(ValueError, match="groups=4 must divide"):
        ops.conv2d(x, np.zeros((6, 1, 3, 3), np.float32), groups=4)
    with pytest.raises(ValueError, match="larger than the padded input"):
        ops.conv2d(x, np.zeros((6, 4, 9, 3), np.float32))
    with pytest.raises(ValueError, match="larger than the padded input"):
        ops.conv2d(x, w, dilation=4)
    for bad in (0, -1, (1, 0)):
        with pytest.raises(ValueError, match="stride must be positive"):
            ops.conv2d(x, w, stride=bad)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        ops.conv2d(x, w, padding=-1)
    with pytest.raises(TypeError, match="int32"):
        ops.conv2d(x.astype(np.int32), w)
    with pytest.raises(TypeError, match="float16"):
        ops.conv2d(x, w.astype(np.float16))
    with pytest.raises(TypeError, match="float32 but weight is float64"):
        ops.conv2d(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="stride"):
        ops.conv2d(x, w, stride=1.5)
    with pytest.raises(ValueError, match="4-D"):
        ops.conv2d(x[0], w)
    with pytest.raises(ValueError, match=r"bias has shape \(5,\)"):
        ops.conv2d(x, w, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="grad_out has shape"):
        ops.conv2d_backward(np.zeros((2, 6, 5, 5), np.float32), x, w)
    with pytest.raises(TypeError, match="grad_out is float64"):
        ops.conv2d_backward(np.zeros((2, 6, 6, 6), np.float64), x, w)


def test_c_api_rejects_bad_sizes():
    """The C entry points check on their own (no Python in front)."""
    from fastnn import _C
    x = np.zeros((1, 2, 4, 4), np.float32)
    w = np.zeros((2, 2, 3, 3), np.float32)
    y = np.zeros((1, 2, 2, 2), np.float32)
    with pytest.raises(ValueError, match="groups"):
        _C.conv2d_forward(x, w, None, y, (1, 1), (0, 0), (1, 1), 3)
    with pytest.raises(ValueError, match="invalid arguments"):
        _C.conv2d_forward(x, w, None, np.zeros((1, 2, 1, 1), np.float32), (0, 1), (0, 0), (1, 1), 1)
