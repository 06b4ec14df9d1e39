"""Sequence layers: finite-difference gradients in float64 (through time for
the recurrent layers, with and without the causal mask for attention),
agreement with the NumPy references in float32 on every ISA, PyTorch's
names, and clear errors for bad input."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from nn_helpers import ISAS, assert_bit_identical, at_threads, numeric_grad, using  # noqa: F401
import seq_reference as ref


def _fd_check(module, forward, inputs, rtol=1e-6, atol=1e-8, seed=0):
    """forward(module, *inputs) -> a Tensor (or a tuple with the output first
    and state tensors after); checks autograd's gradients of sum(out * G)
    against central differences for every float input and parameter element."""
    rng = np.random.default_rng(seed)
    with fastnn.no_grad():
        out = forward(module, *inputs)
    outs = out if isinstance(out, tuple) else (out,)
    gs = [rng.standard_normal(o.shape) for o in outs]

    def loss():
        with fastnn.no_grad():
            o = forward(module, *inputs)
        o = o if isinstance(o, tuple) else (o,)
        return float(sum((np.asarray(a) * g).sum() for a, g in zip(o, gs)))

    module.zero_grad()
    ts = [fastnn.tensor(x, requires_grad=True) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x
          for x in inputs]
    o = forward(module, *ts)
    o = o if isinstance(o, tuple) else (o,)
    total = None
    for a, g in zip(o, gs):
        term = (a * g).sum()
        total = term if total is None else total + term
    total.backward()
    analytic = {f"p:{n}": (np.zeros_like(p.data) if p.grad is None else p.grad.copy())
                for n, p in module.named_parameters()}
    for name, p in module.named_parameters():
        num = numeric_grad(loss, p.data)
        np.testing.assert_allclose(analytic[f"p:{name}"], num, rtol=rtol, atol=atol, err_msg=name)
    for i, (x, t) in enumerate(zip(inputs, ts)):
        if not isinstance(t, fastnn.Tensor):
            continue
        g = np.zeros_like(x) if t.grad is None else t.grad
        np.testing.assert_allclose(g, numeric_grad(loss, x), rtol=rtol, atol=atol, err_msg=f"input {i}")
    return module


# ---------------------------------------------------------------- recurrent layers

RECURRENT = [nn.RNN, nn.LSTM, nn.GRU]


@pytest.mark.parametrize("cls", RECURRENT)
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_recurrent_gradients_through_time(cls, batch_first, with_state):
    fastnn.manual_seed(1)
    m = cls(3, 4, num_layers=2, batch_first=batch_first).double()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    h0 = rng.standard_normal((2, 2, 4)) if with_state else None
    c0 = rng.standard_normal((2, 2, 4)) if with_state else None
    lstm = cls is nn.LSTM

    def fwd(mod, xx, hh=None, cc=None):
        state = ((hh, cc) if lstm else hh) if with_state else None
        y, st = mod(xx, state)
        return (y,) + (st if lstm else (st,))
    inputs = [x] + ([h0] + ([c0] if lstm else []) if with_state else [])
    _fd_check(m, fwd, inputs)


@pytest.mark.parametrize("mode,cls", [("RNN", nn.RNN), ("LSTM", nn.LSTM), ("GRU", nn.GRU)])
@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("hid", [40, 300])
def test_recurrent_matches_numpy_reference_float32(mode, cls, isa_name, hid):
    """hid 300: several chunks of hidden units (threads split them), a last
    chunk not a multiple of any NR, and W_hh packed in more than one k block
    in the forward (k = hid) and the backward (k = gates * hid)."""
    fastnn.manual_seed(4)
    m = cls(24, hid, batch_first=False)
    rng = np.random.default_rng(5)
    steps, batch = 9, 17
    x = rng.standard_normal((steps, batch, 24)).astype(np.float32)
    h0 = rng.standard_normal((1, batch, hid)).astype(np.float32)
    c0 = rng.standard_normal((1, batch, hid)).astype(np.float32)
    gy = rng.standard_normal((steps, batch, hid)).astype(np.float32)
    ghn = rng.standard_normal((1, batch, hid)).astype(np.float32)
    p = {n: q.data.astype(np.float64) for n, q in m.named_parameters()}
    ry, rh, rc, cache = ref.rnn_forward(mode, x, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                                        p["bias_hh_l0"], h0[0], c0[0] if mode == "LSTM" else None)
    rgrads = ref.rnn_backward(gy.astype(np.float64), cache, ghn[0].astype(np.float64))

    def run():
        m.zero_grad()
        xt, h0t = fastnn.tensor(x, requires_grad=True), fastnn.tensor(h0, requires_grad=True)
        y, st = m(xt, (h0t, c0) if mode == "LSTM" else h0t)
        hn = st[0] if mode == "LSTM" else st
        fastnn.autograd.backward([y, hn], [gy, ghn])
        return (y.numpy().copy(), xt.grad.copy(), h0t.grad[0].copy(),
                *(q.grad.copy() for _, q in m.named_parameters()))

    with using(isa=isa_name):
        y, gx, gh0, gwi, gwh, gbi, gbh = run()
        assert_bit_identical(at_threads(run))
    tol = dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(y, ry, **tol)
    for got, want, name in zip((gx, gwi, gwh, gbi, gbh, gh0), rgrads[:6], ("x", "w_ih", "w_hh", "b_ih", "b_hh", "h0")):
        np.testing.assert_allclose(got, want, rtol=3e-4, atol=3e-4, err_msg=name)


# the recurrent drivers' test hook (gemm_test_hook.h): threads split the
# batch rows, or the hidden units, whatever the shape
BY_ROWS, BY_UNITS = 1024, 2048


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"])
@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recurrent_split_by_rows_or_units_is_bit_identical(mode, isa_name, dtype):
    """The threads of a recurrence take batch rows (no barrier per step) or
    chunks of hidden units; both, at 1 and 2 threads, must give the bits of
    the default at 1 thread.  Batch 17 splits into 8 + 9 rows, and hidden
    130 into chunks of 64, 64 and 2; where MR is 14, 17 rows run as row
    tiles of 9 and 8 (a last tile of 3 is merged into halves)."""
    from fastnn import _C
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    rng = np.random.default_rng(6)
    steps, batch, n_in, hid = 5, 17, 12, 130
    x = rng.standard_normal((steps, batch, n_in)).astype(dtype)
    w_ih = (0.2 * rng.standard_normal((gates * hid, n_in))).astype(dtype)
    w_hh = (0.1 * rng.standard_normal((gates * hid, hid))).astype(dtype)
    b_ih, b_hh = (rng.standard_normal((2, gates * hid)) * 0.1).astype(dtype)
    h0, c0 = rng.standard_normal((2, batch, hid)).astype(dtype)
    gy = rng.standard_normal((steps, batch, hid)).astype(dtype)
    code = _C.RNN_MODES[mode]
    c0 = c0 if mode == "LSTM" else None

    def run():
        y, cells = np.empty((2, steps, batch, hid), dtype)
        saved = np.empty((steps, batch, 4 * hid), dtype)
        _C.rnn_layer_forward(code, x, w_ih, w_hh, b_ih, b_hh, h0, c0, y, cells, saved)
        gx, gh0, gc0 = np.empty_like(x), np.empty_like(h0), np.empty_like(h0)
        gw = [np.zeros_like(w) for w in (w_ih, w_hh, b_ih, b_hh)]
        _C.rnn_layer_backward(code, x, w_ih, w_hh, h0, c0, y, cells, saved, gy, None, None, gx, *gw, gh0, gc0)
        return (y, gx, gh0, *gw) + ((gc0,) if mode == "LSTM" else ())

    try:
        with using(isa=isa_name):
            want = at_threads(run, (1,))
            for flags in (BY_ROWS, BY_UNITS):
                _C._gemm_test_flags(flags)
                assert_bit_identical(want + at_threads(run))
    finally:
        _C._gemm_test_flags(0)


def test_recurrent_parameter_names_shapes_and_init():
    fastnn.manual_seed(0)
    m = nn.LSTM(10, 20, num_layers=2)
    assert list(m.state_dict()) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                    "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"]
    assert m.weight_ih_l0.shape == (80, 10) and m.weight_hh_l0.shape == (80, 20) and m.weight_ih_l1.shape == (80, 20)
    k = 1 / np.sqrt(20)
    for p in m.parameters():
        assert np.abs(p.data).max() <= k and np.abs(p.data).max() > 0.8 * k
    assert nn.GRU(3, 5).weight_ih_l0.shape == (15, 3)
    assert nn.RNN(3, 5, bias=False).state_dict().keys() == {"weight_ih_l0", "weight_hh_l0"}


def test_recurrent_outputs_and_state_shapes():
    m = nn.LSTM(3, 4, num_layers=3, batch_first=True)
    y, (h, c) = m(np.zeros((2, 7, 3), np.float32))
    assert y.shape == (2, 7, 4) and h.shape == (3, 2, 4) and c.shape == (3, 2, 4)
    np.testing.assert_array_equal(h[-1], y[:, -1])
    g = nn.GRU(3, 4, batch_first=False)
    y, h = g(np.zeros((7, 2, 3), np.float32))
    assert y.shape == (7, 2, 4) and h.shape == (1, 2, 4)


def test_recurrent_bad_input():
    m = nn.LSTM(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"LSTM\(.*3-D"):
        m(np.zeros((1, 2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"LSTM\(.*expected input_size 3"):
        m(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"h_0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"):
        m(np.zeros((2, 5, 3), np.float32), (np.zeros((1, 3, 4), np.float32), np.zeros((1, 2, 4), np.float32)))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        m(np.zeros((2, 5, 3), np.float32), np.zeros((1, 2, 4), np.float32))
    g = nn.GRU(3, 4, num_layers=2, batch_first=True)
    with pytest.raises(ValueError, match=r"GRU\(.*h_0 has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        g(np.zeros((2, 5, 3), np.float32), np.zeros((1, 2, 4), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        g(np.zeros((2, 5, 3), np.float64))
    y, _ = nn.RNN(3, 4, batch_first=True)(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(RuntimeError, match="gradient has shape"):
        y.backward(np.zeros((2, 4, 4), np.float32))


# ---------------------------------------------------------------- embedding

def test_embedding_gradient_and_padding():
    fastnn.manual_seed(0)
    e = nn.Embedding(6, 3, padding_idx=2).double()
    assert not e.weight.data[2].any()
    idx = np.array([[0, 2, 5, 0], [1, 1, 2, 4]])
    g = np.random.default_rng(0).standard_normal((2, 4, 3))
    e.zero_grad()
    y = e(idx)
    np.testing.assert_array_equal(y, e.weight.data[idx])
    y.backward(g)

    def loss():
        return float((e(idx) * g).sum())
    num = numeric_grad(loss, e.weight.data)
    num[2] = 0  # PyTorch: the padding row gets no gradient
    np.testing.assert_allclose(e.weight.grad, num, rtol=1e-7, atol=1e-9)


def test_embedding_bad_input():
    e = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match=r"Embedding\(5, 3\).*out of range"):
        e(np.array([1, 5]))
    with pytest.raises(IndexError, match="out of range"):
        e(np.array([[-1]]))
    with pytest.raises(TypeError, match="integers"):
        e(np.array([1.0]))
    with pytest.raises(TypeError, match="ndarray"):
        e([1, 2])


# ---------------------------------------------------------------- attention layers

@pytest.mark.parametrize("causal", [False, True])
def test_multihead_self_attention_gradients(causal):
    fastnn.manual_seed(3)
    m = nn.MultiheadAttention(8, 2, batch_first=True).double()
    for p in m.parameters():  # non-zero biases so their gradients are exercised
        p.data += np.random.default_rng(0).standard_normal(p.shape) * 0.1
    x = np.random.default_rng(1).standard_normal((2, 5, 8))
    _fd_check(m, lambda mod, xx: mod(xx, xx, xx, need_weights=False, is_causal=causal)[0], [x])


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_cross_attention_gradients(causal):
    fastnn.manual_seed(4)
    m = nn.MultiheadAttention(6, 3, batch_first=True).double()
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 7, 6)), rng.standard_normal((2, 7, 6))
    _fd_check(m, lambda mod, a, b, c: mod(a, b, c, need_weights=False, is_causal=causal)[0], [q, k, v])


def test_multihead_attention_matches_reference():
    fastnn.manual_seed(5)
    m = nn.MultiheadAttention(16, 4, batch_first=True)
    x = np.random.default_rng(3).standard_normal((3, 11, 16)).astype(np.float32)
    y = m(x, x, x, need_weights=False, is_causal=True)[0]
    w, b = m.in_proj_weight.data.astype(np.float64), m.in_proj_bias.data.astype(np.float64)
    qkv = x.astype(np.float64) @ w.T + b
    q, k, v = (qkv[..., i * 16:(i + 1) * 16].reshape(3, 11, 4, 4).transpose(0, 2, 1, 3) for i in range(3))
    o, _ = ref.attention_forward(q, k, v, causal=True)
    want = o.transpose(0, 2, 1, 3).reshape(3, 11, 16) @ m.out_proj.weight.data.T.astype(np.float64) \
        + m.out_proj.bias.data
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_encoder_layer_gradients(causal):
    fastnn.manual_seed(6)
    m = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, activation="gelu", norm_first=True,
                                   batch_first=True).double()
    for p in m.parameters():
        p.data += np.random.default_rng(7).standard_normal(p.shape) * 0.1
    x = np.random.default_rng(8).standard_normal((2, 4, 8))
    _fd_check(m, lambda mod, xx: mod(xx, is_causal=causal), [x], rtol=1e-5, atol=1e-7)


def test_transformer_names_and_dropout():
    m = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    names = list(m.state_dict())
    for n in ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
              "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
              "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]:
        assert n in names
    assert m.linear1.weight.shape == (16, 8) and m.linear2.weight.shape == (8, 16)
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    m.eval()
    a = m(x).numpy().copy()
    np.testing.assert_array_equal(a, m(x))
    m.train()
    fastnn.manual_seed(0)
    assert not np.array_equal(m(x), a)  # dropout is active in training


def test_transformer_default_causal_in_sequential():
    fastnn.manual_seed(0)
    a = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True,
                                   causal=True)
    x = np.random.default_rng(0).standard_normal((1, 6, 8)).astype(np.float32)
    y = nn.Sequential(a)(x).numpy().copy()
    np.testing.assert_array_equal(y, a(x, is_causal=True))
    # causal: the first position does not see the others
    x2 = x.copy()
    x2[0, 3:] += 1
    np.testing.assert_array_equal(a(x2)[0, :3], y[0, :3])
    assert not np.array_equal(a(x2, is_causal=False).numpy()[0, :3], a(x, is_causal=False).numpy()[0, :3])


def test_positional_embeddings():
    s = nn.SinusoidalPositionalEncoding(6, max_len=10)
    x = np.zeros((2, 4, 6))
    y = s(x).numpy()
    np.testing.assert_allclose(y[0, 3, 0], np.sin(3.0))
    np.testing.assert_allclose(y[1, 2, 1], np.cos(2.0))
    np.testing.assert_allclose(y[0, 2, 2], np.sin(2.0 / 10000 ** (2 / 6)))
    g = np.ones_like(x)
    _fd_check(s, lambda mod, xx: mod(xx), [np.random.default_rng(1).standard_normal((2, 4, 6))])
    fastnn.manual_seed(0)
    p = nn.LearnedPositionalEmbedding(10, 6).double()
    _fd_check(p, lambda mod, xx: mod(xx), [np.random.default_rng(0).standard_normal((2, 4, 6))])
    with pytest.raises(ValueError, match="seq <= 10"):
        p(np.zeros((1, 11, 6)))


def test_attention_layers_bad_input():
    with pytest.raises(ValueError, match="embed_dim 10 is not divisible by num_heads 3"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="not divisible"):
        nn.TransformerEncoderLayer(10, 4)
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"MultiheadAttention\(.*3-D"):
        m(np.zeros((1, 5, 8, 1), np.float32))
    with pytest.raises(ValueError, match="embedding size 6"):
        m(np.zeros((1, 5, 6), np.float32))
    with pytest.raises(ValueError, match="do not agree"):
        m(np.zeros((1, 5, 8), np.float32), np.zeros((1, 4, 8), np.float32), np.zeros((1, 3, 8), np.float32))
    t = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer\(.*3-D"):
        t(np.zeros((1, 5, 8, 1), np.float32))
