"""Activations against float64 references, on every ISA and at 1 and 2 threads."""
import math

import numpy as np
import pytest
from scipy import special

import fastnn
from fastnn import ops

from conftest import ulp_error

SQRT1_2 = 1 / math.sqrt(2)


# ---------------------------------------------------------------- references (float64)

def ref_forward(name, x):
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "relu":
            return np.maximum(x, 0)
        if name == "leaky_relu":
            return np.where(x < 0, 0.01 * x, x)
        if name == "sigmoid":
            return special.expit(x)
        if name == "tanh":
            return np.tanh(x)
        if name == "gelu":
            r = x * 0.5 * special.erfc(-x * SQRT1_2)
            return np.where(x == -np.inf, 0.0, r)
        if name == "gelu_tanh":
            u = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
            r = x * special.expit(2 * u)
            return np.where(x == -np.inf, 0.0, r)
    raise KeyError(name)


def ref_forward_precise(name, x):
    """float64 reference; the tails of GELU with mpmath, since scipy's erfc of a
    rounded -x/sqrt2 is itself off by ~x^2 ulp there."""
    ref = ref_forward(name, x)
    if name == "gelu":
        import mpmath
        mpmath.mp.dps = 40
        idx = np.nonzero((x < -5) & (x > -40))[0]
        ref[idx] = [float(mpmath.mpf(float(v)) * mpmath.erfc(-mpmath.mpf(float(v)) / mpmath.sqrt(2)) / 2)
                    for v in x[idx]]
    if name == "gelu_tanh":  # exp(2u) with 2u rounded in float64 is off by |2u| ulp
        import mpmath
        mpmath.mp.dps = 40
        k0, k1 = mpmath.sqrt(2 / mpmath.pi), mpmath.mpf("0.044715")
        idx = np.nonzero((x < -5) & (x > -40))[0]
        ref[idx] = [float(mpmath.mpf(float(v)) / (1 + mpmath.exp(-2 * k0 * (v + k1 * mpmath.mpf(float(v)) ** 3))))
                    for v in x[idx]]
    return ref


def ref_backward(name, g, s):
    """s is x, or y = f(x) for sigmoid/tanh."""
    g, s = g.astype(np.float64), s.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "relu":
            return np.where(s > 0, g, 0.0)
        if name == "leaky_relu":
            return np.where(s > 0, g, 0.01 * g)
        if name == "sigmoid":
            return g * s * (1 - s)
        if name == "tanh":
            return g * (1 - s * s)
        if name == "gelu":
            phi = 0.5 * special.erfc(-s * SQRT1_2)
            return g * (phi + s * np.exp(-0.5 * s * s) / math.sqrt(2 * math.pi))
        if name == "gelu_tanh":
            k0, k1 = math.sqrt(2 / math.pi), 0.044715
            sg = special.expit(2 * k0 * (s + k1 * s ** 3))
            return g * (sg + s * sg * (1 - sg) * 2 * k0 * (1 + 3 * k1 * s * s))
    raise KeyError(name)


def fnn_forward(name, x, **kw):
    if name == "gelu_tanh":
        return ops.gelu(x, approximate="tanh", **kw)
    return getattr(ops, name)(x, **kw)


def fnn_backward(name, g, s, **kw):
    if name == "gelu_tanh":
        return ops.gelu_backward(g, s, approximate="tanh", **kw)
    return getattr(ops, name + "_backward")(g, s, **kw)


UNARY = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh"]
SAVES_Y = {"sigmoid", "tanh"}


def sweep(dtype):
    """Dense sweep over magnitudes and signs, plus special values."""
    lo = -45 if dtype == np.float32 else -300
    hi = 38.5 if dtype == np.float32 else 308
    mags = np.logspace(lo, hi, 40001)
    lin = np.linspace(-30, 30, 60001)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-38, 3e38, -3e38, 88.7, -88.7, 89.0, -104.0]
    x = np.concatenate([mags, -mags, lin, specials])
    return x.astype(dtype)


# ---------------------------------------------------------------- forward accuracy

@pytest.mark.parametrize("name", UNARY)
def test_forward_float32_within_4ulp(name, isa):
    x = sweep(np.float32)
    y = fnn_forward(name, x)
    ref = ref_forward_precise(name, x)
    assert y.dtype == np.float32 and y.shape == x.shape
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(y), nan), "NaN must propagate, and only NaN input gives NaN"
    err = ulp_error(y[~nan], ref[~nan])
    bad = np.argmax(err)
    assert err.max() <= (0 if name in ("relu",) else 4), \
        f"{name}/{isa}: {err.max():.1f} ulp at x={x[~nan][bad]!r} got {y[~nan][bad]!r} want {ref[~nan][bad]!r}"


def test_gelu_float32_consecutive_floats_at_range_ends(isa):
    """Every float32 around where GELU's results turn subnormal (x ~ -13) and
    vanish (x ~ -14.2), and around 14.5, where the tail's argument is clamped."""
    x = np.concatenate([np.float32(c) + np.arange(-400, 400, dtype=np.float32) * np.spacing(np.float32(c))
                        for c in (-14.5, -14.2, -13.0, 14.5)]).astype(np.float32)
    y = ops.gelu(x)
    err = ulp_error(y, ref_forward_precise("gelu", x))
    assert err.max() <= 4, f"{isa}: {err.max():.1f} ulp at x={x[np.argmax(err)]!r}"
    g = np.ones_like(x)
    d = ops.gelu_backward(g, x)
    assert np.all(np.abs(d - np.where(x > 0, 1, 0)) <= 8 * np.finfo(np.float32).eps)


def backward_tol(ref, g):
    """Each float op rounds once: a few ulp of the result, plus the
    cancellation in d/dx gelu where Phi(x) + x phi(x) crosses zero (scaled
    by |g|); eps of g's dtype."""
    eps = np.finfo(g.dtype).eps
    return 16 * eps * np.abs(ref) + 8 * eps * np.abs(g.astype(np.float64))


def test_gelu_float32_vectors_mixing_near_and_far_lanes(isa):
    """float32 vectors whose every |x| <= 4 take a shorter form of the tail
    than the others: both forms within 4 ulp, lane by lane, whatever a
    vector mixes (shuffled), and on either side of 4 itself."""
    rng = np.random.default_rng(3)
    edge = np.concatenate([np.float32(c) + np.arange(-300, 300, dtype=np.float32) * np.spacing(np.float32(c))
                           for c in (-4.0, 4.0)])
    x = rng.permutation(np.concatenate([edge, rng.uniform(-6, 6, 20000)]).astype(np.float32))
    err = ulp_error(ops.gelu(x), ref_forward_precise("gelu", x))
    assert err.max() <= 4, f"{isa}: {err.max():.1f} ulp at x={x[np.argmax(err)]!r}"
    g = rng.standard_normal(x.size).astype(np.float32)
    d = ops.gelu_backward(g, x)
    ref = ref_backward("gelu", g, x)
    assert np.all(np.abs(d - ref) <= backward_tol(ref, g))


@pytest.mark.parametrize("name", UNARY)
def test_forward_float64(name, isa):
    x = sweep(np.float64)
    y = fnn_forward(name, x)
    ref = ref_forward_precise(name, x)
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(y), nan)
    # scipy's erfc at float64 has its own error of a few ulp; 1e-13 bounds both
    tol = 1e-13 * np.abs(ref[~nan]) + 1e-300
    with np.errstate(invalid="ignore"):
        err = np.where(y[~nan] == ref[~nan], 0.0, np.abs(y[~nan] - ref[~nan]))
    bad = np.argmax(err / tol)
    assert np.all(err <= tol), f"{name}/{isa}: x={x[~nan][bad]!r} got {y[~nan][bad]!r} want {ref[~nan][bad]!r}"


def test_special_values(isa):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype=np.float32)
    assert np.array_equal(ops.relu(x), [np.inf, 0, np.nan, 0, 0], equal_nan=True)
    assert np.array_equal(ops.sigmoid(x), [1, 0, np.nan, 0.5, 0.5], equal_nan=True)
    assert np.array_equal(ops.tanh(x), [1, -1, np.nan, 0, 0], equal_nan=True)
    assert np.signbit(ops.tanh(x)[4])
    assert np.array_equal(ops.gelu(x), [np.inf, 0, np.nan, 0, 0], equal_nan=True)
    assert np.array_equal(ops.gelu(x, approximate="tanh"), [np.inf, 0, np.nan, 0, 0], equal_nan=True)
    assert np.array_equal(ops.leaky_relu(x), [np.inf, -np.inf, np.nan, 0, 0], equal_nan=True)


def test_leaky_relu_slope(isa):
    x = np.linspace(-3, 3, 101).astype(np.float32)
    assert np.array_equal(ops.leaky_relu(x, 0.2), np.where(x < 0, np.float32(0.2) * x, x))
    g = np.ones_like(x)
    assert np.array_equal(ops.leaky_relu_backward(g, x, negative_slope=0.2), np.where(x > 0, 1, np.float32(0.2)))


# ---------------------------------------------------------------- backward accuracy

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UNARY)
def test_backward(name, dtype, isa):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(20000) * 4, np.linspace(-40, 40, 8001),
                        [np.inf, -np.inf, 0.0]]).astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    s = fnn_forward(name, x) if name in SAVES_Y else x
    d = fnn_backward(name, g, s)
    ref = ref_backward(name, g, s)
    assert d.dtype == dtype
    tol = backward_tol(ref, g)
    finite = np.isfinite(ref)
    err = np.abs(d.astype(np.float64) - ref)
    bad = np.argmax(np.where(finite, err / (tol + 1e-300), 0))
    assert np.all(err[finite] <= tol[finite]), f"{name}: x={x[bad]!r} g={g[bad]!r} got {d[bad]!r} want {ref[bad]!r}"


# ---------------------------------------------------------------- forward with the derivative

ALL_UNARY = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "elu"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ALL_UNARY)
def test_forward_grad_is_the_forward_and_the_backward(name, dtype, isa):
    """act_forward_grad's y is act_forward's to the bit, and g * dydx is
    act_backward's (relu's zeros may differ in sign only), at 1 and 2
    threads, special values included; dydx matches the float64 derivative."""
    from fastnn import _C
    op = getattr(_C, "ACT_" + name.upper())
    alpha = {"leaky_relu": 0.01, "elu": 0.2}.get(name, 0.0)  # the references' slope
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal(20000) * 4, np.linspace(-40, 40, 8001),
                        [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30]]).astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    runs = []
    for nt in (1, 2):
        fastnn.set_num_threads(nt)
        runs.append(_C.act_forward_grad(op, x, None, None, alpha))
    fastnn.set_num_threads(2)
    assert runs[0][0].tobytes() == runs[1][0].tobytes() and runs[0][1].tobytes() == runs[1][1].tobytes()
    y, d = runs[0]
    assert y.tobytes() == _C.act_forward(op, x, None, alpha).tobytes()
    saved = y if name in SAVES_Y else x
    want = _C.act_backward(op, g, saved, None, alpha)
    got = _C.mul(g, d)
    if name == "relu":
        assert np.array_equal(got, want) and np.signbit(want[want == 0]).sum() == 0
    else:
        assert got.tobytes() == want.tobytes(), name
    if name in UNARY:
        ref = ref_backward(name, np.ones_like(x), saved)
        finite = np.isfinite(ref) & np.isfinite(x)
        err = np.abs(d.astype(np.float64) - ref)
        tol = backward_tol(ref, np.ones_like(x))
        assert np.all(err[finite] <= tol[finite]), name
    # given outputs, written in place; y may be x itself
    yo, do = np.full_like(x, np.nan), np.full_like(x, np.nan)
    r = _C.act_forward_grad(op, x, yo, do, alpha)
    assert r[0] is yo and r[1] is do and yo.tobytes() == y.tobytes() and do.tobytes() == d.tobytes()
    xi = x.copy()
    _C.act_forward_grad(op, xi, xi, do, alpha)
    assert xi.tobytes() == y.tobytes()


def test_forward_grad_checks():
    from fastnn import _C
    x = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="unknown op"):
        _C.act_forward_grad(99, x, None, None, 0.0)
    with pytest.raises(ValueError, match="overlaps"):
        _C.act_forward_grad(_C.ACT_GELU, x, None, x, 0.0)
    buf = np.zeros(16, np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        _C.act_forward_grad(_C.ACT_GELU, x, buf[:8], buf[4:12], 0.0)
    with pytest.raises(TypeError, match="dtype mismatch"):
        _C.act_forward_grad(_C.ACT_GELU, x, None, np.zeros(8), 0.0)
    with pytest.raises(ValueError, match="size mismatch"):
        _C.act_forward_grad(_C.ACT_GELU, x, np.zeros(4, np.float32), None, 0.0)


# ---------------------------------------------------------------- softmax family

def ref_softmax(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def ref_log_softmax(x, axis):
    x = x.astype(np.float64)
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("shape,axis", [((7, 1000), -1), ((3, 5, 33), 1), ((4, 17), 0), ((1, 1), -1),
                                         ((2, 3, 129), -1), ((64, 10), 1)])
def test_softmax_and_log_softmax(shape, axis, dtype, rtol, isa):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    y = ops.softmax(x, axis=axis)
    np.testing.assert_allclose(y, ref_softmax(x, axis), rtol=rtol * 8, atol=0)
    ly = ops.log_softmax(x, axis=axis)
    ref = ref_log_softmax(x, axis)
    scale = np.abs(x).max(axis=axis, keepdims=True) + 1
    assert np.all(np.abs(ly - ref) <= rtol * 8 * scale)

    g = rng.standard_normal(shape).astype(dtype)
    yy = y.astype(np.float64)
    d_ref = yy * (g - (g * yy).sum(axis=axis, keepdims=True))
    d = ops.softmax_backward(g, y, axis=axis)
    gscale = np.abs(g).sum(axis=axis, keepdims=True)
    assert np.all(np.abs(d - d_ref) <= rtol * 8 * (np.abs(d_ref) + yy * gscale))
    dl_ref = g - np.exp(ly.astype(np.float64)) * g.sum(axis=axis, keepdims=True)
    dl = ops.log_softmax_backward(g, ly, axis=axis)
    assert np.all(np.abs(dl - dl_ref) <= rtol * 8 * (np.abs(dl_ref) + gscale))


def test_softmax_special_rows(isa):
    x = np.array([[0, 1, np.nan, 2], [-np.inf, 0, 0, -np.inf], [1e30, -1e30, 0, 1e30],
                  [-1e4, -1e4, -1e4, -1e4]], dtype=np.float32)
    y = ops.softmax(x)
    assert np.all(np.isnan(y[0]))
    np.testing.assert_array_equal(y[1], [0, 0.5, 0.5, 0])
    np.testing.assert_array_equal(y[2], [0.5, 0, 0, 0.5])
    np.testing.assert_allclose(y[3], 0.25, rtol=1e-6)
    ly = ops.log_softmax(x)
    assert np.all(np.isnan(ly[0]))
    assert ly[1, 0] == -np.inf and abs(ly[1, 1] - np.log(0.5)) < 1e-6


# ---------------------------------------------------------------- threads, shapes, strides

@pytest.mark.parametrize("name", UNARY + ["softmax", "log_softmax"])
def test_bit_identical_across_threads(name, isa, restore_threads):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((1000, 1003)) * 3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for nt in (1, 2):
        fastnn.set_num_threads(nt)
        if name in ("softmax", "log_softmax"):
            y = getattr(ops, name)(x)
            d = getattr(ops, name + "_backward")(g, y)
        else:
            y = fnn_forward(name, x)
            d = fnn_backward(name, g, y if name in SAVES_Y else x)
        results.append((y.tobytes(), d.tobytes()))
    assert results[0] == results[1]


def test_threads_and_isas_agree_with_reference(threads):
    x = np.linspace(-9, 9, 3_000_001).astype(np.float32)
    y = ops.sigmoid(x)
    assert ulp_error(y, special.expit(x.astype(np.float64))).max() <= 4


@pytest.mark.parametrize("name", UNARY)
def test_strided_and_empty_and_out(name, isa):
    rng = np.random.default_rng(4)
    base = rng.standard_normal((40, 30)).astype(np.float32)
    for x in (base[::2, ::3], base[:, ::-1], base.T, base[5:6, 7:8]):
        y = fnn_forward(name, x)
        assert y.shape == x.shape and y.flags.c_contiguous
        np.testing.assert_array_equal(y, fnn_forward(name, np.ascontiguousarray(x)))
    for shape in [(0,), (3, 0), (0, 4, 5)]:
        e = np.empty(shape, np.float32)
        assert fnn_forward(name, e).shape == shape
        assert fnn_backward(name, e, e).shape == shape
    out = np.empty_like(base)
    r = fnn_forward(name, base, out=out)
    assert r is out
    expect = fnn_forward(name, base)
    np.testing.assert_array_equal(out, expect)
    inplace = base.copy()
    fnn_forward(name, inplace, out=inplace)
    np.testing.assert_array_equal(inplace, expect)
    # an out that overlaps the input without being it: the input is read first
    buf = np.concatenate([base.ravel(), np.zeros(1, np.float32)])
    fnn_forward(name, buf[:-1], out=buf[1:])
    np.testing.assert_array_equal(buf[1:], expect.ravel())


def test_zero_d_and_scalar_shapes(isa):
    x = np.array(0.5, dtype=np.float32)
    assert ops.sigmoid(x).shape == ()
    assert abs(float(ops.sigmoid(x)) - special.expit(0.5)) < 1e-7
    assert ops.softmax(np.zeros((0, 3), np.float32)).shape == (0, 3)
    assert ops.softmax(np.zeros((3, 0), np.float32)).shape == (3, 0)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("fn", [ops.relu, ops.sigmoid, ops.tanh, ops.gelu, ops.leaky_relu, ops.softmax,
                                ops.log_softmax])
def test_bad_dtype_and_type(fn):
    for dt in (np.int32, np.int64, np.float16, object, np.complex64, bool):
        with pytest.raises(TypeError, match=np.dtype(dt).name if dt is not object else "object"):
            fn(np.zeros(4, dtype=dt))
    for bad in ([1.0, 2.0], 3.0, None, "x"):
        with pytest.raises(TypeError, match="numpy.ndarray"):
            fn(bad)


def test_bad_out():
    x = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        ops.relu(x, out=np.empty((5, 4), np.float32))
    with pytest.raises(ValueError, match="float64"):
        ops.sigmoid(x, out=np.empty((4, 5), np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.tanh(x, out=np.empty((5, 4), np.float32).T)
    ro = np.empty((4, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.relu(x, out=ro)
    with pytest.raises(TypeError, match="out must be"):
        ops.relu(x, out=[0.0])


def test_bad_axis_and_shapes_and_args():
    x = np.zeros((4, 5), np.float32)
    for ax in (2, -3, 10):
        with pytest.raises(ValueError, match="out of range"):
            ops.softmax(x, axis=ax)
    with pytest.raises(TypeError):
        ops.softmax(x, axis=1.5)
    with pytest.raises(ValueError, match="out of range"):
        ops.log_softmax(np.array(1.0, np.float32))
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(5, 4\)"):
        ops.relu_backward(x, np.zeros((5, 4), np.float32))
    with pytest.raises(TypeError, match="float64"):
        ops.sigmoid_backward(x, np.zeros((4, 5), np.float64))
    with pytest.raises(ValueError, match="approximate"):
        ops.gelu(x, approximate="fast")
    with pytest.raises(TypeError, match="negative_slope"):
        ops.leaky_relu(x, negative_slope="a")
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4, 6\)"):
        ops.softmax_backward(x, np.zeros((4, 6), np.float32))
