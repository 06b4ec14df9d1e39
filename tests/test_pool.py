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
    win = x[:, :, :8, :6].reshape(2, 3, 4, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 4, 3, 4)
    nan = np.isnan(win)
    last_nan = 3 - np.argmax(nan[..., ::-1], axis=-1)
    first_max = np.argmax(np.where(nan, -np.inf, win), axis=-1)
    k = np.where(nan.any(-1), last_nan, first_max)
    oh, ow = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")
    want_idx = (2 * oh + k // 2) * 7 + 2 * ow + k % 2
    np.testing.assert_array_equal(am, want_idx)
    np.testing.assert_array_equal(y, np.take_along_axis(win, k[..., None], -1)[..., 0])
