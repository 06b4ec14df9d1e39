"""Masked attention and the Transformer layers: the masked kernel against a
float64 NumPy reference (every ISA, float32 and float64, bit-identical at 1
and 2 threads), finite-difference gradients (no torch needed), and parity
with torch in float64 (torch's weights loaded through load_state_dict, ours
loaded back): outputs, attention weights, input and parameter gradients."""
import numpy as np
import pytest

import fastnn
from fastnn import nn, ops, optim
from fastnn.datasets import load_text
from fastnn.nn import functional as F
from nn_helpers import DTYPES, assert_bit_identical, at_threads, isa  # noqa: F401
from parity_helpers import check_grads, leaf, torch_state


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------- the masked kernel

def ref_attention(q, k, v, bias, g, scale=None):
    """Dense float64 attention with an additive bias broadcast to (B, H, Sq,
    Sk): (out, grad_q, grad_k, grad_v); a row whose scores are all -inf gives
    zeros and no gradient."""
    q, k, v, g = (a.astype(np.float64) for a in (q, k, v, g))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ k.swapaxes(-1, -2) * scale + bias
    m = s.max(-1, keepdims=True)
    full = np.isneginf(m)
    p = np.exp(s - np.where(full, 0.0, m))
    p = np.where(full, 0.0, p / np.where(full, 1.0, p.sum(-1, keepdims=True)))
    dv = p.swapaxes(-1, -2) @ g
    dp = g @ v.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) * scale
    return p @ v, ds @ k, ds.swapaxes(-1, -2) @ q, dv


def _masks(kind, b, h, sq, sk, rng):
    """(kwargs for ops, causal, additive float64 bias (B, H, Sq, Sk)) of one
    mask kind.  ops' boolean attn_mask is torch's scaled_dot_product_attention
    one (True = attend); key_padding_mask's True hides a key."""
    keep = rng.random((sq, sk)) > 0.3
    keep[:, 0] = True  # every query keeps a key
    bias = np.zeros((b, h, sq, sk))
    kw, causal = {}, False
    if kind in ("bool2d", "bool2d+kpm+causal"):
        kw["attn_mask"] = keep
        bias += np.where(keep, 0.0, -np.inf)
    if kind == "float2d":
        m = rng.standard_normal((sq, sk))
        m[~keep] = -np.inf
        kw["attn_mask"] = m
        bias += m
    if kind == "float3d":
        m = rng.standard_normal((b * h, sq, sk))
        kw["attn_mask"] = m
        bias += m.reshape(b, h, sq, sk)
    if kind == "bool4d":
        m = rng.random((b, 1, sq, sk)) > 0.3
        m[..., 0] = True
        kw["attn_mask"] = m
        bias += np.where(m, 0.0, -np.inf)
    if kind in ("kpm_bool", "bool2d+kpm+causal"):
        pad = np.zeros((b, sk), bool)
        pad[-1, sk // 2:] = True  # the last batch element is padded
        kw["key_padding_mask"] = pad
        bias += np.where(pad, -np.inf, 0.0)[:, None, None, :]
    if kind == "kpm_float":
        m = rng.standard_normal((b, sk))
        kw["key_padding_mask"] = m
        bias += m[:, None, None, :]
    if kind == "bool2d+kpm+causal":
        causal = True
        bias += np.where(np.arange(sk)[None, :] > np.arange(sq)[:, None], -np.inf, 0.0)
    if kind == "fully_masked_rows":
        m = rng.standard_normal((sq, sk))
        m[1] = -np.inf  # query 1 sees no key
        pad = np.zeros((b, sk))
        pad[0] = -np.inf  # nor does any query of batch element 0
        kw["attn_mask"], kw["key_padding_mask"] = m, pad
        bias += m + pad[:, None, None, :]
    return kw, causal, bias


MASK_KINDS = ["bool2d", "float2d", "float3d", "bool4d", "kpm_bool", "kpm_float", "bool2d+kpm+causal",
              "fully_masked_rows"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", MASK_KINDS)
@pytest.mark.parametrize("shape", [(2, 2, 5, 7, 3), (2, 2, 130, 67, 16)])  # the second on 2 threads
def test_masked_attention_kernel(isa, dtype, kind, shape):
    b, h, sq, sk, d = shape
    rng = np.random.default_rng(3)
    q = rng.standard_normal((b, h, sq, d)).astype(dtype)
    k, v = (rng.standard_normal((b, h, sk, d)).astype(dtype) for _ in range(2))
    g = rng.standard_normal((b, h, sq, d)).astype(dtype)
    kw, causal, bias = _masks(kind, b, h, sq, sk, rng)
    kw = {n: (m.astype(dtype) if m.dtype.kind == "f" else m) for n, m in kw.items()}
    want = ref_attention(q, k, v, bias, g)
    got = (ops.scaled_dot_product_attention(q, k, v, causal=causal, **kw),) + \
        ops.scaled_dot_product_attention_backward(g, q, k, v, causal=causal, **kw)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
    for a, r, what in zip(got, want, ("out", "grad_q", "grad_k", "grad_v")):
        assert a.dtype == dtype and np.isfinite(a).all(), what
        np.testing.assert_allclose(a, r, err_msg=what, **tol)
    if sq > 64:
        assert_bit_identical(at_threads(lambda: (ops.scaled_dot_product_attention(q, k, v, causal=causal, **kw),)
                                        + ops.scaled_dot_product_attention_backward(g, q, k, v, causal=causal,
                                                                                    **kw)))


def test_masked_attention_bad_masks():
    q = np.zeros((2, 2, 3, 4))
    with pytest.raises(ValueError, match=r"attn_mask has shape \(3, 4\)"):
        ops.scaled_dot_product_attention(q, q, q, attn_mask=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"attn_mask has shape \(3, 3, 3\)"):
        ops.scaled_dot_product_attention(q, q, q, attn_mask=np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match=r"key_padding_mask has shape \(3, 3\)"):
        ops.scaled_dot_product_attention(q, q, q, key_padding_mask=np.zeros((3, 3), bool))
    with pytest.raises(TypeError, match="attn_mask must be boolean or floating point"):
        ops.scaled_dot_product_attention(q, q, q, attn_mask=np.zeros((3, 3), np.int64))
    with pytest.raises(NotImplementedError, match="gradient with respect to attn_mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=fastnn.tensor(np.zeros((3, 3)), requires_grad=True))
    with pytest.raises(NotImplementedError, match="enable_gqa"):
        F.scaled_dot_product_attention(q, q, q, enable_gqa=True)


@pytest.mark.parametrize("kind", ["bool2d", "float3d", "bool2d+kpm+causal", "fully_masked_rows"])
def test_masked_sdpa_finite_differences(kind):
    b, h, sq, sk, d = 2, 2, 3, 4, 3
    rng = np.random.default_rng(5)
    kw, causal, _ = _masks(kind, b, h, sq, sk, rng)
    kpm = kw.pop("key_padding_mask", None)
    q, k, v = leaf(rnd(b, h, sq, d, seed=1)), leaf(rnd(b, h, sk, d, seed=2)), leaf(rnd(b, h, sk, d, seed=3))
    if kpm is None:
        check_grads(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, **kw), [q, k, v])
    else:  # through MultiheadAttention's functional core, which takes the key padding mask
        mask, key = ops.attention_masks(kw.get("attn_mask"), kpm, q.shape, sk, np.float64, "test")
        check_grads(lambda: F.fused_attention(q, k, v, mask, key, causal, None), [q, k, v])


@pytest.mark.parametrize("mask", ["bool4d", "float2d", "causal"])
def test_sdpa_against_torch(mask):
    """F.scaled_dot_product_attention with torch's mask conventions (boolean:
    True = attend): outputs and gradients of query, key and value."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    q, k, v = rnd(2, 2, 3, 4, seed=1), rnd(2, 2, 5, 4, seed=2), rnd(2, 2, 5, 4, seed=3)
    kw = {}
    if mask == "bool4d":
        m = rng.random((2, 1, 3, 5)) > 0.4
        m[..., 0] = True
        kw["attn_mask"] = m
    elif mask == "float2d":
        kw["attn_mask"] = rng.standard_normal((3, 5))
    else:
        kw["is_causal"] = True
    w = rnd(2, 2, 3, 4, seed=4)
    xt = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    yt = torch.nn.functional.scaled_dot_product_attention(
        *xt, **{n: (torch.tensor(a) if isinstance(a, np.ndarray) else a) for n, a in kw.items()})
    (yt * torch.tensor(w)).sum().backward()
    xf = [leaf(a) for a in (q, k, v)]
    yf = F.scaled_dot_product_attention(*xf, **kw)
    (yf * w).sum().backward()
    np.testing.assert_allclose(yf.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(xf, xt):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_dropout_uses_the_probabilities():
    q, k, v = (rnd(1, 2, 4, 3, seed=s) for s in range(3))
    ref = F.scaled_dot_product_attention(q, k, v).numpy()
    fastnn.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    fastnn.manual_seed(0)
    np.testing.assert_array_equal(a, F.scaled_dot_product_attention(q, k, v, dropout_p=0.5))
    assert not np.allclose(a, ref)
    qt, kt, vt = (leaf(x) for x in (q, k, v))

    def f():
        fastnn.manual_seed(1)
        return F.scaled_dot_product_attention(qt, kt, vt, dropout_p=0.3)
    check_grads(f, [qt, kt, vt])


# ---------------------------------------------------------------- torch parity

def _perturbed(torch, module, seed):
    with torch.no_grad():
        for i, p in enumerate(module.parameters()):
            p.add_(torch.tensor(rnd(*p.shape, seed=seed + i) * 0.1))
    return module


def _to_torch(torch, m):
    if m is None or isinstance(m, np.ndarray) and m.dtype == np.bool_:
        return None if m is None else torch.tensor(m)
    return torch.tensor(np.asarray(m, np.float64))


def compare(torch, ours, theirs, inputs, call, seed=7, rtol=1e-10, atol=1e-12):
    """call(module, *inputs) -> a tuple of outputs (None allowed) on both
    sides, ours after loading theirs' state dict: outputs, gradients of every
    input and parameter for a random weighting of every output; ours loads
    back into theirs."""
    theirs = theirs.double()
    ours.double()
    ours.load_state_dict(torch_state(theirs))
    xt = [torch.tensor(x, requires_grad=True) for x in inputs]
    yt = [y for y in call(theirs, *xt) if y is not None]
    ws = [rnd(*y.shape, seed=seed + i) for i, y in enumerate(yt)]
    sum((y * torch.tensor(w)).sum() for y, w in zip(yt, ws)).backward()
    xf = [leaf(x) for x in inputs]
    yf = [y for y in call(ours, *xf) if y is not None]
    assert len(yf) == len(yt)
    for a, b in zip(yf, yt):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    sum((y * w).sum() for y, w in zip(yf, ws)).backward()
    for i, (a, b) in enumerate(zip(xf, xt)):
        ga = np.zeros(a.shape) if a.grad is None else a.grad
        gb = np.zeros(a.shape) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(ga, gb, rtol=rtol, atol=atol, err_msg=f"grad of input {i}")
    params = dict(ours.named_parameters())
    assert set(params) == {n for n, _ in theirs.named_parameters()}
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(params[name].grad, p.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
    theirs.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in ours.state_dict().items()})
    return [y.data for y in yf]


def _causal_bool(sq, sk):
    return np.arange(sk)[None, :] > np.arange(sq)[:, None]  # True = hidden (torch's MultiheadAttention)


MHA_MASKS = ["none", "bool2d", "float2d", "bool3d", "float3d", "kpm_bool", "kpm_float", "causal", "causal+kpm"]


def _mha_masks(kind, n, h, l, s, rng):
    """(ours, theirs) keyword arguments of one mask kind, torch's MHA
    convention (True = hidden); no query loses every key."""
    hide = rng.random((l, s)) < 0.3
    hide[:, 0] = False
    pad = np.zeros((n, s), bool)
    pad[0, s - 2:] = True
    kw = {}
    if kind == "bool2d":
        kw["attn_mask"] = hide
    elif kind == "float2d":
        kw["attn_mask"] = np.where(hide, -np.inf, rng.standard_normal((l, s)))
    elif kind in ("bool3d", "float3d"):
        m = rng.random((n * h, l, s)) < 0.3
        m[..., 0] = False
        kw["attn_mask"] = m if kind == "bool3d" else np.where(m, -1e9, rng.standard_normal((n * h, l, s)))
    elif kind == "kpm_bool":
        kw["key_padding_mask"] = pad
    elif kind == "kpm_float":
        kw["key_padding_mask"] = np.where(pad, -np.inf, rng.standard_normal((n, s)))
    ours = dict(kw)
    theirs = {k: v for k, v in kw.items()}
    if kind.startswith("causal"):
        ours["is_causal"] = True  # fastnn needs no mask for it
        theirs["is_causal"], theirs["attn_mask"] = True, _causal_bool(l, s)
        if kind == "causal+kpm":
            ours["key_padding_mask"] = theirs["key_padding_mask"] = pad
    return ours, theirs


def _mha_call(ours_kw, theirs_kw, torch, self_attn, **extra):
    def call(m, *x):
        kw = dict(theirs_kw if isinstance(m, torch.nn.Module) else ours_kw, **extra)
        if isinstance(m, torch.nn.Module):
            kw = {k: (_to_torch(torch, v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        q, k, v = (x[0], x[0], x[0]) if self_attn else x
        return m(q, k, v, **kw)
    return call


@pytest.mark.parametrize("kind", MHA_MASKS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_masks_against_torch(kind, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    n, h, l, e = 2, 2, 4, 8
    theirs = _perturbed(torch, torch.nn.MultiheadAttention(e, h, batch_first=batch_first), 1)
    ours = nn.MultiheadAttention(e, h, batch_first=batch_first)
    ok, tk = _mha_masks(kind, n, h, l, l, np.random.default_rng(2))
    x = rnd(n, l, e, seed=3) if batch_first else rnd(l, n, e, seed=3)
    compare(torch, ours, theirs, [x], _mha_call(ok, tk, torch, True, need_weights=False))


@pytest.mark.parametrize("kind", ["none", "float2d", "bool3d", "kpm_bool", "causal+kpm"])
@pytest.mark.parametrize("average", [True, False])
def test_mha_cross_attention_with_weights_against_torch(kind, average):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    n, h, l, s, e = 2, 2, 3, 5, 8
    theirs = _perturbed(torch, torch.nn.MultiheadAttention(e, h, batch_first=True), 4)
    ours = nn.MultiheadAttention(e, h, batch_first=True)
    ok, tk = _mha_masks(kind, n, h, l, s, np.random.default_rng(5))
    y, w = compare(torch, ours, theirs, [rnd(n, l, e, seed=6), rnd(n, s, e, seed=7), rnd(n, s, e, seed=8)],
                   _mha_call(ok, tk, torch, False, need_weights=True, average_attn_weights=average))
    assert w.shape == ((n, l, s) if average else (n, h, l, s))
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)


def test_mha_unbatched_kdim_vdim_no_bias_against_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    e, h, l, s = 8, 2, 3, 4
    theirs = _perturbed(torch, torch.nn.MultiheadAttention(e, h, kdim=6, vdim=5), 9)
    ours = nn.MultiheadAttention(e, h, kdim=6, vdim=5)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    pad = np.array([False, False, False, True])
    compare(torch, ours, theirs, [rnd(l, e, seed=1), rnd(s, 6, seed=2), rnd(s, 5, seed=3)],
            lambda m, q, k, v: m(q, k, v, key_padding_mask=_to_torch(torch, pad) if isinstance(m, torch.nn.Module)
                                 else pad, average_attn_weights=False))
    theirs = _perturbed(torch, torch.nn.MultiheadAttention(e, h, bias=False, batch_first=True), 3)
    compare(torch, nn.MultiheadAttention(e, h, bias=False, batch_first=True), theirs, [rnd(2, l, e, seed=4)],
            lambda m, x: m(x, x, x))


def test_mha_fully_masked_rows_match_torch():
    """torch gives zeros (then out_proj) for a query with no key on its fused
    path (need_weights=False) and NaN on the path with weights: both here."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = _perturbed(torch, torch.nn.MultiheadAttention(8, 2, batch_first=True), 2)
    ours = nn.MultiheadAttention(8, 2, batch_first=True)
    pad = np.array([[False, False, False], [True, True, True]])
    x = rnd(2, 3, 8, seed=1)
    compare(torch, ours, theirs, [x], lambda m, xx: m(xx, xx, xx, need_weights=False, key_padding_mask=(
        _to_torch(torch, pad) if isinstance(m, torch.nn.Module) else pad)))
    y, w = ours(x, x, x, key_padding_mask=pad)
    yt, wt = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x), key_padding_mask=torch.tensor(pad))
    assert np.isnan(y.numpy()[1]).all() and np.isnan(w.numpy()[1]).all()
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)  # NaN where torch has it
    np.testing.assert_allclose(w.numpy(), wt.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["kpm_bool", "float3d", "causal+kpm"])
def test_mha_finite_differences(kind):
    fastnn.manual_seed(0)
    n, h, l, e = 2, 2, 3, 4
    m = nn.MultiheadAttention(e, h, batch_first=True).double()
    for i, p in enumerate(m.parameters()):
        p.data += rnd(*p.shape, seed=i) * 0.1
    ok, _ = _mha_masks(kind, n, h, l, l, np.random.default_rng(1))
    x = leaf(rnd(n, l, e, seed=2))
    params = list(m.parameters())
    check_grads(lambda: m(x, x, x, need_weights=False, **ok)[0], [x] + params, rtol=1e-5, atol=1e-7)
    y, w = m(x, x, x, **ok)  # the explicit path, weights included
    check_grads(lambda: m(x, x, x, **ok)[1], [x], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(y.data, m(x, x, x, need_weights=False, **ok)[0].data, rtol=1e-12, atol=1e-13)


def test_mha_attention_dropout():
    """In training, dropout applies to the probabilities (the returned
    weights, as torch's): kept ones are the eval weights / (1 - p) and the
    output is made from them."""
    fastnn.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True).double()
    x = rnd(2, 5, 8, seed=1)
    m.eval()
    y_eval, w_eval = m(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(m(x, x, x, need_weights=False)[0].numpy(), y_eval.numpy(), rtol=1e-12, atol=1e-14)
    m.train()
    fastnn.manual_seed(3)
    y, w = m(x, x, x, average_attn_weights=False)
    w, w_eval = w.numpy(), w_eval.numpy()
    kept = w != 0
    assert 0.2 < kept.mean() < 0.8
    np.testing.assert_allclose(w[kept], w_eval[kept] / 0.5, rtol=1e-12)
    fastnn.manual_seed(3)
    y2, _ = m(x, x, x, need_weights=False)  # the same dropout mask without weights
    np.testing.assert_allclose(y2.numpy(), y.numpy(), rtol=1e-12)
    assert not np.allclose(y.numpy(), y_eval.numpy())


def test_mha_unsupported_options():
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(8, 2, add_bias_kv=True)
    m = nn.MultiheadAttention(8, 2)
    x = np.zeros((3, 2, 8), np.float32)
    with pytest.raises(ValueError, match=r"attn_mask has shape \(4, 4, 3\)"):
        m(x, x, x, attn_mask=np.zeros((4, 4, 3)))
    with pytest.raises(NotImplementedError, match="gradient with respect to key_padding_mask"):
        m(x, x, x, key_padding_mask=fastnn.tensor(np.zeros((2, 3)), requires_grad=True))


# ---------------------------------------------------------------- encoder and decoder

def _activations(torch, act):
    if act == "callable":
        return torch.nn.functional.silu, F.silu
    return act, act


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("masks", ["none", "float_mask+kpm", "causal"])
def test_encoder_layer_against_torch(norm_first, act, masks):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ta, oa = _activations(torch, act)
    kw = dict(dim_feedforward=12, dropout=0.0, norm_first=norm_first, batch_first=True)
    theirs = _perturbed(torch, torch.nn.TransformerEncoderLayer(8, 2, activation=ta, **kw), 1)
    ours = nn.TransformerEncoderLayer(8, 2, activation=oa, **kw)
    n, l = 2, 5
    rng = np.random.default_rng(2)
    ok = tk = {}
    if masks == "float_mask+kpm":
        pad = np.zeros((n, l), bool)
        pad[1, 3:] = True
        ok = tk = dict(src_mask=rng.standard_normal((l, l)), src_key_padding_mask=np.where(pad, -np.inf, 0.0))
    elif masks == "causal":
        ok, tk = dict(is_causal=True), dict(is_causal=True, src_mask=_causal_bool(l, l))

    def call(m, x):
        if isinstance(m, torch.nn.Module):
            return (m(x, **{k: (_to_torch(torch, v) if isinstance(v, np.ndarray) else v) for k, v in tk.items()}),)
        return (m(x, **ok),)
    compare(torch, ours, theirs, [rnd(n, l, 8, seed=3)], call)


def test_encoder_layer_torch_defaults():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = _perturbed(torch, torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16), 1).eval()
    ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16).eval()
    assert not ours.norm_first and not ours.batch_first and ours.activation is F.relu
    assert ours.self_attn.dropout == 0.1 and ours.dropout.p == 0.1
    compare(torch, ours, theirs, [rnd(5, 2, 8, seed=1)], lambda m, x: (m(x),))  # (seq, batch, d_model)
    compare(torch, ours, theirs, [rnd(5, 8, seed=2)], lambda m, x: (m(x),))  # unbatched


def test_transformer_encoder_padded_batch_against_torch():
    """Variable-length sequences padded to 5 with src_key_padding_mask: the
    same outputs as torch, and no gradient reaches a padded position from
    the unpadded outputs (in torch either)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lengths = [5, 3, 2]
    n, l, e = len(lengths), 5, 8
    pad = np.arange(l)[None, :] >= np.array(lengths)[:, None]
    layer_kw = dict(dim_feedforward=16, dropout=0.0, batch_first=True)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **layer_kw), 2,
                                         norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    _perturbed(torch, theirs, 1)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **layer_kw), 2, norm=nn.LayerNorm(8))
    assert set(ours.state_dict()) == set(theirs.state_dict())
    assert "layers.1.self_attn.in_proj_weight" in ours.state_dict()
    x = rnd(n, l, e, seed=2)
    compare(torch, ours, theirs, [x], lambda m, xx: (m(xx, src_key_padding_mask=(
        torch.tensor(pad) if isinstance(m, torch.nn.Module) else pad)),))
    w = np.where(pad[..., None], 0.0, rnd(n, l, e, seed=3))  # a loss on the unpadded outputs only
    xo, xt = leaf(x), torch.tensor(x, requires_grad=True)
    (ours(xo, src_key_padding_mask=pad) * w).sum().backward()
    (theirs(xt, src_key_padding_mask=torch.tensor(pad)) * torch.tensor(w)).sum().backward()
    assert np.all(xo.grad[pad] == 0) and np.all(xt.grad.numpy()[pad] == 0)
    assert np.all(np.abs(xo.grad[~pad]).sum(-1) > 0)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_transformer_encoder_causal_and_copies():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2)
    assert enc.layers[0] is not layer and enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    np.testing.assert_array_equal(enc.layers[1].linear1.weight.numpy(), layer.linear1.weight.numpy())
    x = rnd(1, 6, 8, seed=1).astype(np.float32)
    y = enc(x, is_causal=True).numpy()
    x2 = x.copy()
    x2[0, 4:] += 1
    np.testing.assert_array_equal(enc(x2, is_causal=True).numpy()[0, :4], y[0, :4])
    mask = np.triu(np.full((6, 6), -np.inf, np.float32), 1)  # torch's generate_square_subsequent_mask
    np.testing.assert_allclose(enc(x, mask=mask).numpy(), y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_decoder_layer_against_torch(norm_first, act):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    kw = dict(dim_feedforward=12, dropout=0.0, norm_first=norm_first, activation=act, batch_first=True)
    theirs = _perturbed(torch, torch.nn.TransformerDecoderLayer(8, 2, **kw), 1)
    ours = nn.TransformerDecoderLayer(8, 2, **kw)
    n, l, s = 2, 4, 5
    rng = np.random.default_rng(2)
    mpad = np.zeros((n, s), bool)
    mpad[0, 3:] = True
    tpad = np.zeros((n, l), bool)
    tpad[1, 3] = True
    common = dict(memory_mask=rng.standard_normal((l, s)), memory_key_padding_mask=np.where(mpad, -np.inf, 0.0),
                  tgt_key_padding_mask=tpad)

    def call(m, tgt, mem):
        if isinstance(m, torch.nn.Module):
            return (m(tgt, mem, tgt_mask=torch.tensor(_causal_bool(l, l)), tgt_is_causal=True,
                      **{k: _to_torch(torch, v) for k, v in common.items()}),)
        return (m(tgt, mem, tgt_is_causal=True, **common),)
    compare(torch, ours, theirs, [rnd(n, l, 8, seed=3), rnd(n, s, 8, seed=4)], call)


def test_transformer_decoder_against_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    kw = dict(dim_feedforward=12, dropout=0.0)
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **kw), 2,
                                         norm=torch.nn.LayerNorm(8))
    _perturbed(torch, theirs, 1)
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, **kw), 2, norm=nn.LayerNorm(8))
    assert set(ours.state_dict()) == set(theirs.state_dict())
    tmask = np.triu(np.full((4, 4), -np.inf), 1)

    def call(m, tgt, mem):
        if isinstance(m, torch.nn.Module):
            return (m(tgt, mem, tgt_mask=torch.tensor(tmask)),)
        return (m(tgt, mem, tgt_mask=tmask),)
    compare(torch, ours, theirs, [rnd(4, 2, 8, seed=2), rnd(5, 2, 8, seed=3)], call)  # (seq, batch, d)


def test_encoder_decoder_layers_finite_differences():
    fastnn.manual_seed(0)
    enc = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True).double()
    dec = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0, norm_first=True, activation="gelu",
                                     batch_first=True).double()
    for i, p in enumerate(list(enc.parameters()) + list(dec.parameters())):
        p.data += rnd(*p.shape, seed=i) * 0.1
    src, tgt = leaf(rnd(2, 3, 4, seed=1)), leaf(rnd(2, 3, 4, seed=2))
    pad = np.array([[False, False, True], [False, False, False]])
    check_grads(lambda: enc(src, src_key_padding_mask=pad, is_causal=True), [src] + list(enc.parameters()),
                rtol=1e-5, atol=1e-7)
    check_grads(lambda: dec(tgt, enc(src, src_key_padding_mask=pad), memory_key_padding_mask=pad,
                            tgt_is_causal=True), [src, tgt] + list(dec.parameters()), rtol=1e-5, atol=1e-7)


def test_transformer_bad_arguments():
    with pytest.raises(ValueError, match="activation should be 'relu' or 'gelu'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(TypeError, match="expected a TransformerDecoderLayer"):
        nn.TransformerDecoder(nn.TransformerEncoderLayer(8, 2), 2)
    d = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer\(.*memory must be 2-D"):
        d(np.zeros((3, 2, 8), np.float32), np.zeros((3, 2, 6), np.float32))


# ---------------------------------------------------------------- a character-level encoder-decoder

class CharSeq2Seq(nn.Module):
    """Reads a window of characters (encoder) and writes the next one
    (decoder, causal, cross-attending to the encoded window)."""

    def __init__(self, vocab, d=32, heads=2, ff=64, max_len=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.LearnedPositionalEmbedding(max_len, d)
        kw = dict(dim_feedforward=ff, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, heads, **kw), 1)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(d, heads, **kw), 1, norm=nn.LayerNorm(d))
        self.head = nn.Linear(d, vocab)

    def forward(self, src, tgt_in):
        memory = self.encoder(self.pos(self.embed(src)))
        return self.head(self.decoder(self.pos(self.embed(tgt_in)), memory, tgt_is_causal=True))


def test_char_encoder_decoder_learns():
    """Next-window prediction on load_text(): the loss falls quarter by
    quarter and ends below the unigram entropy (the decoder uses its causal
    context and the encoded window, not only character frequencies)."""
    corpus = load_text()
    ids, vocab = corpus.train, len(corpus.vocab)
    freq = np.bincount(ids, minlength=vocab) / len(ids)
    entropy = float(-(freq[freq > 0] * np.log(freq[freq > 0])).sum())
    fastnn.manual_seed(0)
    model = CharSeq2Seq(vocab)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    seq, losses = 12, []
    for _ in range(120):
        starts = rng.integers(0, len(ids) - 2 * seq - 1, 16)
        win = np.stack([ids[s:s + 2 * seq] for s in starts])
        src, tgt = win[:, :seq], win[:, seq:]
        tgt_in = np.concatenate([src[:, -1:], tgt[:, :-1]], axis=1)
        logits = model(src, tgt_in)
        loss = loss_fn(logits.reshape(-1, vocab), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    losses = np.array(losses)
    assert np.isfinite(losses).all()
    quarters = [q.mean() for q in np.array_split(losses, 4)]
    assert all(b < a for a, b in zip(quarters, quarters[1:])), f"loss not falling steadily: {quarters}"
    final = losses[-10:].mean()
    assert final < losses[:10].mean() - 1.0 and final < entropy - 0.25, (final, entropy)
