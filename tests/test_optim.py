"""Optimizers: 20-step trajectories on a fixed problem against the published
update rules written in NumPy (to float32 rounding; float64 tightly), on every
ISA; defaults; state_dict round trips; lr schedulers."""
import math

import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.optim import lr_scheduler
from nn_helpers import DTYPES, isa  # noqa: F401

STEPS = 20


def problem(dtype):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(37).astype(dtype)
    a = (rng.random(37) + 0.5).astype(dtype)
    c = rng.standard_normal(37).astype(dtype)

    def grad(p):
        return (a * (p - c) + dtype(0.1) * np.sin(p)).astype(dtype)
    return p0, grad


# The published rules (PyTorch's documentation pseudo-code), in NumPy, in the parameter's dtype.
def ref_sgd(p, g, st, t, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
    dt = p.dtype.type
    g = g + dt(weight_decay) * p
    if momentum:
        st["b"] = g.copy() if t == 1 else dt(momentum) * st["b"] + dt(1 - dampening) * g
        g = g + dt(momentum) * st["b"] if nesterov else st["b"]
    return p - dt(lr) * g


def ref_adam(p, g, st, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled=False):
    dt = p.dtype.type
    b1, b2 = betas
    if decoupled:
        p = p * dt(1 - lr * weight_decay)
    else:
        g = g + dt(weight_decay) * p
    st.setdefault("m", np.zeros_like(p))
    st.setdefault("v", np.zeros_like(p))
    st["m"] = dt(b1) * st["m"] + dt(1 - b1) * g
    st["v"] = dt(b2) * st["v"] + dt(1 - b2) * g * g
    mhat = st["m"] / dt(1 - b1 ** t)
    vhat = st["v"] / dt(1 - b2 ** t)
    return p - dt(lr) * mhat / (np.sqrt(vhat) + dt(eps))


def ref_rmsprop(p, g, st, t, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
    dt = p.dtype.type
    g = g + dt(weight_decay) * p
    st.setdefault("v", np.zeros_like(p))
    st["v"] = dt(alpha) * st["v"] + dt(1 - alpha) * g * g
    vt = st["v"]
    if centered:
        st.setdefault("ga", np.zeros_like(p))
        st["ga"] = dt(alpha) * st["ga"] + dt(1 - alpha) * g
        vt = vt - st["ga"] * st["ga"]
    if momentum > 0:
        st.setdefault("b", np.zeros_like(p))
        st["b"] = dt(momentum) * st["b"] + g / (np.sqrt(vt) + dt(eps))
        return p - dt(lr) * st["b"]
    return p - dt(lr) * g / (np.sqrt(vt) + dt(eps))


CASES = [
    (optim.SGD, ref_sgd, dict(lr=0.1)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    (optim.Adam, ref_adam, dict()),
    (optim.Adam, ref_adam, dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (optim.AdamW, lambda *a, **k: ref_adam(*a, decoupled=True, **k), dict(lr=0.05, weight_decay=1e-2)),
    (optim.AdamW, lambda *a, **k: ref_adam(*a, decoupled=True, **k), dict(lr=0.05, weight_decay=0.3)),
    (optim.RMSprop, ref_rmsprop, dict()),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, alpha=0.9, weight_decay=0.05, momentum=0.5)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, momentum=0.9, centered=True)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,ref,kw", CASES, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_trajectory_matches_published_rule(isa, dtype, cls, ref, kw):
    p0, grad = problem(dtype)
    param = nn.Parameter(p0)
    opt = cls([param], **kw)
    p_ref, st = p0.copy(), {}
    for t in range(1, STEPS + 1):
        opt.zero_grad()
        param.grad = grad(param.data)
        opt.step()
        p_ref = ref(p_ref, grad(p_ref), st, t, **kw)
        assert p_ref.dtype == dtype
        if dtype == np.float32:
            np.testing.assert_allclose(param.data, p_ref, rtol=2e-6 * t, atol=2e-6 * t, err_msg=f"step {t}")
        else:
            np.testing.assert_allclose(param.data, p_ref, rtol=1e-13, atol=1e-13, err_msg=f"step {t}")
    assert np.abs(param.data - p0).max() > 1e-3  # it moved


def test_pytorch_defaults():
    p = [nn.Parameter(np.zeros(2, np.float32))]
    assert optim.Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    assert optim.RMSprop(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                                             centered=False)
    d = optim.SGD(p, lr=0.1).defaults
    assert d["momentum"] == 0 and d["nesterov"] is False and d["weight_decay"] == 0


def test_bad_hyperparameters():
    p = [nn.Parameter(np.zeros(2, np.float32))]
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(TypeError, match="Parameter"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)


def test_param_groups_have_their_own_hyperparameters():
    a, b = nn.Parameter(np.ones(3, np.float32)), nn.Parameter(np.ones(3, np.float32))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = np.ones(3, np.float32)
    b.grad = np.ones(3, np.float32)
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)


@pytest.mark.parametrize("cls,kw", [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.Adam, dict(lr=0.01)),
                                    (optim.AdamW, dict()), (optim.RMSprop, dict(momentum=0.5, centered=True))])
def test_state_dict_round_trip_through_a_file(tmp_path, cls, kw):
    p0, grad = problem(np.float32)

    def run(opt, param, steps):
        for _ in range(steps):
            opt.zero_grad()
            param.grad = grad(param.data)
            opt.step()

    pa = nn.Parameter(p0)
    oa = cls([pa], **kw)
    run(oa, pa, 10)
    fastnn.save(oa.state_dict(), tmp_path / "opt.safetensors")
    pb = nn.Parameter(pa.data)
    ob = cls([pb], lr=123.0) if cls is optim.SGD else cls([pb])
    ob.load_state_dict(fastnn.load(tmp_path / "opt.safetensors"))
    assert ob.param_groups[0]["lr"] == oa.param_groups[0]["lr"]
    run(oa, pa, 10)
    run(ob, pb, 10)
    assert pa.data.tobytes() == pb.data.tobytes()


def test_load_state_dict_checks_before_changing():
    p = nn.Parameter(np.zeros(4, np.float32))
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones(4, np.float32)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = np.zeros(5, np.float32)
    sd["param_groups"][0]["lr"] = 7.0
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.state_dict()["state"][0]["step"] == 1


def test_schedulers():
    p = [nn.Parameter(np.zeros(1, np.float32))]
    opt = optim.SGD(p, lr=1.0)
    s = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(5):
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]

    opt = optim.SGD(p, lr=0.1)
    s = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    for t in range(1, 11):
        s.step()
        want = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2
        assert abs(opt.param_groups[0]["lr"] - want) < 1e-15
    assert abs(s.get_last_lr()[0] - 0.01) < 1e-15

    opt = optim.Adam(p, lr=0.4)
    s = lr_scheduler.LinearWarmup(opt, warmup_steps=4)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(5):
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, [0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


@pytest.mark.parametrize("cls,ref,kw", CASES, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_group_step_equals_one_step_per_parameter(isa, threads, cls, ref, kw):
    """A group's step is one C call over all its parameters (one parallel
    region, cut across tensors): every parameter ends bit-identical to its
    own single-parameter optimizer.  The group mixes sizes that straddle the
    threads' cuts and both dtypes, and one parameter joins late (its grad is
    None for the first steps, so its state and step count lag)."""
    rng = np.random.default_rng(7)
    shapes = [(3,), (70_001,), (257, 129), (1,), (40_000,)]
    dtypes = [np.float32, np.float64, np.float32, np.float64, np.float32]
    init = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
    grouped = [nn.Parameter(a.copy()) for a in init]
    alone = [nn.Parameter(a.copy()) for a in init]
    opt = cls(grouped, **kw)
    opts = [cls([p], **kw) for p in alone]
    for t in range(4):
        grads = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
        for i, g in enumerate(grads):
            late = i == 2 and t < 2
            grouped[i].grad = None if late else g.copy()
            alone[i].grad = None if late else g.copy()
        opt.step()
        for o in opts:
            o.step()
        for a, b in zip(grouped, alone):
            np.testing.assert_array_equal(a.data, b.data)
    assert all(np.abs(p.data - a).max() > 0 for p, a in zip(grouped, init))


def test_group_step_checks_every_array_before_writing():
    p = [nn.Parameter(np.ones(5, np.float32)), nn.Parameter(np.ones(7, np.float32))]
    opt = optim.SGD(p, lr=0.1, momentum=0.9)
    p[0].grad = np.ones(5, np.float32)
    p[1].grad = np.ones(6, np.float32)
    with pytest.raises(ValueError, match=r"shape \(7,\).*shape \(6,\)"):
        opt.step()
    assert (p[0].data == 1).all() and (p[1].data == 1).all()
    from fastnn import _C
    with pytest.raises(ValueError, match="2 grad arrays for 1 parameters"):
        _C.sgd_step([np.ones(3, np.float32)], [np.ones(3, np.float32)] * 2, None, 0.1, 0.0, 0.0, 0.0, False, True)
    with pytest.raises(TypeError, match="dtype float64, expected float32"):
        _C.sgd_step([np.ones(3, np.float32), np.ones(3)], [np.ones(3, np.float32)] * 2, None, 0.1, 0.0, 0.0, 0.0,
                    False, True)
