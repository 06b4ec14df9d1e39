"""Shared helpers of the torch-parity tests: finite-difference gradient
checks through autograd, and comparisons against torch (float64) with
torch's weights loaded into fastnn through load_state_dict."""
import numpy as np
import pytest

import fastnn
from nn_helpers import numeric_grad


def leaf(a):
    return fastnn.tensor(np.asarray(a, np.float64), requires_grad=True)


def check_grads(fn, leaves, seed=0, rtol=1e-6, atol=1e-8):
    """out = fn(); out.backward(w) for a random w; every leaf's .grad against
    central differences of sum(fn() * w).  Returns the output array."""
    for t in leaves:
        t.grad = None
    out = fn()
    w = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(w)
    analytic = [t.grad.copy() for t in leaves]

    def f():
        with fastnn.no_grad():
            return float(np.sum(fn().data * w))
    for t, g in zip(leaves, analytic):
        np.testing.assert_allclose(g, numeric_grad(f, t.data), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of a leaf of shape {t.shape}")
    return out.data


def torch_state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def compare_module(ours, theirs, x, seed=1, rtol=1e-10, atol=1e-12, forward=None):
    """theirs (a torch module) and ours with theirs' state dict loaded: same
    output, input gradient and parameter gradients in float64; our state dict
    loads back into theirs (strict keys and shapes)."""
    torch = pytest.importorskip("torch")
    theirs = theirs.double()
    ours.double()
    ours.load_state_dict(torch_state(theirs))
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = theirs(xt) if forward is None else forward(theirs, xt)
    w = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(w))
    xf = leaf(x)
    yf = ours(xf) if forward is None else forward(ours, xf)
    np.testing.assert_allclose(yf.data, yt.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    yf.backward(w)
    np.testing.assert_allclose(xf.grad, xt.grad.numpy(), rtol=rtol, atol=atol, err_msg="input grad")
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(ours_params[name].grad, p.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"grad of {name}")
    theirs.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in ours.state_dict().items()})
    return yf.data
