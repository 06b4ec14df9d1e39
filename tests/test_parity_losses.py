"""NLLLoss, L1Loss, HuberLoss, SmoothL1Loss, CrossEntropyLoss's weight /
ignore_index / label_smoothing, BCEWithLogitsLoss's weight / pos_weight:
values and gradients against torch (float64) and finite differences, the
fused cross-entropy path kept when no option is used, errors naming the loss."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from parity_helpers import check_grads, leaf

RNG = np.random.default_rng(7)
REDUCTIONS = ["mean", "sum", "none"]


def compare_loss(ours, theirs, x, target, grad_target=False, rtol=1e-11, atol=1e-13):
    """ours(x, target) against theirs (a torch loss): value, input gradient
    (and the target's when grad_target)."""
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    tt = torch.tensor(target, requires_grad=grad_target)
    lt = theirs(xt, tt)
    w = RNG.standard_normal(tuple(lt.shape))
    lt.backward(torch.tensor(w))
    xf = leaf(x)
    tf = leaf(target) if grad_target else target
    lf = ours(xf, tf)
    np.testing.assert_allclose(lf.data, lt.detach().numpy(), rtol=rtol, atol=atol, err_msg="loss")
    lf.backward(w)
    np.testing.assert_allclose(xf.grad, xt.grad.numpy(), rtol=rtol, atol=atol, err_msg="input grad")
    if grad_target:
        np.testing.assert_allclose(tf.grad, tt.grad.numpy(), rtol=rtol, atol=atol, err_msg="target grad")
    return lf


def targets_with_ignored(shape, classes, ignore_index):
    t = RNG.integers(0, classes, shape)
    t.reshape(-1)[::3] = ignore_index
    return t


# ---------------------------------------------------------------- elementwise losses

PAIR_LOSSES = [
    (lambda r: nn.L1Loss(reduction=r), "L1Loss", {}),
    (lambda r: nn.HuberLoss(reduction=r), "HuberLoss", {}),
    (lambda r: nn.HuberLoss(reduction=r, delta=0.4), "HuberLoss", {"delta": 0.4}),
    (lambda r: nn.SmoothL1Loss(reduction=r), "SmoothL1Loss", {}),
    (lambda r: nn.SmoothL1Loss(reduction=r, beta=2.5), "SmoothL1Loss", {"beta": 2.5}),
    (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.0), "SmoothL1Loss", {"beta": 0.0}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("make,name,kwargs", PAIR_LOSSES)
def test_elementwise_losses_match_torch(make, name, kwargs, reduction):
    torch = pytest.importorskip("torch")
    x, t = RNG.standard_normal((4, 5)) * 2, RNG.standard_normal((4, 5))
    compare_loss(make(reduction), getattr(torch.nn, name)(reduction=reduction, **kwargs), x, t, grad_target=True)


@pytest.mark.parametrize("make,name,kwargs", PAIR_LOSSES)
def test_elementwise_loss_gradients_match_finite_differences(make, name, kwargs):
    x, t = leaf(RNG.standard_normal((3, 4)) * 2), leaf(RNG.standard_normal((3, 4)))
    for reduction in REDUCTIONS:
        check_grads(lambda: make(reduction)(x, t), [x, t])


def test_elementwise_loss_functional_forms_and_errors():
    x, t = RNG.standard_normal(6), RNG.standard_normal(6)
    np.testing.assert_allclose(F.l1_loss(x, t).data, np.abs(x - t).mean(), rtol=1e-14)
    d = x - t
    huber = np.where(np.abs(d) < 0.5, 0.5 * d * d, 0.5 * (np.abs(d) - 0.25))
    np.testing.assert_allclose(F.huber_loss(x, t, "sum", 0.5).data, huber.sum(), rtol=1e-14)
    np.testing.assert_allclose(F.smooth_l1_loss(x, t, beta=0.5).data, huber.mean() / 0.5, rtol=1e-14)
    assert nn.L1Loss("sum")(x, t).shape == () and nn.L1Loss()(x.astype(np.float32), t).dtype == np.float32
    with pytest.raises(ValueError, match=r"L1Loss.*\(3, 2\).*\(2, 3\)"):
        nn.L1Loss()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="HuberLoss.*delta"):
        nn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="SmoothL1Loss.*beta"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="SmoothL1Loss.*reduction"):
        nn.SmoothL1Loss(reduction="avg")
    with pytest.raises(NotImplementedError, match="L1Loss.*size_average"):
        nn.L1Loss(size_average=True)


# ---------------------------------------------------------------- NLLLoss

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 2, 3), (5,)])
def test_nll_loss_matches_torch(shape, weighted, reduction):
    torch = pytest.importorskip("torch")
    classes = shape[1] if len(shape) > 1 else shape[0]
    x = RNG.standard_normal(shape)
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = RNG.integers(0, classes, tshape) if tshape == () else targets_with_ignored(tshape, classes, 2)
    w = RNG.random(classes) + 0.5 if weighted else None
    theirs = torch.nn.NLLLoss(weight=None if w is None else torch.tensor(w), ignore_index=2, reduction=reduction)
    compare_loss(nn.NLLLoss(weight=w, ignore_index=2, reduction=reduction), theirs, x, t)


def test_nll_loss_gradients_state_dict_and_errors():
    torch = pytest.importorskip("torch")
    x = leaf(RNG.standard_normal((5, 4)))
    t = np.array([0, 3, -100, 1, 3])
    w = RNG.random(4) + 0.1
    check_grads(lambda: nn.NLLLoss(w)(x, t), [x])
    assert list(nn.NLLLoss(w).state_dict()) == list(torch.nn.NLLLoss(torch.tensor(w)).state_dict()) == ["weight"]
    assert nn.NLLLoss().state_dict() == {}
    with pytest.raises(ValueError, match=r"NLLLoss.*\(5,\).*\(4,\)"):
        nn.NLLLoss()(x, np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="NLLLoss.*class index 4.*ignore_index=-100"):
        nn.NLLLoss()(x, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(TypeError, match="NLLLoss.*integer"):
        nn.NLLLoss()(x, np.zeros(5))
    with pytest.raises(ValueError, match=r"NLLLoss.*weight.*\(4,\)"):
        nn.NLLLoss(np.ones(3))(x, t)


@pytest.mark.parametrize("loss_fn", [nn.NLLLoss(ignore_index=1), nn.CrossEntropyLoss(ignore_index=1),
                                     nn.CrossEntropyLoss(ignore_index=1, label_smoothing=0.1)])
def test_all_ignored_mean_is_nan_with_zero_gradient_as_torch(loss_fn):
    x = leaf(RNG.standard_normal((2, 3)))
    loss = loss_fn(x, np.array([1, 1]))
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad, 0)


# ---------------------------------------------------------------- CrossEntropyLoss options

CE_OPTIONS = [
    dict(weight=True),
    dict(ignore_index=1),
    dict(ignore_index=-100, ignored=True),
    dict(label_smoothing=0.2),
    dict(weight=True, ignore_index=3, label_smoothing=0.15),
    dict(weight=True, label_smoothing=1.0),
]


def _ce_pair(opts, classes, reduction):
    torch = pytest.importorskip("torch")
    w = RNG.random(classes) + 0.3 if opts.get("weight") else None
    kw = dict(ignore_index=opts.get("ignore_index", -100), label_smoothing=opts.get("label_smoothing", 0.0),
              reduction=reduction)
    return (nn.CrossEntropyLoss(weight=w, **kw),
            torch.nn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w), **kw))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", CE_OPTIONS)
@pytest.mark.parametrize("shape", [(7, 5), (2, 5, 3, 2)])
def test_cross_entropy_options_match_torch_for_index_targets(shape, opts, reduction):
    ours, theirs = _ce_pair(opts, shape[1], reduction)
    x = RNG.standard_normal(shape) * 3
    tshape = (shape[0],) + shape[2:]
    ignore = opts.get("ignore_index")
    t = targets_with_ignored(tshape, shape[1], ignore) if ignore is not None else RNG.integers(0, shape[1], tshape)
    compare_loss(ours, theirs, x, t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [dict(weight=True), dict(label_smoothing=0.3), dict(weight=True, label_smoothing=0.1)])
def test_cross_entropy_options_match_torch_for_probability_targets(opts, reduction):
    ours, theirs = _ce_pair(opts, 4, reduction)
    x = RNG.standard_normal((6, 4)) * 2
    p = RNG.random((6, 4))
    compare_loss(ours, theirs, x, p / p.sum(1, keepdims=True))


def test_cross_entropy_unbatched_and_gradients():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal(6)
    compare_loss(nn.CrossEntropyLoss(label_smoothing=0.1), torch.nn.CrossEntropyLoss(label_smoothing=0.1), x,
                 np.array(4))
    xl = leaf(RNG.standard_normal((5, 4)) * 2)
    t = np.array([0, 2, 3, 2, 1])
    w = RNG.random(4) + 0.2
    for reduction in REDUCTIONS:
        check_grads(lambda: F.cross_entropy(xl, t, reduction, weight=w, ignore_index=2, label_smoothing=0.25), [xl])


def test_cross_entropy_without_options_keeps_the_fused_kernel():
    x = leaf(RNG.standard_normal((6, 5)))
    t = RNG.integers(0, 5, 6)
    fused = nn.CrossEntropyLoss()(x, t)
    assert fused.grad_fn.name == "CrossEntropyBackward"
    general = nn.CrossEntropyLoss(label_smoothing=0.0, weight=np.ones(5))(x, t)
    assert general.grad_fn.name == "CrossEntropyLossBackward"
    np.testing.assert_allclose(general.item(), fused.item(), rtol=1e-13)
    # a target equal to ignore_index needs the general path even with no option given
    t[2] = -100
    assert nn.CrossEntropyLoss()(x, t).grad_fn.name == "CrossEntropyLossBackward"


def test_cross_entropy_weight_is_a_buffer_and_legacy_positional_reduction_still_works():
    torch = pytest.importorskip("torch")
    w = np.arange(1, 5, dtype=np.float32)
    ours = nn.CrossEntropyLoss(w)
    assert list(ours.state_dict()) == list(torch.nn.CrossEntropyLoss(torch.tensor(w)).state_dict()) == ["weight"]
    ours.load_state_dict({"weight": np.ones(4, np.float32)})
    np.testing.assert_array_equal(ours.weight, 1)
    assert nn.CrossEntropyLoss("sum").reduction == "sum" and nn.CrossEntropyLoss().state_dict() == {}


def test_cross_entropy_option_errors_name_the_loss():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*weight.*\(4,\)"):
        nn.CrossEntropyLoss(weight=np.ones(5))(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="CrossEntropyLoss.*label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="CrossEntropyLoss.*class index 7"):
        nn.CrossEntropyLoss(ignore_index=0)(x, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*\(3, 5\).*\(3, 4\)"):
        nn.CrossEntropyLoss(label_smoothing=0.1)(x, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*\(2, 5\)"):
        nn.CrossEntropyLoss()(np.zeros((2, 4, 5)), np.zeros(2, np.int64))


# ---------------------------------------------------------------- BCEWithLogitsLoss

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight,use_pos", [(False, True), (True, False), (True, True)])
def test_bce_with_logits_weights_match_torch(use_weight, use_pos, reduction):
    torch = pytest.importorskip("torch")
    x = np.concatenate([RNG.standard_normal((5, 3)) * 3, [[-60.0, 0.0, 60.0]]])
    t = RNG.random((6, 3))
    w = RNG.random((6, 3)) + 0.5 if use_weight else None
    pw = RNG.random(3) * 3 if use_pos else None
    theirs = torch.nn.BCEWithLogitsLoss(weight=None if w is None else torch.tensor(w),
                                        pos_weight=None if pw is None else torch.tensor(pw), reduction=reduction)
    lf = compare_loss(nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction=reduction), theirs, x, t)
    xl = leaf(x[:3])
    check_grads(lambda: F.binary_cross_entropy_with_logits(xl, t[:3], reduction, pos_weight=pw,
                                                           weight=None if w is None else w[:3]), [xl])
    assert np.all(np.isfinite(lf.data))


def test_bce_with_logits_buffers_and_errors():
    torch = pytest.importorskip("torch")
    pw = np.array([1.0, 2.0])
    assert list(nn.BCEWithLogitsLoss(pos_weight=pw).state_dict()) == \
        list(torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw)).state_dict()) == ["pos_weight"]
    assert nn.BCEWithLogitsLoss("none").reduction == "none"
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss.*pos_weight.*\(3,\).*\(4, 2\)"):
        nn.BCEWithLogitsLoss(pos_weight=np.ones(3))(np.zeros((4, 2)), np.zeros((4, 2)))


def test_losses_train_a_model():
    fastnn.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 16), nn.SiLU(), nn.Linear(16, 3))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1)
    y[::7] = -100
    loss_fn = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5], np.float32), label_smoothing=0.05)
    opt = fastnn.optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(40):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
