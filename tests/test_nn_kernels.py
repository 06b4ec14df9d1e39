"""The C kernels of fastnn.nn and fastnn.optim (cross-entropy, layer norm,
batch norm, optimizer updates) against float64 NumPy references, on every
ISA the CPU has, in float32 and float64, and bit-identical at 1 and 2 threads."""
import numpy as np
import pytest
from scipy.special import log_softmax, softmax

import fastnn
from fastnn import _C, ops
from nn_helpers import DTYPES, ISAS, assert_bit_identical, at_threads, isa, tol, using  # noqa: F401

# Every kernel of these areas in the one kernel list (config()["kernels"])
# must be covered by a test here: a new kernel without one fails this file.
COVERED = {
    "cross_entropy_index_row": "test_cross_entropy_index", "cross_entropy_prob_row": "test_cross_entropy_prob",
    "layer_norm_fwd_rows": "test_layer_norm", "layer_norm_bwd_row": "test_layer_norm",
    "batch_norm_stats": "test_batch_norm", "batch_norm_affine": "test_batch_norm", "batch_norm_bwd": "test_batch_norm",
    "sgd_step": "test_optim_kernels_threads", "adam_step": "test_optim_kernels_threads",
    "adamw_step": "test_optim_kernels_threads", "rmsprop_step": "test_optim_kernels_threads",
}
AREAS = ("cross_entropy_", "layer_norm_", "batch_norm_", "_step")


def test_every_kernel_of_these_areas_is_tested():
    names = {k.split("__")[0][len("fnn_f32_"):] for k in fastnn.config()["kernels"]}
    ours = {n for n in names if any(a in n for a in AREAS)}
    assert ours == set(COVERED), f"kernels without a test here: {ours - set(COVERED)}"
    for isa_name in ISAS:
        with using(isa=isa_name):
            ks = fastnn.config()["kernels"]
            for n in COVERED:
                assert f"fnn_f32_{n}__{isa_name}" in ks and f"fnn_f64_{n}__{isa_name}" in ks


# ---------------------------------------------------------------- cross-entropy

SHAPES = [(1, 1), (3, 7), (5, 16), (4, 33), (300, 257)]


def _ce_ref(x, t_prob, reduction):
    x = x.astype(np.float64)
    t = t_prob.astype(np.float64)
    rows = -(t * log_softmax(x, axis=1)).sum(1)
    grad = softmax(x, axis=1) * t.sum(1, keepdims=True) - t
    if reduction == "mean":
        return rows.mean(), grad / x.shape[0]
    if reduction == "sum":
        return rows.sum(), grad
    return rows, grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_index(isa, dtype, shape, reduction):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    t = rng.integers(0, shape[1], shape[0]).astype(np.int16)
    loss, grad = ops.cross_entropy(x, t, reduction=reduction)
    ref_loss, ref_grad = _ce_ref(x, np.eye(shape[1])[t], reduction)
    assert grad.dtype == dtype and grad.shape == shape
    np.testing.assert_allclose(loss, ref_loss, rtol=tol(dtype, 1e-5), atol=tol(dtype, 1e-5))
    np.testing.assert_allclose(grad, ref_grad, rtol=tol(dtype, 1e-5), atol=tol(dtype, 1e-6, 1e-14))
    if shape[0] * shape[1] > 20000:
        assert_bit_identical(at_threads(lambda: ops.cross_entropy(x, t, reduction=reduction)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_prob(isa, dtype, shape, reduction):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    t = rng.random(shape)
    t = (t / t.sum(1, keepdims=True)).astype(dtype)
    loss, grad = ops.cross_entropy(x, t, reduction=reduction)
    ref_loss, ref_grad = _ce_ref(x, t, reduction)
    np.testing.assert_allclose(loss, ref_loss, rtol=tol(dtype, 1e-5), atol=tol(dtype, 1e-5))
    np.testing.assert_allclose(grad, ref_grad, rtol=tol(dtype, 1e-5), atol=tol(dtype, 1e-6, 1e-14))
    if shape[0] * shape[1] > 20000:
        assert_bit_identical(at_threads(lambda: ops.cross_entropy(x, t, reduction=reduction)))


def test_cross_entropy_extreme_logits_and_nan(isa):
    x = np.array([[1000.0, -1000.0, 0.0], [-1e4, -1e4, -1e4]], np.float32)
    loss, grad = ops.cross_entropy(x, np.array([1, 2]), reduction="none")
    np.testing.assert_allclose(loss, [2000.0, np.log(3)], rtol=1e-6)
    assert np.isfinite(grad).all()
    x[0, 2] = np.nan
    loss, grad = ops.cross_entropy(x, np.array([1, 2]), reduction="none")
    assert np.isnan(loss[0]) and np.isnan(grad[0]).all() and np.isfinite(loss[1])


@pytest.mark.parametrize("bad", [[0, 5], [-1, 0], [0, 300]])
def test_cross_entropy_target_out_of_range(bad):
    x = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        ops.cross_entropy(x, np.array(bad, np.int64))
    with pytest.raises(ValueError):  # the C check as well, nothing written
        _C.cross_entropy_index(x, np.array(bad, np.int64), np.zeros_like(x), "mean", np.zeros(2))


def test_cross_entropy_bad_arguments():
    x = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match="reduction"):
        ops.cross_entropy(x, np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        ops.cross_entropy(x, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        ops.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="int32"):
        ops.cross_entropy(x.astype(np.int32), np.array([0, 1]))
    with pytest.raises(ValueError, match="N, C"):
        ops.cross_entropy(np.zeros(5, np.float32), np.array([0]))


# ---------------------------------------------------------------- layer norm

def _ln_ref(x, w, b, eps, g):
    x, w, b, g = (a.astype(np.float64) for a in (x, w, b, g))
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xh = (x - mean) * rstd
    y = xh * w + b
    gw = g * w
    dx = rstd * (gw - gw.mean(-1, keepdims=True) - xh * (gw * xh).mean(-1, keepdims=True))
    return y, mean[..., 0], rstd[..., 0], dx, (g * xh).reshape(-1, x.shape[-1]).sum(0), g.reshape(-1, x.shape[-1]).sum(0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (4, 16), (2, 3, 37), (300, 257)])
def test_layer_norm(isa, dtype, shape):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    w = rng.standard_normal(shape[-1]).astype(dtype)
    b = rng.standard_normal(shape[-1]).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y, mean, rstd = ops.layer_norm(x, w, b, eps=1e-5)
    dx, dw, db = ops.layer_norm_backward(g, x, w, mean, rstd)
    ry, rmean, rrstd, rdx, rdw, rdb = _ln_ref(x, w, b, 1e-5, g)
    t = tol(dtype, 2e-5, 1e-11)
    np.testing.assert_allclose(y, ry, rtol=t, atol=t)
    np.testing.assert_allclose(mean, rmean, rtol=t, atol=t)
    np.testing.assert_allclose(rstd, rrstd, rtol=t, atol=t)
    np.testing.assert_allclose(dx, rdx, rtol=t * 10, atol=t * 10)
    np.testing.assert_allclose(dw, rdw, rtol=t * 10, atol=t * 10 * np.sqrt(x.size))
    np.testing.assert_allclose(db, rdb, rtol=t * 10, atol=t * 10 * np.sqrt(x.size))
    if x.size > 20000:
        def run():
            y, m, r = ops.layer_norm(x, w, b)
            return (y, m, r) + ops.layer_norm_backward(g, x, w, m, r)
        assert_bit_identical(at_threads(run))


def test_layer_norm_constant_rows_and_errors():
    x = np.full((2, 8), 3.0, np.float32)
    y, mean, rstd = ops.layer_norm(x, None, None)
    assert (y == 0).all() and np.allclose(rstd, 1 / np.sqrt(1e-5))
    with pytest.raises(ValueError, match=r"\(2, 8\)"):
        ops.layer_norm(x, np.ones(7, np.float32), None)
    with pytest.raises(TypeError, match="float64"):
        ops.layer_norm(x, np.ones(8), np.zeros(8))


# ---------------------------------------------------------------- batch norm

def _bn_ref(x, w, b, eps, g, training, rm, rv, momentum):
    x64, w64, b64, g64 = (a.astype(np.float64) for a in (x, w, b, g))
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    cnt = x.size // x.shape[1]
    if training:
        mean = x64.mean(axes)
        var = x64.var(axes)
        new_rm = (1 - momentum) * rm + momentum * mean
        new_rv = (1 - momentum) * rv + momentum * var * cnt / (cnt - 1)
    else:
        mean, var = rm.astype(np.float64), rv.astype(np.float64)
        new_rm, new_rv = rm, rv
    rstd = 1 / np.sqrt(var + eps)
    xh = (x64 - mean.reshape(bshape)) * rstd.reshape(bshape)
    y = xh * w64.reshape(bshape) + b64.reshape(bshape)
    db = g64.sum(axes)
    dw = (g64 * xh).sum(axes)
    k = (w64 * rstd).reshape(bshape)
    if training:
        dx = k * (g64 - (db / cnt).reshape(bshape) - xh * (dw / cnt).reshape(bshape))
    else:
        dx = k * g64
    return y, new_rm, new_rv, dx, dw, db


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 1), (5, 3), (4, 3, 5), (3, 4, 5, 6), (16, 8, 21, 21)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(isa, dtype, shape, training):
    rng = np.random.default_rng(4)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(c).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    rm0 = rng.standard_normal(c).astype(dtype)
    rv0 = (rng.random(c) + 0.5).astype(dtype)
    rm, rv = rm0.copy(), rv0.copy()
    y, sm, sr = ops.batch_norm(x, rm, rv, w, b, training=training, momentum=0.1, eps=1e-5)
    dx, dw, db = ops.batch_norm_backward(g, x, w, sm, sr, training=training)
    ry, rrm, rrv, rdx, rdw, rdb = _bn_ref(x, w, b, 1e-5, g, training, rm0.astype(np.float64),
                                          rv0.astype(np.float64), 0.1)
    t = tol(dtype, 3e-5, 1e-11)
    np.testing.assert_allclose(y, ry, rtol=t, atol=t)
    np.testing.assert_allclose(rm, rrm, rtol=t, atol=t)
    np.testing.assert_allclose(rv, rrv, rtol=t, atol=t)
    big = np.sqrt(x.size)
    np.testing.assert_allclose(dx, rdx, rtol=t * 10, atol=t * 10)
    np.testing.assert_allclose(dw, rdw, rtol=t * 10, atol=t * big)
    np.testing.assert_allclose(db, rdb, rtol=t * 10, atol=t * big)
    if x.size > 20000:
        def run():
            rm, rv = rm0.copy(), rv0.copy()
            y, sm, sr = ops.batch_norm(x, rm, rv, w, b, training=training)
            return (y, rm, rv) + ops.batch_norm_backward(g, x, w, sm, sr, training=training)
        assert_bit_identical(at_threads(run))


def test_batch_norm_needs_two_values_in_training():
    with pytest.raises(ValueError, match="more than 1 value"):
        ops.batch_norm(np.ones((1, 3), np.float32), np.zeros(3, np.float32), np.ones(3, np.float32), training=True)


# ---------------------------------------------------------------- optimizer kernels
# (20-step trajectories against the published rules are in test_optim.py)

@pytest.mark.parametrize("dtype", DTYPES)
def test_optim_kernels_threads(isa, dtype):
    rng = np.random.default_rng(5)
    n = 100_003
    p0 = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)

    def run():
        out = []
        p, buf = p0.copy(), np.zeros_like(p0)
        for first in (True, False):
            _C.sgd_step(p, g, buf, 0.1, 0.9, 0.0, 0.01, True, first)
        out += [p, buf]
        for decoupled in (False, True):
            p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
            for step in (1, 2):
                _C.adam_step(p, g, m, v, step, 1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled)
            out += [p, m, v]
        p, sq, buf, ga = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
        for _ in range(2):
            _C.rmsprop_step(p, g, sq, buf, ga, 1e-2, 0.99, 1e-8, 0.01, 0.9, True)
        return out + [p, sq, buf, ga]
    results = at_threads(run)
    assert_bit_identical(results)
    assert all(np.isfinite(a).all() for a in results[0])


def test_optim_kernel_argument_checks():
    p = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="float64"):
        _C.sgd_step(p, np.zeros(4), None, 0.1, 0.0, 0.0, 0.0, False, True)
    with pytest.raises(ValueError, match="elements"):
        _C.sgd_step(p, np.zeros(3, np.float32), None, 0.1, 0.0, 0.0, 0.0, False, True)
    with pytest.raises(ValueError, match="momentum_buffer"):
        _C.sgd_step(p, np.zeros(4, np.float32), None, 0.1, 0.9, 0.0, 0.0, False, True)
    with pytest.raises(ValueError, match="step"):
        _C.adam_step(p, p.copy(), p.copy(), p.copy(), 0, 1e-3, 0.9, 0.999, 1e-8, 0.0, False)
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.sgd_step(ro, p, None, 0.1, 0.0, 0.0, 0.0, False, True)


# ---------------------------------------------------------------- random shapes (every vector tail)

from hypothesis import given, settings, strategies as st  # noqa: E402

from nn_helpers import examples  # noqa: E402


@settings(max_examples=examples(40), deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 70), width=st.integers(1, 40), seed=st.integers(0, 2**31),
       dtype=st.sampled_from(DTYPES))
def test_random_shapes_on_every_isa(rows, cols, width, seed, dtype):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    g = rng.standard_normal((rows, cols)).astype(dtype)
    w, b = rng.standard_normal(cols).astype(dtype), rng.standard_normal(cols).astype(dtype)
    t = rng.integers(0, cols, rows)
    xb = rng.standard_normal((rows + 1, 3, width)).astype(dtype)
    gb = rng.standard_normal(xb.shape).astype(dtype)
    wb = rng.standard_normal(3).astype(dtype)
    rtol = tol(dtype, 1e-4, 1e-10)
    for isa_name in ISAS:
        with using(isa=isa_name):
            loss, grad = ops.cross_entropy(x, t)
            ref_loss, ref_grad = _ce_ref(x, np.eye(cols)[t], "mean")
            np.testing.assert_allclose(loss, ref_loss, rtol=rtol, atol=rtol)
            np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=rtol)
            y, mean, rstd = ops.layer_norm(x, w, b)
            dx, dw, db = ops.layer_norm_backward(g, x, w, mean, rstd)
            ry, _, _, rdx, rdw, rdb = _ln_ref(x, w, b, 1e-5, g)
            for a, r in ((y, ry), (dx, rdx), (dw, rdw), (db, rdb)):
                np.testing.assert_allclose(a, r, rtol=rtol, atol=rtol * 10)
            rm, rv = np.zeros(3, dtype), np.ones(3, dtype)
            yb, sm, sr = ops.batch_norm(xb, rm, rv, wb, None, training=True)
            dxb, dwb, dbb = ops.batch_norm_backward(gb, xb, wb, sm, sr, training=True)
            ry, rrm, rrv, rdx, rdw, rdb = _bn_ref(xb, wb, np.zeros(3, dtype), 1e-5, gb, True, np.zeros(3),
                                                  np.ones(3), 0.1)
            for a, r in ((yb, ry), (rm, rrm), (rv, rrv), (dxb, rdx), (dwb, rdw), (dbb, rdb)):
                np.testing.assert_allclose(a, r, rtol=rtol, atol=rtol * 10)
