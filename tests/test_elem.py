"""Elementwise add and product, column sums and the strided copy (csrc/elem/) against NumPy, on every
ISA the CPU has, in float32 and float64, bit-identical at 1 and 2 threads;
and their use on the autograd paths (residual adds, gradient sums,
attention heads), which must give NumPy's bits."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, nn
from fastnn.nn import functional as F
from nn_helpers import DTYPES, ISAS, assert_bit_identical, at_threads, isa, using  # noqa: F401

COVERED = {"add": "test_add_matches_numpy", "mul": "test_mul_matches_numpy", "sum_rows": "test_sum_rows_matches_numpy"}


def test_every_kernel_of_this_area_is_tested():
    names = {k.split("__")[0][len("fnn_f32_"):] for k in fastnn.config()["kernels"]}
    assert {n for n in names if n in ("add", "mul", "sum_rows")} == set(COVERED)
    for isa_name in ISAS:
        with using(isa=isa_name):
            ks = fastnn.config()["kernels"]
            assert all(f"fnn_f32_{n}__{isa_name}" in ks and f"fnn_f64_{n}__{isa_name}" in ks for n in COVERED)


# sizes around the vector widths, the 4096-element blocks and the 2-thread threshold
SIZES = [0, 1, 7, 16, 17, 33, 4095, 4097, 70_001, 300_003]


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_matches_numpy(isa, dtype):
    rng = np.random.default_rng(1)
    for n in SIZES:
        a = rng.standard_normal(n).astype(dtype)
        b = rng.standard_normal(n).astype(dtype)
        # alpha 1 and -1 are NumPy's sum and difference to the bit
        for alpha, want in ((1.0, a + b), (-1.0, a - b)):
            got = at_threads(lambda: _C.add(a, b, alpha))
            assert_bit_identical(got)
            assert got[0].tobytes() == want.tobytes(), (n, alpha)
        got = at_threads(lambda: _C.add(a, b, 0.375))
        assert_bit_identical(got)
        a64, b64 = a.astype(np.float64), 0.375 * b.astype(np.float64)
        # one rounding (FMA) or two (the portable kernel): within 2 ulp of the terms
        bound = 2 * np.finfo(dtype).eps * (np.abs(a64) + np.abs(b64))
        assert (np.abs(got[0] - (a64 + b64)) <= bound).all(), n


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_in_place_and_checks(dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((300, 301)).astype(dtype)
    b = rng.standard_normal((300, 301)).astype(dtype)
    want = a + b
    out = _C.add(a, b, 1.0, a)
    assert out is a and a.tobytes() == want.tobytes()
    c = rng.standard_normal(10).astype(dtype)
    assert _C.add(c, c, 1.0, c) is c
    with pytest.raises(TypeError, match="dtype mismatch"):
        _C.add(a, b.astype(np.float32 if dtype == np.float64 else np.float64))
    with pytest.raises(ValueError, match="size mismatch"):
        _C.add(a, b[:10])
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.add(a[:, ::2], b[:, ::2])
    with pytest.raises(TypeError, match="int64"):
        _C.add(np.ones(4, np.int64), np.ones(4, np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mul_matches_numpy(isa, dtype):
    rng = np.random.default_rng(4)
    for n in SIZES:
        a = rng.standard_normal(n).astype(dtype)
        b = rng.standard_normal(n).astype(dtype)
        if n > 8:  # special values: products of them are NumPy's too
            a[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e-30, 3.0]
            b[:8] = [-2.0, 5.0, 0.0, -1.0, 1.0, 1e30, 1e-30, np.inf]
        with np.errstate(all="ignore"):
            want = a * b
        got = at_threads(lambda: _C.mul(a, b))
        assert_bit_identical(got)
        assert got[0].tobytes() == want.tobytes(), n
        got = at_threads(lambda: _C.mul(a, b, 0.5))  # a power of two: exact
        assert_bit_identical(got)
        with np.errstate(all="ignore"):
            assert got[0].tobytes() == (want * dtype(0.5)).tobytes(), n
    a = rng.standard_normal((300, 301)).astype(dtype)
    b = rng.standard_normal((300, 301)).astype(dtype)
    want = a * b
    assert _C.mul(a, b, 1.0, b) is b and b.tobytes() == want.tobytes()
    with pytest.raises(TypeError, match="dtype mismatch"):
        _C.mul(a, b.astype(np.float32 if dtype == np.float64 else np.float64))
    with pytest.raises(ValueError, match="size mismatch"):
        _C.mul(a, b[:10])
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.mul(a[:, ::2], b[:, ::2])


# shapes around the vector widths, the 64-column blocks and the 2-thread threshold
ROWS_COLS = [(0, 5), (5, 0), (1, 1), (3, 17), (7, 64), (2, 65), (33, 130), (300, 217), (2048, 128), (517, 384)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_rows_matches_numpy(isa, dtype):
    """Each column's rows are added in order: NumPy's reduction over axis 0
    of a C-contiguous array to the bit, also for a row stride wider than the
    row, and beta 1 adds onto out."""
    rng = np.random.default_rng(3)
    for rows, cols in ROWS_COLS:
        full = rng.standard_normal((rows, cols + 3)).astype(dtype)
        a = np.ascontiguousarray(full[:, :cols])
        want = np.add.reduce(a, axis=0)
        for src in (a, full[:, :cols]):
            got = at_threads(lambda: _C.sum_rows(src))
            assert_bit_identical(got)
            assert got[0].shape == (cols,) and got[0].dtype == dtype
            assert got[0].tobytes() == want.tobytes(), (rows, cols)
        base = rng.standard_normal(cols).astype(dtype)
        got = at_threads(lambda: _C.sum_rows(a, base.copy(), 1.0))
        assert_bit_identical(got)
        assert got[0].tobytes() == (base + want).tobytes(), (rows, cols)
        ref = a.astype(np.float64).sum(axis=0)
        assert np.allclose(want, ref, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-3 if dtype == np.float32 else 1e-10)


def test_sum_rows_checks():
    a = np.ones((4, 6), np.float32)
    with pytest.raises(TypeError, match="int64"):
        _C.sum_rows(np.ones((4, 6), np.int64))
    with pytest.raises(ValueError, match="2-D"):
        _C.sum_rows(np.ones(6, np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        _C.sum_rows(np.ones((4, 12), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="row stride"):
        _C.sum_rows(np.ones((4, 6), np.float32)[::-1])
    with pytest.raises(TypeError, match="dtype mismatch"):
        _C.sum_rows(a, np.zeros(6, np.float64))
    with pytest.raises(ValueError, match=r"\(6,\)"):
        _C.sum_rows(a, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="beta"):
        _C.sum_rows(a, None, 1.0)
    out = np.zeros(6, np.float32)
    assert _C.sum_rows(a, out) is out and (out == 4).all()


def _views(x):
    """Views of a 5-D x with every kind of stride: permuted, reversed, stepped,
    a picked index, broadcast (stride 0)."""
    yield x
    yield x.transpose(0, 2, 1, 3, 4)
    yield x.transpose(4, 3, 2, 1, 0)
    yield x[:, ::-1, 1]
    yield x[..., ::2]
    yield x[1:, :, ::-2, :, 1:]
    yield np.broadcast_to(x[:, :1], x.shape)
    yield x[0, 0, 0, 0]
    yield x[:, :, :, :, :0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_copy_into_any_strides(isa, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7, 6, 4, 9)).astype(dtype)
    for src in _views(x):
        # into a new array, and into a strided view of a bigger one
        got = at_threads(lambda: _C.copy_into(src, np.empty(src.shape, dtype)))
        assert_bit_identical(got)
        assert np.array_equal(got[0], src)
        big = np.full(tuple(2 * s + 1 for s in src.shape), 7, dtype)
        dst = big[(slice(1, None, 2),) * src.ndim]
        _C.copy_into(src, dst)
        assert np.array_equal(dst, src)
        untouched = np.ones(big.shape, bool)
        untouched[(slice(1, None, 2),) * src.ndim] = False
        assert (big[untouched] == 7).all()


def test_copy_into_many_rows_across_threads():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 48, 96)).astype(np.float32)  # 295K elements: 2 threads
    src = x.transpose(1, 0, 2)
    got = at_threads(lambda: _C.copy_into(src, np.empty(src.shape, np.float32)))
    assert_bit_identical(got)
    assert np.array_equal(got[0], src)
    src = x.transpose(2, 1, 0)  # no unit stride on the source side
    got = at_threads(lambda: _C.copy_into(src, np.empty(src.shape, np.float32)))
    assert_bit_identical(got)
    assert np.array_equal(got[0], src)


def test_copy_into_checks():
    a = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"shape mismatch \(3, 4\) vs \(4, 3\)"):
        _C.copy_into(a, np.zeros((4, 3), np.float32))
    with pytest.raises(TypeError, match="dtype mismatch"):
        _C.copy_into(a, np.zeros((3, 4)))
    with pytest.raises(TypeError, match="int32"):
        _C.copy_into(a.astype(np.int32), np.zeros((3, 4), np.int32))
    ro = np.zeros((3, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.copy_into(a, ro)
    with pytest.raises(ValueError, match="at most 8 dimensions"):
        _C.copy_into(np.zeros((1,) * 9), np.zeros((1,) * 9))
    z = np.zeros((), np.float64)
    _C.copy_into(np.array(2.5), z)
    assert z == 2.5


# ---------------------------------------------------------------- on the autograd paths

@pytest.mark.parametrize("dtype", DTYPES)
def test_residual_sums_and_heads_give_numpys_bits(dtype):
    """A pre-norm encoder layer (residual adds, a tensor used twice, heads split
    and merged) at sizes on the threaded paths: outputs and gradients
    bit-identical at 1 and 2 threads; sums, differences and gradient sums
    give NumPy's bits; heads land where NumPy's transposes put them."""
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((16, 64, 64)).astype(dtype)  # 65K elements per residual

    def step():
        fastnn.manual_seed(0)
        layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True, norm_first=True, dtype=dtype)
        x = fastnn.tensor(x0, requires_grad=True)
        y = layer(x)
        y.sum().backward()
        return (y.data, x.grad, *[p.grad for p in layer.parameters()])

    got = at_threads(step)
    assert_bit_identical(got)
    # the heads, split and merged through the strided copy
    q = rng.standard_normal((4, 64, 3 * 64)).astype(dtype)
    parts = F.split_heads(q, 4, 3)
    for i, p in enumerate(parts):
        want = q.reshape(4, 64, 3, 4, 16)[:, :, i].transpose(0, 2, 1, 3)
        assert p.data.flags.c_contiguous and np.array_equal(p.data, want)
    merged = F.merge_heads(parts[1])
    assert np.array_equal(merged.data, q[:, :, 64:128])
    # tensor + and - on the threaded path, and a gradient summed from two uses
    a = rng.standard_normal((300, 301)).astype(dtype)
    b = rng.standard_normal((300, 301)).astype(dtype)
    ta, tb = fastnn.tensor(a, requires_grad=True), fastnn.tensor(b, requires_grad=True)
    s, d = ta + tb, ta - tb
    assert s.data.tobytes() == (a + b).tobytes() and d.data.tobytes() == (a - b).tobytes()
    (s * fastnn.tensor(a) + d * fastnn.tensor(b)).sum().backward()
    assert ta.grad.tobytes() == (a + b).tobytes()  # a from the sum, b from the difference
    assert tb.grad.tobytes() == (a - b).tobytes()
