"""Max and average pooling (fastnn.ops, fnn_*_pool2d_* in C): float64
references on every ISA at 1 and 2 threads (bit-identical), argmax through
the backward, NaN, global average pooling, finite differences, bad input."""
import numpy as np
import pytest

import fastnn
from fastnn import ops

import conv_reference as ref
from nn_helpers import assert_bit_identical, numeric_grad, using

ISAS = fastnn.config()["isa_available"]
DTYPES = (np.float32, np.float64)
# (N, C, H, W, kernel, stride or None, padding)
CASES = [
    (2, 3, 8, 8, (2, 2), None, (0, 0)),
    (1, 2, 7, 9, (3, 3), (2, 2), (1, 1)),
    (2, 1, 5, 6, (3, 2), (1, 2), (1, 1)),
    (3, 4, 17, 13, (5, 4), (3, 1), (2, 2)),
    (1, 2, 1, 1, (1, 1), None, (0, 0)),
    (2, 5, 6, 7, (6, 7), None, (0, 0)),  # global average pooling
    # outputs of at most half the rows and columns, other geometries than 2x2 / 2: the
    # max backward's write-once path checks that every winner is in its own 2x2 block
    (2, 3, 8, 10, (3, 3), (2, 2), (1, 1)),
    (1, 2, 6, 6, (1, 1), (2, 2), (0, 0)),
    (2, 2, 9, 9, (2, 2), (3, 3), (0, 0)),
]


def eff_stride(k, s):
    return k if s is None else s


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling_against_reference(isa, dtype):
    rng = np.random.default_rng(3)
    for n, c, h, w, k, s, p in CASES:
        x = rng.uniform(-1, 1, (n, c, h, w)).astype(dtype)
        st = eff_stride(k, s)
        with using(isa=isa):
            res = []
            for nt in (1, 2):
                with using(threads=nt):
                    ym, am = ops.max_pool2d(x, k, s, p)
                    gy = np.linspace(-1, 1, ym.size).reshape(ym.shape).astype(dtype)
                    gmx = ops.max_pool2d_backward(gy, am, x.shape)
                    ya = ops.avg_pool2d(x, k, s, p)
                    gax = ops.avg_pool2d_backward(gy, x.shape, k, s, p)
                    res.append((ym, am, gmx, ya, gax))
        assert_bit_identical(res)
        ym, am, gmx, ya, gax = res[0]
        assert np.array_equal(ym, ref.max_pool2d(x, k, st, p).astype(dtype))
        eps = np.finfo(dtype).eps
        assert np.abs(ya - ref.avg_pool2d(x, k, st, p)).max() <= 2 * k[0] * k[1] * eps
        assert np.abs(gax - ref.avg_pool2d_backward(gy, x.shape, k, st, p)).max() <= 2 * k[0] * k[1] * eps
        # max backward: grad_out lands on the argmax of each window
        flat = x.reshape(n * c, h * w)
        picked = np.take_along_axis(flat, am.reshape(n * c, -1).astype(np.int64), axis=1)
        assert np.array_equal(picked.reshape(ym.shape), ym)
        want = np.zeros((n * c, h * w))
        for i in range(n * c):
            np.add.at(want[i], am.reshape(n * c, -1)[i], gy.reshape(n * c, -1)[i].astype(np.float64))
        assert np.abs(gmx.reshape(n * c, -1) - want).max() <= 4 * k[0] * k[1] * eps


def test_global_average_pooling_is_the_mean():
    x = np.random.default_rng(0).standard_normal((4, 8, 7, 7))
    np.testing.assert_allclose(ops.avg_pool2d(x, 7)[:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-13)
    g = np.ones((4, 8, 1, 1))
    np.testing.assert_allclose(ops.avg_pool2d_backward(g, x.shape, 7), np.full(x.shape, 1 / 49), rtol=1e-15)


def test_max_pool_nan_and_padding():
    x = -np.ones((1, 1, 4, 4), np.float32) * 5
    x[0, 0, 1, 1] = np.nan
    y, _ = ops.max_pool2d(x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and (y[0, 0].ravel()[1:] == -5).all()
    y, _ = ops.max_pool2d(-np.ones((1, 1, 3, 3)), 3, 1, 1)
    assert (y == -1).all()  # padding (-inf) never wins


def test_finite_differences_float64():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 7, 6))
    for k, s, p in (((3, 3), (2, 2), (1, 1)), ((2, 3), (1, 2), (1, 0))):
        y = ops.avg_pool2d(x, k, s, p)
        gy = rng.standard_normal(y.shape)
        got = ops.avg_pool2d_backward(gy, x.shape, k, s, p)
        np.testing.assert_allclose(got, numeric_grad(lambda: float(np.sum(ops.avg_pool2d(x, k, s, p) * gy)), x),
                                   rtol=1e-6, atol=1e-8)
        y, am = ops.max_pool2d(x, k, s, p)
        got = ops.max_pool2d_backward(gy, am, x.shape)
        np.testing.assert_allclose(got, numeric_grad(lambda: float(np.sum(ops.max_pool2d(x, k, s, p)[0] * gy)), x),
                                   rtol=1e-6, atol=1e-8)


def test_bad_input():
    x = np.zeros((1, 2, 5, 5), np.float32)
    with pytest.raises(ValueError, match="larger than the padded input"):
        ops.max_pool2d(x, 6)
    with pytest.raises(ValueError, match="stride must be positive"):
        ops.avg_pool2d(x, 2, 0)
    with pytest.raises(ValueError, match="at most half"):
        ops.max_pool2d(x, 2, 1, 2)
    with pytest.raises(TypeError, match="int64"):
        ops.max_pool2d(x.astype(np.int64), 2)
    with pytest.raises(ValueError, match="4-D"):
        ops.avg_pool2d(x[0], 2)
    y, am = ops.max_pool2d(x, 2)
    bad = am.copy()
    bad[0, 0, 0, 0] = 25
    with pytest.raises(ValueError, match="outside"):
        ops.max_pool2d_backward(y, bad, x.shape)
    with pytest.raises(TypeError, match="int32"):
        ops.max_pool2d_backward(y, am.astype(np.int64), x.shape)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_2x2_stride_2_ties_nan_and_odd_sizes(isa, dtype):
    """The 2x2 / stride 2 path: the first maximum of a window in row-major
    order wins a tie, the last NaN wins over numbers, -inf is a value, and
    an odd last row and column are dropped, as in the general path."""
    rng = np.random.default_rng(11)
    x = rng.integers(-2, 3, (2, 3, 9, 7)).astype(dtype)  # small integers: many ties
    x[0, 0, 0, :2] = np.nan
    x[0, 1, 3, 3] = np.nan
    x[1, 2, :2, :2] = -np.inf
    with using(isa=isa):
        y, am = ops.max_pool2d(x, 2)
    want_y, want_idx = max_pool_2x2_reference(x)
    np.testing.assert_array_equal(am, want_idx)
    np.testing.assert_array_equal(y, want_y)


def max_pool_2x2_reference(x):
    """2x2 / stride-2 max pooling in NumPy: the value and plane index of the
    first maximum of each window in row-major order, or of its last NaN."""
    n, c, h, w = x.shape
    p, q = h // 2, w // 2
    win = x[:, :, :2 * p, :2 * q].reshape(n, c, p, 2, q, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, p, q, 4)
    nan = np.isnan(win)
    last_nan = 3 - np.argmax(nan[..., ::-1], axis=-1)
    first_max = np.argmax(np.where(nan, -np.inf, win), axis=-1)
    k = np.where(nan.any(-1), last_nan, first_max)
    oh, ow = np.meshgrid(np.arange(p), np.arange(q), indexing="ij")
    return np.take_along_axis(win, k[..., None], -1)[..., 0], (2 * oh + k // 2) * w + 2 * ow + k % 2


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_2x2_every_width(isa, dtype):
    """The vector path's edges: widths below, at and past one and two vector
    lengths (16 floats, 8 doubles on AVX-512), odd widths whose last column
    is dropped, planes of one window; NaNs of both signs, -inf, -0 and ties
    in the tail lanes too.  Forward and backward bit-identical at 1 and 2 threads; the
    backward is the scatter of grad_out onto the argmax (a -0 gradient as +0)."""
    rng = np.random.default_rng(7)
    for h, w in [(2, 2), (3, 3), (2, 5), (4, 14), (5, 17), (2, 31), (3, 32), (2, 33), (4, 47), (2, 66)]:
        x = rng.integers(-2, 3, (2, 2, h, w)).astype(dtype)
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size, 4)] = np.nan
        flat[rng.integers(0, flat.size, 4)] = -np.nan  # the sign bit shows which NaN won
        flat[rng.integers(0, flat.size, 6)] = -np.inf
        flat[rng.integers(0, flat.size, 6)] = -0.0  # ties with 0: the first keeps its sign
        x[1, 1] = -np.inf  # a plane of -inf only: the first of each window
        gy = rng.standard_normal((2, 2, h // 2, w // 2)).astype(dtype)
        gy[0, 0, 0, 0] = -0.0
        with using(isa=isa):
            res = []
            for nt in (1, 2):
                with using(threads=nt):
                    y, am = ops.max_pool2d(x, 2)
                    res.append((y, am, ops.max_pool2d_backward(gy, am, x.shape)))
        assert_bit_identical(res)
        y, am, gx = res[0]
        want_y, want_idx = max_pool_2x2_reference(x)
        np.testing.assert_array_equal(am, want_idx, err_msg=f"{h}x{w}")
        assert y.tobytes() == want_y.astype(dtype).tobytes(), f"{h}x{w}"
        want = np.zeros((4, h * w), dtype)
        for i in range(4):
            np.add.at(want[i], am.reshape(4, -1)[i], gy.reshape(4, -1)[i])
        assert gx.tobytes() == want.reshape(x.shape).tobytes(), f"{h}x{w}"


@pytest.mark.parametrize("isa", ISAS)
def test_max_pool_2x2_plane_past_exact_float_indices(isa):
    """A float32 plane of more than 2^24 elements, whose indices float lanes
    cannot hold exactly: the 2x2 path's forward finds them another way and
    the backward scatters."""
    h, w = 4098, 4100
    x = np.random.default_rng(5).integers(-3, 4, (1, 1, h, w)).astype(np.float32)
    gy = np.linspace(-1, 1, (h // 2) * (w // 2), dtype=np.float32).reshape(1, 1, h // 2, w // 2)
    with using(isa=isa):
        y, am = ops.max_pool2d(x, 2)
        gx = ops.max_pool2d_backward(gy, am, x.shape)
    want_y, want_idx = max_pool_2x2_reference(x)
    np.testing.assert_array_equal(am, want_idx)
    np.testing.assert_array_equal(y, want_y)
    want = np.zeros(h * w, np.float32)
    want[want_idx.reshape(-1)] = gy.reshape(-1)
    np.testing.assert_array_equal(gx.reshape(-1), want)
