"""nn.RNN (tanh and relu), nn.LSTM and nn.GRU against torch in float64 with
torch's weights loaded (bidirectional, stacked, batch_first or not, with and
without an initial state), finite-difference gradients (without torch), the
dropout between layers, unbatched inputs, the reverse-direction and relu
kernels on every ISA against the NumPy reference, and the options that are
refused."""
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from nn_helpers import ISAS, assert_bit_identical, at_threads, using
from parity_helpers import check_grads, leaf, torch_state
import seq_reference as ref

KINDS = {"RNN_TANH": ("RNN", {}), "RNN_RELU": ("RNN", {"nonlinearity": "relu"}), "LSTM": ("LSTM", {}),
         "GRU": ("GRU", {})}
SEQ, BATCH, IN, HID = 4, 2, 3, 4


def _pair(kind, num_layers, bidirectional, batch_first, bias=True):
    """torch's module (float64, seeded) and ours with its state dict loaded."""
    torch = pytest.importorskip("torch")
    name, kw = KINDS[kind]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(IN, HID, num_layers=num_layers, bidirectional=bidirectional,
                                     batch_first=batch_first, bias=bias, **kw).double()
    ours = getattr(nn, name)(IN, HID, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                             bias=bias, **kw).double()
    ours.load_state_dict(torch_state(theirs))
    return torch, ours, theirs


def _flat(out, lstm):
    """(output, h_n[, c_n]) of a forward."""
    y, st = out
    return (y,) + (tuple(st) if lstm else (st,))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_matches_torch(kind, bidirectional, num_layers, batch_first, with_state):
    _check_against_torch(kind, bidirectional, num_layers, batch_first, with_state)


@pytest.mark.parametrize("kind", list(KINDS))
def test_recurrent_without_bias_matches_torch(kind):
    _check_against_torch(kind, True, 2, False, True, bias=False)


def _check_against_torch(kind, bidirectional, num_layers, batch_first, with_state, bias=True):
    torch, ours, theirs = _pair(kind, num_layers, bidirectional, batch_first, bias)
    lstm = kind == "LSTM"
    dirs = 2 if bidirectional else 1
    rng = np.random.default_rng(3)
    x = rng.standard_normal((BATCH, SEQ, IN) if batch_first else (SEQ, BATCH, IN))
    states = [rng.standard_normal((num_layers * dirs, BATCH, HID)) for _ in range(2 if lstm else 1)]
    xt = torch.tensor(x, requires_grad=True)
    st_t = [torch.tensor(s, requires_grad=True) for s in states]
    xf = leaf(x)
    st_f = [leaf(s) for s in states]
    if with_state:
        out_t = _flat(theirs(xt, tuple(st_t) if lstm else st_t[0]), lstm)
        out_f = _flat(ours(xf, tuple(st_f) if lstm else st_f[0]), lstm)
    else:
        out_t, out_f = _flat(theirs(xt), lstm), _flat(ours(xf), lstm)
    assert out_f[0].shape == ((BATCH, SEQ, dirs * HID) if batch_first else (SEQ, BATCH, dirs * HID))
    assert out_f[1].shape == (num_layers * dirs, BATCH, HID)
    ws = [rng.standard_normal(tuple(o.shape)) for o in out_t]
    for a, b, what in zip(out_f, out_t, ("output", "h_n", "c_n")):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=what)
    torch.autograd.backward(out_t, [torch.tensor(w) for w in ws])
    fastnn.autograd.backward(list(out_f), ws)
    np.testing.assert_allclose(xf.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg="input grad")
    if with_state:
        for a, b, what in zip(st_f, st_t, ("h_0", "c_0")):
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=f"{what} grad")
    ours_params = dict(ours.named_parameters())
    assert list(ours_params) == [n for n, _ in theirs.named_parameters()]
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(ours_params[name].grad, p.grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=f"grad of {name}")
    theirs.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in ours.state_dict().items()})


def _outputs_as_one(m, x, state, lstm):
    y, st = m(x, state)
    parts = [y] + (list(st) if lstm else [st])
    return fastnn.cat([p.reshape(-1) for p in parts])


@pytest.mark.parametrize("kind,kw", [("LSTM", {}), ("GRU", {}), ("RNN", {"nonlinearity": "relu"})])
def test_bidirectional_two_layer_finite_differences(kind, kw):
    fastnn.manual_seed(5)
    m = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True, **kw).double()
    rng = np.random.default_rng(6)
    lstm = kind == "LSTM"
    x = leaf(rng.standard_normal((3, 2, 2)))
    states = [leaf(rng.standard_normal((4, 2, 3))) for _ in range(2 if lstm else 1)]
    state = tuple(states) if lstm else states[0]
    check_grads(lambda: _outputs_as_one(m, x, state, lstm), [x, *states, *m.parameters()], rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- dropout between layers

def _model(kind, dropout, **kw):
    fastnn.manual_seed(7)
    return getattr(nn, kind)(3, 4, num_layers=3, dropout=dropout, bidirectional=True, **kw).double()


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_eval_is_identity_and_zero_is_none(kind):
    x = np.random.default_rng(8).standard_normal((5, 2, 3))
    plain = _model(kind, 0.0)
    want = plain(x)[0].data
    dropped = _model(kind, 0.5)
    dropped.load_state_dict(plain.state_dict())
    np.testing.assert_array_equal(dropped.eval()(x)[0].data, want)
    assert not np.allclose(dropped.train()(x)[0].data, want)
    np.testing.assert_array_equal(plain.train()(x)[0].data, want)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_dropout_masks_every_layer_but_the_last(kind):
    """The layer equals the stack of its layers with F.dropout between them,
    the masks drawn from the same seed in the same order; gradients too."""
    m = _model(kind, 0.4)
    mode = F.RNN_MODES[kind]
    x = np.random.default_rng(9).standard_normal((5, 2, 3))
    xa, xb = leaf(x), leaf(x)
    fastnn.manual_seed(11)
    y, _ = m(xa)
    fastnn.manual_seed(11)
    inp = xb
    for layer in range(3):
        ys = [F.rnn_layer(mode, inp, *(getattr(m, f"{n}_l{layer}{sfx}")
                                       for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
                          reverse=bool(sfx))[0] for sfx in ("", "_reverse")]
        inp = fastnn.cat(ys, dim=2)
        if layer < 2:
            inp = F.dropout(inp, 0.4, True)
    np.testing.assert_array_equal(y.data, inp.data)
    w = np.random.default_rng(12).standard_normal(y.shape)
    m.zero_grad()
    y.backward(w)
    grads = {n: p.grad.copy() for n, p in m.named_parameters()}
    m.zero_grad()
    inp.backward(w)
    np.testing.assert_allclose(xa.grad, xb.grad, rtol=1e-12, atol=1e-14)
    for n, p in m.named_parameters():
        np.testing.assert_allclose(grads[n], p.grad, rtol=1e-12, atol=1e-14, err_msg=n)


def test_dropout_gradient_with_a_fixed_mask_passes_finite_differences():
    fastnn.manual_seed(13)
    m = nn.GRU(2, 3, num_layers=2, dropout=0.5).double()
    x = leaf(np.random.default_rng(14).standard_normal((3, 2, 2)))

    def fn():
        fastnn.manual_seed(15)  # the same mask at every evaluation
        return m(x)[0]
    check_grads(fn, [x, *m.parameters()])


# ---------------------------------------------------------------- unbatched input

@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_matches_a_batch_of_one(kind, batch_first):
    name, kw = KINDS[kind]
    fastnn.manual_seed(16)
    m = getattr(nn, name)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first, **kw).double()
    lstm = name == "LSTM"
    rng = np.random.default_rng(17)
    x = rng.standard_normal((5, 3))
    states = [rng.standard_normal((4, 4)) for _ in range(2 if lstm else 1)]
    w = [rng.standard_normal(s) for s in ((5, 8), (4, 4), (4, 4))]

    def run(xx, ss):
        xl, sl = leaf(xx), [leaf(s) for s in ss]
        m.zero_grad()
        outs = _flat(m(xl, tuple(sl) if lstm else sl[0]), lstm)
        fastnn.autograd.backward(list(outs), [wi.reshape(o.shape) for wi, o in zip(w, outs)])
        return outs, xl.grad, [s.grad for s in sl], [p.grad.copy() for p in m.parameters()]

    outs, gx, gs, gp = run(x, states)
    assert outs[0].shape == (5, 8) and all(o.shape == (4, 4) for o in outs[1:])
    xb = x[None] if batch_first else x[:, None]
    outs1, gx1, gs1, gp1 = run(xb, [s[:, None] for s in states])
    y1 = outs1[0].data[0] if batch_first else outs1[0].data[:, 0]
    np.testing.assert_allclose(outs[0].data, y1, rtol=1e-13, atol=1e-14)
    for a, b in zip(outs[1:], outs1[1:]):
        np.testing.assert_allclose(a.data, b.data[:, 0], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(gx, gx1.reshape(gx.shape), rtol=1e-12, atol=1e-14)
    for a, b in zip(gs + gp, gs1 + gp1):
        np.testing.assert_allclose(a, b.reshape(a.shape), rtol=1e-12, atol=1e-14)


def test_unbatched_matches_torch():
    torch, ours, theirs = _pair("LSTM", 2, True, False)
    x = np.random.default_rng(18).standard_normal((5, IN))
    y, (h, c) = ours(x)
    yt, (ht, ct) = theirs(torch.tensor(x))
    for a, b in ((y, yt), (h, ht), (c, ct)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- kernels on every ISA

@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("mode", ["RNN", "RNN_RELU", "LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hid", [19, 130])
def test_layer_kernel_matches_numpy_reference(isa_name, mode, reverse, dtype, hid):
    """The relu cell and the reverse direction on every ISA in float32 and
    float64: hid 19 is a full vector and a tail; hid 130 is three chunks of
    hidden units, split across threads, with the same bits at 1 and 2."""
    rng = np.random.default_rng(19)
    steps, batch, n_in = 4, 3, 5
    g = {"RNN": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}[mode]
    x, h0, c0, gy, ghn = (rng.standard_normal(s).astype(dtype) for s in
                          ((steps, batch, n_in), (batch, hid), (batch, hid), (steps, batch, hid), (batch, hid)))
    ws = [(rng.standard_normal(s) * 0.4).astype(dtype) for s in ((g * hid, n_in), (g * hid, hid), (g * hid,),
                                                                 (g * hid,))]
    lstm = mode == "LSTM"
    order = slice(None, None, -1) if reverse else slice(None)
    ry, rh, rc, cache = ref.rnn_forward(mode, x[order], *(w.astype(np.float64) for w in ws), h0, c0 if lstm else None)
    rgrads = ref.rnn_backward(gy[order].astype(np.float64), cache, ghn.astype(np.float64))
    tol = dict(rtol=3e-4, atol=3e-4) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)

    def run():
        xl, hl, cl, *params = (fastnn.tensor(a, requires_grad=True) for a in (x, h0, c0, *ws))
        y, h_n, c_n = F.rnn_layer(F.RNN_MODES["RNN_TANH" if mode == "RNN" else mode], xl, *params, h0=hl,
                                  c0=cl if lstm else None, reverse=reverse)
        fastnn.autograd.backward([y, h_n], [gy, ghn])
        return y, h_n, c_n, xl, hl, cl, params

    with using(isa=isa_name):
        y, h_n, c_n, xl, hl, cl, params = run()
        if hid > 64:
            def results():
                r = run()
                return [r[0].data, r[1].data, r[3].grad, r[4].grad] + [p.grad for p in r[6]]
            assert_bit_identical(at_threads(results))
    np.testing.assert_allclose(y.data, ry[order], **tol)
    np.testing.assert_allclose(h_n.data, rh, **tol)
    if lstm:
        np.testing.assert_allclose(c_n.data, rc, **tol)
    got = [xl, *params, hl] + ([cl] if lstm else [])
    for t, want, name in zip(got, rgrads, ("x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0")):
        want = want[order] if name == "x" else want
        np.testing.assert_allclose(t.grad, want, err_msg=name, **tol)


# ---------------------------------------------------------------- refused options and bad input

def test_unsupported_options_raise_naming_them():
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(NotImplementedError, match="device"):
        nn.GRU(3, 4, device="cuda")
    with pytest.raises(TypeError, match="proj_size"):
        nn.GRU(3, 4, proj_size=2)  # as torch: only the LSTM has it
    with pytest.raises(ValueError, match="nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\]"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.LSTM(3, 4, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(3, 4, num_layers=2, dropout=0.2)
    assert nn.LSTM(3, 4, device="cpu").weight_ih_l0.shape == (16, 3)
    assert nn.GRU(3, 4, num_layers=2, dropout=np.float32(0.25)).dropout == 0.25
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, num_layers=2, dropout=True)


def test_defaults_and_repr_are_torchs():
    m = nn.RNN(3, 4, 2, "relu", True, False, 0.5, True)
    assert not nn.LSTM(3, 4).batch_first
    assert (m.nonlinearity, m.dropout, m.bidirectional) == ("relu", 0.5, True)
    assert m.weight_ih_l1_reverse.shape == (4, 8) and m.bias_hh_l1_reverse.shape == (4,)
    assert repr(m) == ("RNN(3, 4, num_layers=2, nonlinearity='relu', bias=True, batch_first=False, dropout=0.5, "
                       "bidirectional=True)")


def test_state_shapes_are_checked():
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"h_0 has shape \(2, 2, 4\), expected \(4, 2, 4\)"):
        m(x, np.zeros((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"h_0 has shape \(4, 1, 4\), expected \(4, 4\).*unbatched"):
        m(x[:, 0], np.zeros((4, 1, 4), np.float32))
    with pytest.raises(ValueError, match=r"3-D input .* or a 2-D unbatched input"):
        m(np.zeros(3, np.float32))
    y, h = m(x, np.zeros((4, 2, 4), np.float32))
    assert y.shape == (5, 2, 8) and h.shape == (4, 2, 4)
    with pytest.raises(ValueError, match="unknown mode 7"):
        F.rnn_layer(7, x, m.weight_ih_l0, m.weight_hh_l0)
