"""Losses: values against float64 NumPy/SciPy, gradients against finite
differences, reductions, stability on large logits, errors naming the loss."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.special import expit, log_softmax

import fastnn
from fastnn import nn
from nn_helpers import examples, numeric_grad


def loss_grad(loss_fn, pred, target):
    """The gradient of sum(loss_fn(pred, target)) w.r.t. pred, through autograd."""
    p = fastnn.tensor(pred, requires_grad=True)
    loss_fn(p, target).sum().backward()
    return p.grad


def fd_check(loss_fn, pred, target, rtol=1e-6, atol=1e-9):
    def f():
        v = loss_fn(pred, target)
        return float(np.sum(v))
    grad = loss_grad(loss_fn, pred, target)
    np.testing.assert_allclose(grad, numeric_grad(f, pred), rtol=rtol, atol=atol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss(reduction):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5)) * 3
    t = rng.integers(0, 5, 6).astype(np.uint8)
    loss_fn = nn.CrossEntropyLoss(reduction=reduction)
    rows = -log_softmax(x, 1)[np.arange(6), t]
    ref = {"mean": rows.mean(), "sum": rows.sum(), "none": rows}[reduction]
    out = loss_fn(x, t)
    if reduction != "none":
        assert isinstance(out, fastnn.Tensor) and out.shape == () and isinstance(out.item(), float)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    fd_check(loss_fn, x, t)
    p = rng.random((6, 5))
    p /= p.sum(1, keepdims=True)
    rows = -(p * log_softmax(x, 1)).sum(1)
    np.testing.assert_allclose(loss_fn(x, p), {"mean": rows.mean(), "sum": rows.sum(), "none": rows}[reduction],
                               rtol=1e-12)
    fd_check(loss_fn, x, p)


def test_cross_entropy_loss_float32_keeps_each_calls_gradient():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 10)).astype(np.float32)
    t = rng.integers(0, 10, 8)
    loss_fn = nn.CrossEntropyLoss()
    a, b = fastnn.tensor(x, requires_grad=True), fastnn.tensor(x * 2, requires_grad=True)
    la, lb = loss_fn(a, t), loss_fn(b, t)
    assert la.dtype == np.float32
    lb.backward()
    la.backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad, loss_grad(loss_fn, x.astype(np.float64), t), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(b.grad, loss_grad(loss_fn, 2 * x.astype(np.float64), t), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("target,exc,msg", [
    (np.array([0, 10, 3]), ValueError, r"CrossEntropyLoss.*\[0, 10\].*\[0, 9\]"),
    (np.array([-2, 1, 3]), ValueError, r"CrossEntropyLoss.*\[-2, 3\]"),
    (np.array([0, 1]), ValueError, r"CrossEntropyLoss.*\(3,\)"),
    (np.zeros((3, 9)), ValueError, r"CrossEntropyLoss.*\(3, 9\)"),
    (np.array(["a", "b", "c"]), TypeError, "CrossEntropyLoss"),
])
def test_cross_entropy_loss_bad_targets(target, exc, msg):
    with pytest.raises(exc, match=msg):
        nn.CrossEntropyLoss()(np.zeros((3, 10), np.float32), target)


def test_cross_entropy_loss_needs_2d():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*2-D"):
        nn.CrossEntropyLoss()(np.zeros((2, 3, 4), np.float32), np.zeros(2, np.int64))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss_fn = nn.MSELoss(reduction)
    sq = (x - t) ** 2
    np.testing.assert_allclose(loss_fn(x, t), {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction])
    fd_check(loss_fn, x, t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((5, 4)) * 3, rng.random((5, 4))
    loss_fn = nn.BCEWithLogitsLoss(reduction)
    p = expit(x)
    el = -(t * np.log(p) + (1 - t) * np.log1p(-p))
    np.testing.assert_allclose(loss_fn(x, t), {"mean": el.mean(), "sum": el.sum(), "none": el}[reduction],
                               rtol=1e-10)
    fd_check(loss_fn, x, t)


def test_bce_with_logits_is_stable():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], np.float32)
    t = np.array([1.0, 0.0, 1.0, 1.0, 0.0], np.float32)
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    np.testing.assert_allclose(loss_fn(x, t), [1000.0, 0.0, np.log(2), 0.0, 1000.0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loss_grad(loss_fn, x, t), [-1.0, 0.0, -0.5, 0.0, 1.0], atol=1e-6)


def test_loss_shape_errors_name_the_loss():
    with pytest.raises(ValueError, match=r"MSELoss.*\(2, 3\).*\(3, 2\)"):
        nn.MSELoss()(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="does not require a grad"):
        nn.BCEWithLogitsLoss()(np.zeros(3), np.zeros(3)).backward()
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


@settings(max_examples=examples(40), deadline=None)
@given(rows=st.integers(1, 20), classes=st.integers(1, 40), scale=st.floats(0.01, 100), seed=st.integers(0, 2**31))
def test_cross_entropy_matches_scipy_everywhere(rows, classes, scale, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, classes)) * scale).astype(np.float32)
    t = rng.integers(0, classes, rows)
    loss_fn = nn.CrossEntropyLoss()
    ref = -log_softmax(x.astype(np.float64), 1)[np.arange(rows), t].mean()
    np.testing.assert_allclose(loss_fn(x, t), ref, rtol=1e-5, atol=1e-5 * (1 + scale))
    g = loss_grad(loss_fn, x, t)
    np.testing.assert_allclose(g.sum(1), 0, atol=1e-6)
