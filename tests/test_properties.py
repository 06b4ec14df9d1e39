"""Property tests over fastnn.ops: random shapes (0- and 1-sized
dims included), strides (negative too), dtypes, out= arrays that alias the
input, huge shapes, wrong types, and arrays C cannot use in place (byte-swapped,
unaligned, backed by bytes or a memoryview).  Every call either returns the right
answer (checked against NumPy in float64) or raises a clear Python
exception; none may crash.  Example counts: tests/conftest.py profiles
(`--hypothesis-profile=deep` goes much further)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

from fastnn import ops

from input_kinds import INPUT_KINDS, as_kind, assert_same_result

CLEAR = (TypeError, ValueError, MemoryError)
FLOATS = st.sampled_from([np.float32, np.float64])
ANY_DTYPE = st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.int64, np.bool_, np.complex64,
                             object])


@st.composite
def strided(draw, dtype=None, min_dims=0, max_dims=4, max_side=7):
    """An array that is often a non-contiguous view (steps, reversals, transposes)."""
    dtype = dtype or draw(FLOATS)
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side))
    steps = [draw(st.sampled_from([1, 1, 2, -1, -2])) for _ in shape]
    base_shape = tuple(s * abs(k) for s, k in zip(shape, steps))
    base = draw(hnp.arrays(dtype, base_shape, elements=st.floats(-30, 30, width=32)))
    view = base[tuple(slice(None, None, k) for k in steps)][tuple(slice(0, s) for s in shape)]
    if view.ndim >= 2 and draw(st.booleans()):
        view = view.swapaxes(0, -1)
    return np.asarray(view)  # indexing a 0-d array gives a scalar


UNARY = {
    "relu": (ops.relu, lambda x: np.maximum(x, 0)),
    "sigmoid": (ops.sigmoid, special.expit),
    "tanh": (ops.tanh, np.tanh),
    "gelu": (ops.gelu, lambda x: x * 0.5 * special.erfc(-x / np.sqrt(2))),
    "leaky_relu": (ops.leaky_relu, lambda x: np.where(x < 0, 0.01 * x, x)),
}


def close(got, ref, dtype):
    tol = 3e-6 if dtype == np.float32 else 1e-13
    return np.allclose(got.astype(np.float64), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(x=strided(), in_place=st.booleans())
def test_unary_any_layout(name, x, in_place):
    fn, ref = UNARY[name]
    expect = ref(x.astype(np.float64))
    if in_place and x.flags.c_contiguous and x.flags.writeable:
        y = fn(x, out=x)
        assert y is x
    else:
        y = fn(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert close(y, expect, x.dtype)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(x=strided(min_dims=1), data=st.data())
def test_rows_any_layout_and_axis(name, x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    x64 = x.astype(np.float64)
    if x.shape[axis] == 0 or x.size == 0:
        assert getattr(ops, name)(x, axis=axis).shape == x.shape
        return
    s = x64 - x64.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(s).sum(axis=axis, keepdims=True))
    expect = np.exp(s - lse) if name == "softmax" else s - lse
    y = getattr(ops, name)(x, axis=axis)
    assert y.shape == x.shape and close(y, expect, x.dtype)


@given(dtype=ANY_DTYPE, shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
def test_wrong_dtypes_raise_type_error(dtype, shape):
    x = np.zeros(shape, dtype)
    for fn in (ops.relu, ops.sigmoid, ops.gelu, ops.softmax):
        if np.dtype(dtype) in (np.float32, np.float64):
            fn(x) if fn is not ops.softmax or x.ndim else None
            continue
        with pytest.raises(TypeError):
            fn(x)


@given(bad=st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3),
                     st.lists(st.floats(allow_nan=False), max_size=3)))
def test_non_arrays_raise_type_error(bad):
    for fn in (ops.relu, ops.tanh, ops.softmax, ops.log_softmax):
        with pytest.raises(TypeError):
            fn(bad)
    with pytest.raises(TypeError):
        ops.matmul(bad, np.zeros((2, 2), np.float32))


@given(data=st.data(), dtype=FLOATS)
def test_matmul_any_layout(data, dtype):
    m, k, n = (data.draw(st.integers(0, 9)) for _ in range(3))
    batched = data.draw(st.booleans())
    ta, tb = data.draw(st.booleans()), data.draw(st.booleans())
    bshape = (data.draw(st.integers(1, 3)),) if batched else ()
    a = data.draw(strided(dtype, min_dims=0, max_dims=0)) if False else None  # noqa: F841
    a_shape = bshape + ((k, m) if ta else (m, k))
    b_shape = bshape + ((n, k) if tb else (k, n))
    a = np.random.default_rng(0).standard_normal(a_shape).astype(dtype)
    b = np.random.default_rng(1).standard_normal(b_shape).astype(dtype)
    if data.draw(st.booleans()):
        a = np.ascontiguousarray(a[..., ::-1])[..., ::-1]  # negative inner stride
    if data.draw(st.booleans()) and a.ndim == 2:
        a = np.asfortranarray(a)
    alpha = data.draw(st.sampled_from([1.0, -0.5, 2.0]))
    opa = np.swapaxes(a, -1, -2) if ta else a
    opb = np.swapaxes(b, -1, -2) if tb else b
    expect = alpha * (opa.astype(np.float64) @ opb.astype(np.float64))
    y = ops.matmul(a, b, trans_a=ta, trans_b=tb, alpha=alpha)
    eps = np.finfo(dtype).eps
    bound = 4 * max(k, 1) * eps * (np.abs(opa).max(initial=0) * np.abs(opb).max(initial=0) * abs(alpha) + 1e-30)
    assert y.shape == expect.shape and np.all(np.abs(y - expect) <= bound)


@given(data=st.data())
def test_matmul_shape_errors_are_clear(data):
    m, k, n = (data.draw(st.integers(1, 6)) for _ in range(3))
    k2 = data.draw(st.integers(1, 6).filter(lambda v: v != k))
    with pytest.raises(ValueError, match="inner dimensions"):
        ops.matmul(np.zeros((m, k), np.float32), np.zeros((k2, n), np.float32))
    with pytest.raises(TypeError):
        ops.matmul(np.zeros((m, k), np.float32), np.zeros((k, n), np.float64))
    with pytest.raises(ValueError):
        ops.matmul(np.zeros((m,), np.float32), np.zeros((m, n), np.float32))
    with pytest.raises(ValueError):
        ops.matmul(np.zeros((1, 1, m, k), np.float32), np.zeros((k, n), np.float32))


def test_huge_shapes_raise_cleanly():
    big = np.broadcast_to(np.zeros(1, np.float32), (2 ** 30, 2 ** 30))  # 2^60 elements, 0 strides
    for call in (lambda: ops.relu(big), lambda: ops.softmax(big), lambda: ops.matmul(big, big)):
        with pytest.raises(CLEAR):
            call()
    tall = np.broadcast_to(np.zeros(1, np.float32), (2 ** 40, 1))
    wide = np.broadcast_to(np.zeros(1, np.float32), (1, 2 ** 40))
    with pytest.raises(CLEAR):
        ops.matmul(tall, wide)  # the product's 2^80 elements overflow int64
    with pytest.raises(CLEAR):
        ops.linear(tall, np.zeros((3, 1), np.float32))


@given(x=strided(dtype=np.float32, min_dims=1, max_dims=3))
def test_out_aliasing_a_shifted_view_reads_input_first(x):
    if x.size < 2:
        return
    buf = np.concatenate([x.ravel(), np.zeros(1, np.float32)])
    expect = ops.tanh(buf[:-1].copy())
    ops.tanh(buf[:-1], out=buf[1:])
    assert np.array_equal(buf[1:], expect)


# ---------------------------------------------------------------- convolution, pooling, losses, norms

import conv_reference as cref  # noqa: E402


@given(data=st.data(), dtype=FLOATS)
def test_conv2d_random_geometry_is_right_or_rejected(data, dtype):
    n, g = data.draw(st.integers(0, 3)), data.draw(st.sampled_from([1, 1, 2, 3]))
    cg, kg = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    r, s = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    stride, pad, dil = data.draw(st.integers(-1, 3)), data.draw(st.integers(0, 2)), data.draw(st.integers(1, 2))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, cg * g, h, w)).astype(dtype)
    if data.draw(st.booleans()):
        x = x[:, :, ::-1]  # negative strides
    wt = rng.standard_normal((kg * g, cg, r, s)).astype(dtype)
    b = rng.standard_normal(kg * g).astype(dtype)
    p = (h + 2 * pad - dil * (r - 1) - 1)
    q = (w + 2 * pad - dil * (s - 1) - 1)
    if stride < 1 or p < 0 or q < 0:
        with pytest.raises(ValueError):
            ops.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dil, groups=g)
        return
    y = ops.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dil, groups=g)
    ref = cref.conv2d(x, wt, b, (stride, stride), (pad, pad), (dil, dil), g)
    assert y.shape == ref.shape
    eps = np.finfo(dtype).eps
    assert np.all(np.abs(y - ref) <= 4 * cg * r * s * eps * (np.abs(x).max(initial=0) * np.abs(wt).max() + 1) + 4 * eps)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw, gb = ops.conv2d_backward(gy, x, wt, stride=stride, padding=pad, dilation=dil, groups=g)
    rgx, rgw, rgb = cref.conv2d_backward(gy, x, wt, (stride, stride), (pad, pad), (dil, dil), g)
    scale = (np.abs(gy).max(initial=0) + 1) * (np.abs(x).max(initial=0) + np.abs(wt).max() + 1)
    big = y.shape[0] * y.shape[2] * y.shape[3] + kg * r * s + 1
    assert np.all(np.abs(gx - rgx) <= 4 * big * eps * scale)
    assert np.all(np.abs(gw - rgw) <= 4 * big * eps * scale)
    assert np.all(np.abs(gb - rgb) <= 4 * big * eps * scale)


@given(x=strided(min_dims=4, max_dims=4, max_side=6), data=st.data())
def test_pooling_random_geometry(x, data):
    k = data.draw(st.integers(1, 4))
    stride = data.draw(st.integers(1, 3))
    pad = data.draw(st.integers(0, 2))
    h, w = x.shape[2:]
    valid = pad <= k // 2 and h + 2 * pad >= k and w + 2 * pad >= k and h > 0 and w > 0
    if not valid:  # PyTorch's rules: pad <= k/2, windows fit, no all-padding input
        with pytest.raises(ValueError):
            ops.max_pool2d(x, k, stride, pad)
        return
    y, arg = ops.max_pool2d(x, k, stride, pad)
    assert np.array_equal(y, cref.max_pool2d(x, (k, k), (stride, stride), (pad, pad)).astype(x.dtype))
    a = ops.avg_pool2d(x, k, stride, pad)
    assert close(a, cref.avg_pool2d(x, (k, k), (stride, stride), (pad, pad)), x.dtype)
    g = ops.max_pool2d_backward(np.ones_like(y), arg, x.shape)
    assert g.shape == x.shape and np.isclose(g.sum(), y.size)


@given(data=st.data(), dtype=FLOATS)
def test_cross_entropy_targets_in_and_out_of_range(data, dtype):
    n, c = data.draw(st.integers(0, 6)), data.draw(st.integers(1, 6))
    logits = np.random.default_rng(0).standard_normal((n, c)).astype(dtype) * 4
    t = np.array(data.draw(st.lists(st.integers(-2, c + 1), min_size=n, max_size=n)), np.int64)
    if np.any((t < 0) | (t >= c)):
        with pytest.raises(ValueError):
            ops.cross_entropy(logits, t)
        return
    if n == 0:
        return
    loss, grad = ops.cross_entropy(logits, t, reduction="sum")
    lg = logits.astype(np.float64)
    lse = np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1)) + lg.max(1)
    assert abs(loss - np.sum(lse - lg[np.arange(n), t])) <= 1e-5 * max(1, abs(loss)) * (1 if dtype == np.float32 else 1e-7)
    p = np.exp(lg - lse[:, None])
    p[np.arange(n), t] -= 1
    assert close(grad, p, dtype)


@given(x=strided(min_dims=1, max_dims=3))
def test_layer_norm_any_layout(x):
    if x.shape[-1] == 0:
        return
    c = x.shape[-1]
    w = np.linspace(0.5, 1.5, c).astype(x.dtype)
    b = np.linspace(-1, 1, c).astype(x.dtype)
    y, mean, rstd = ops.layer_norm(x, w, b)
    x64 = x.astype(np.float64)
    mu = x64.mean(-1, keepdims=True)
    var = x64.var(-1, keepdims=True)
    ref = (x64 - mu) / np.sqrt(var + 1e-5) * w + b
    tol = 2e-5 if x.dtype == np.float32 else 1e-12
    assert np.allclose(y, ref, rtol=tol, atol=tol)


# ---------------------------------------------------------------- kinds of memory

KINDS = st.sampled_from(sorted(INPUT_KINDS))


@given(x=strided(), kind=KINDS, name=st.sampled_from(sorted(UNARY) + ["softmax", "log_softmax"]))
def test_any_kind_of_input_gives_the_native_answer(x, kind, name):
    fn = UNARY[name][0] if name in UNARY else getattr(ops, name)
    if name in ("softmax", "log_softmax") and x.ndim == 0:
        x = x.reshape(1)
    want = fn(np.ascontiguousarray(x))
    assert_same_result(fn(as_kind(kind, np.ascontiguousarray(x))), want)


@given(data=st.data(), dtype=FLOATS, kind_a=KINDS, kind_b=KINDS)
def test_matmul_any_kind_of_operand(data, dtype, kind_a, kind_b):
    m, k, n = (data.draw(st.integers(1, 9)) for _ in range(3))
    batch = data.draw(st.sampled_from([(), (1,), (3,)]))
    a = data.draw(hnp.arrays(dtype, batch + (m, k), elements=st.floats(-4, 4, width=32)))
    b = data.draw(hnp.arrays(dtype, batch + (k, n), elements=st.floats(-4, 4, width=32)))
    ta, tb = data.draw(st.booleans()), data.draw(st.booleans())
    if ta:
        a = np.ascontiguousarray(a.swapaxes(-1, -2))
    if tb:
        b = np.ascontiguousarray(b.swapaxes(-1, -2))
    want = ops.matmul(a, b, trans_a=ta, trans_b=tb)
    got = ops.matmul(as_kind(kind_a, a), as_kind(kind_b, b), trans_a=ta, trans_b=tb)
    assert got.dtype == np.dtype(dtype)  # native, whatever the operands' byte order
    assert_same_result(got, want)


@given(x=strided(dtype=np.float32, min_dims=1, max_dims=3), kind=st.sampled_from(["swapped", "unaligned"]))
def test_out_c_cannot_write_is_a_type_error(x, kind):
    if x.size == 0:
        return
    out = as_kind(kind, np.zeros(x.shape, np.float32))
    with pytest.raises(TypeError, match="byte order|aligned"):
        ops.relu(x, out=out)
    assert not out.any()  # nothing was written
