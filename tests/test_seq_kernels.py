"""The sequence kernels (fused recurrent cells, embedding, attention)
against float64 NumPy references, on every ISA the CPU has, in float32 and
float64, and bit-identical at 1 and 2 threads."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import _C, ops
from nn_helpers import DTYPES, ISAS, assert_bit_identical, at_threads, examples, isa, using  # noqa: F401
import seq_reference as ref

COVERED = {
    "rnn_tanh_cell_fwd": "test_rnn_tanh_cell", "rnn_tanh_cell_bwd": "test_rnn_tanh_cell",
    # through the layer driver, in both directions
    "rnn_relu_cell_fwd": "test_parity_recurrent.py::test_layer_kernel_matches_numpy_reference",
    "rnn_relu_cell_bwd": "test_parity_recurrent.py::test_layer_kernel_matches_numpy_reference",
    "lstm_cell_fwd": "test_lstm_cell", "lstm_cell_bwd": "test_lstm_cell",
    "gru_cell_fwd": "test_gru_cell", "gru_cell_bwd": "test_gru_cell",
    "embedding_bwd_row": "test_embedding",
    "attn_fwd_block": "test_attention", "attn_bwd_head": "test_attention", "attn_transpose": "test_attention",
}
AREAS = ("_cell_", "embedding_", "attn_")


def test_every_sequence_kernel_is_tested():
    names = {k.split("__")[0][len("fnn_f32_"):] for k in fastnn.config()["kernels"]}
    ours = {n for n in names if any(a in n for a in AREAS)}
    assert ours == set(COVERED), f"kernels without a test here: {ours - set(COVERED)}"
    for isa_name in ISAS:
        with using(isa=isa_name):
            ks = fastnn.config()["kernels"]
            for n in COVERED:
                assert f"fnn_f32_{n}__{isa_name}" in ks and f"fnn_f64_{n}__{isa_name}" in ks


def _tol(dtype):
    return dict(rtol=3e-5, atol=3e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


ROWS_HID = [(1, 1), (3, 7), (4, 16), (5, 33), (64, 200)]


# ---------------------------------------------------------------- cells

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,hid", ROWS_HID)
def test_rnn_tanh_cell(isa, dtype, rows, hid):
    rng = np.random.default_rng(0)
    pre = (rng.standard_normal((rows, hid)) * 2).astype(dtype)
    gh = rng.standard_normal((rows, hid)).astype(dtype)
    h = ops.rnn_tanh_cell(pre)
    np.testing.assert_allclose(h, np.tanh(pre.astype(np.float64)), **_tol(dtype))
    d = ops.rnn_tanh_cell_backward(gh, h)
    np.testing.assert_allclose(d, gh * (1 - h.astype(np.float64) ** 2), **_tol(dtype))
    assert_bit_identical(at_threads(lambda: (ops.rnn_tanh_cell(pre), ops.rnn_tanh_cell_backward(gh, h))))


def _lstm_ref(g, cp):
    hid = g.shape[1] // 4
    i, f = ref.sigmoid(g[:, :hid]), ref.sigmoid(g[:, hid:2 * hid])
    gg, o = np.tanh(g[:, 2 * hid:3 * hid]), ref.sigmoid(g[:, 3 * hid:])
    c = f * cp + i * gg
    return o * np.tanh(c), c, np.concatenate([i, f, gg, o], 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,hid", ROWS_HID)
@pytest.mark.parametrize("with_state", [True, False])
def test_lstm_cell(isa, dtype, rows, hid, with_state):
    rng = np.random.default_rng(1)
    g = (rng.standard_normal((rows, 4 * hid)) * 2).astype(dtype)
    cp = rng.standard_normal((rows, hid)).astype(dtype) if with_state else None
    dh, dc = (rng.standard_normal((rows, hid)).astype(dtype) for _ in range(2))
    h, c, act = ops.lstm_cell(g, cp)
    cp64 = cp.astype(np.float64) if with_state else np.zeros((rows, hid))
    rh, rc, ract = _lstm_ref(g.astype(np.float64), cp64)
    for a, b in ((h, rh), (c, rc), (act, ract)):
        np.testing.assert_allclose(a, b, **_tol(dtype))
    dg, dcp = ops.lstm_cell_backward(dh, dc if with_state else None, act, cp, c)
    # reference gradients of sum(h dh + c dc) by the chain rule in float64
    i, f, gg, o = np.split(ract, 4, axis=1)
    tc = np.tanh(rc)
    dct = dh * o * (1 - tc ** 2) + (dc if with_state else 0)
    rdg = np.concatenate([dct * gg * i * (1 - i), dct * cp64 * f * (1 - f), dct * i * (1 - gg ** 2),
                          dh * tc * o * (1 - o)], 1)
    np.testing.assert_allclose(dg, rdg, **_tol(dtype))
    np.testing.assert_allclose(dcp, dct * f, **_tol(dtype))
    assert_bit_identical(at_threads(lambda: ops.lstm_cell(g, cp) + ops.lstm_cell_backward(dh, dc, act, cp, c)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,hid", ROWS_HID)
@pytest.mark.parametrize("with_state", [True, False])
def test_gru_cell(isa, dtype, rows, hid, with_state):
    rng = np.random.default_rng(2)
    gx, gh = ((rng.standard_normal((rows, 3 * hid)) * 2).astype(dtype) for _ in range(2))
    hp = rng.standard_normal((rows, hid)).astype(dtype) if with_state else None
    dh = rng.standard_normal((rows, hid)).astype(dtype)
    h, saved = ops.gru_cell(gx, gh, hp)
    x64, h64 = gx.astype(np.float64), gh.astype(np.float64)
    hp64 = hp.astype(np.float64) if with_state else np.zeros((rows, hid))
    r = ref.sigmoid(x64[:, :hid] + h64[:, :hid])
    z = ref.sigmoid(x64[:, hid:2 * hid] + h64[:, hid:2 * hid])
    n = np.tanh(x64[:, 2 * hid:] + r * h64[:, 2 * hid:])
    np.testing.assert_allclose(h, (1 - z) * n + z * hp64, **_tol(dtype))
    np.testing.assert_allclose(saved, np.concatenate([r, z, n, h64[:, 2 * hid:]], 1), **_tol(dtype))
    dgx, dgh, dhp = ops.gru_cell_backward(dh, saved, hp)
    dnp = dh * (1 - z) * (1 - n ** 2)
    dzp = dh * (hp64 - n) * z * (1 - z)
    drp = dnp * h64[:, 2 * hid:] * r * (1 - r)
    np.testing.assert_allclose(dgx, np.concatenate([drp, dzp, dnp], 1), **_tol(dtype))
    np.testing.assert_allclose(dgh, np.concatenate([drp, dzp, dnp * r], 1), **_tol(dtype))
    np.testing.assert_allclose(dhp, dh * z, **_tol(dtype))
    assert_bit_identical(at_threads(lambda: ops.gru_cell(gx, gh, hp) + ops.gru_cell_backward(dh, saved, hp)))


def test_cells_propagate_nan(isa):
    g = np.zeros((2, 8), np.float32)
    g[0, 0] = np.nan
    h, c, act = ops.lstm_cell(g)
    assert np.isnan(h[0, 0]) and np.isnan(c[0, 0]) and not np.isnan(h[1]).any()


# ---------------------------------------------------------------- embedding

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num,dim,n", [(1, 1, 1), (7, 3, 20), (50, 33, 1000), (1000, 64, 5000)])
def test_embedding(isa, dtype, num, dim, n):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((num, dim)).astype(dtype)
    idx = rng.integers(0, num, n)
    idx[: n // 2] = idx[0]  # many repeats of one row: the scatter's hard case
    g = rng.standard_normal((n, dim)).astype(dtype)
    np.testing.assert_array_equal(ops.embedding(idx, w), w[idx])
    gw = ops.embedding_backward(g, idx, num)
    want = np.zeros((num, dim))
    np.add.at(want, idx, g.astype(np.float64))
    np.testing.assert_allclose(gw, want, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)
    # padding_idx gets nothing
    gp = ops.embedding_backward(g, idx, num, padding_idx=int(idx[0]))
    assert not gp[idx[0]].any()
    assert_bit_identical(at_threads(lambda: (ops.embedding(idx, w), ops.embedding_backward(g, idx, num))))


def test_embedding_bad_indices():
    w = np.zeros((5, 3), np.float32)
    with pytest.raises(IndexError, match="out of range"):
        ops.embedding(np.array([0, 5]), w)
    with pytest.raises(IndexError, match="out of range"):
        ops.embedding(np.array([-1]), w)
    with pytest.raises(TypeError, match="integers"):
        ops.embedding(np.array([0.0]), w)
    out = np.full((2, 3), 7.0, np.float32)
    with pytest.raises(IndexError):  # the C check: nothing written
        _C.embedding_forward(np.array([1, 9], np.int64), w, out)
    assert (out == 7).all()


# ---------------------------------------------------------------- attention

ATTN_SHAPES = [(1, 1, 1, 1, 1), (2, 3, 70, 130, 24), (1, 2, 64, 64, 64), (1, 1, 200, 150, 33), (2, 1, 129, 65, 16),
               (1, 1, 5, 300, 8)]


def _attn_tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ATTN_SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_attention(isa, dtype, shape, causal):
    b, h, sq, sk, d = shape
    rng = np.random.default_rng(4)
    q = rng.standard_normal((b, h, sq, d)).astype(dtype)
    k, v = (rng.standard_normal((b, h, sk, d)).astype(dtype) for _ in range(2))
    g = rng.standard_normal((b, h, sq, d)).astype(dtype)
    o = ops.scaled_dot_product_attention(q, k, v, causal=causal)
    ro, _ = ref.attention_forward(q, k, v, causal)
    np.testing.assert_allclose(o, ro, **_attn_tol(dtype))
    grads = ops.scaled_dot_product_attention_backward(g, q, k, v, causal=causal)
    for a, r in zip(grads, ref.attention_backward(g, q, k, v, causal)):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, r, **_attn_tol(dtype))
    if q.size * sk > 20000:
        assert_bit_identical(at_threads(lambda: (ops.scaled_dot_product_attention(q, k, v, causal=causal),)
                                        + ops.scaled_dot_product_attention_backward(g, q, k, v, causal=causal)))


def test_attention_scale_and_large_scores(isa):
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((1, 2, 100, 16)) * 10 for _ in range(3))
    o = ops.scaled_dot_product_attention(q, k, v, scale=0.7)
    np.testing.assert_allclose(o, ref.attention_forward(q, k, v, False, 0.7)[0], rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(q.shape)
    for a, r in zip(ops.scaled_dot_product_attention_backward(g, q, k, v, scale=0.7),
                    ref.attention_backward(g, q, k, v, False, 0.7)):
        np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-9)


def test_attention_nan_propagates():
    q = np.zeros((1, 1, 4, 8), np.float32)
    k = np.zeros((1, 1, 4, 8), np.float32)
    v = np.ones((1, 1, 4, 8), np.float32)
    q[0, 0, 2, 0] = np.nan
    o = ops.scaled_dot_product_attention(q, k, v)
    assert np.isnan(o[0, 0, 2]).all() and not np.isnan(o[0, 0, [0, 1, 3]]).any()


def test_attention_bad_input():
    q = np.zeros((1, 2, 4, 8), np.float32)
    with pytest.raises(ValueError, match="4-D"):
        ops.scaled_dot_product_attention(q[0], q[0], q[0])
    with pytest.raises(ValueError, match="head_dim"):
        ops.scaled_dot_product_attention(q, q[..., :4], q[..., :4])
    with pytest.raises(TypeError, match="dtype"):
        ops.scaled_dot_product_attention(q, q.astype(np.float64), q)
    with pytest.raises(TypeError):
        ops.scaled_dot_product_attention(q.astype(np.int32), q, q)
    with pytest.raises(ValueError, match="no keys"):
        ops.scaled_dot_product_attention(q, q[:, :, :0], q[:, :, :0])


@settings(max_examples=examples(40), deadline=None)
@given(b=st.integers(1, 2), h=st.integers(1, 2), sq=st.integers(1, 150), sk=st.integers(1, 150),
       d=st.integers(1, 40), causal=st.booleans(), isa_name=st.sampled_from(ISAS))
def test_attention_random_shapes(b, h, sq, sk, d, causal, isa_name):
    rng = np.random.default_rng(sq * 1000 + sk)
    q = rng.standard_normal((b, h, sq, d)).astype(np.float32)
    k, v = (rng.standard_normal((b, h, sk, d)).astype(np.float32) for _ in range(2))
    g = rng.standard_normal(q.shape).astype(np.float32)
    with using(isa=isa_name):
        o = ops.scaled_dot_product_attention(q, k, v, causal=causal)
        grads = ops.scaled_dot_product_attention_backward(g, q, k, v, causal=causal)
    np.testing.assert_allclose(o, ref.attention_forward(q, k, v, causal)[0], **_attn_tol(np.float32))
    for a, r in zip(grads, ref.attention_backward(g, q, k, v, causal)):
        np.testing.assert_allclose(a, r, **_attn_tol(np.float32))


def _attention_pass(q, k, v, g, causal, mask, key_mask, out=None, grads=None):
    """Forward and backward through _C on (B, H, S, D) arrays of any layout;
    o and the gradients into the given arrays (views), else fresh ones."""
    sc = 1.0 / np.sqrt(q.shape[3])
    o = np.empty_like(q, order="C") if out is None else out
    lse = np.empty(q.shape[:3], q.dtype)
    _C.attention_forward(q, k, v, sc, causal, o, lse, mask, key_mask)
    dq, dk, dv = (np.empty(x.shape, x.dtype) for x in (q, k, v)) if grads is None else grads
    _C.attention_backward(q, k, v, o, g, lse, sc, causal, dq, dk, dv, mask, key_mask)
    return o.copy(), lse, dq.copy(), dk.copy(), dv.copy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("seq_first", [False, True])
# the backward copies groups of heads that fit ATTN_GROUP_BYTES (512 KB): all
# four heads of an element, groups of 4 + 1 (float) or 2 + 2 + 1 (double),
# one head at a time (float) or none, read in place (double), and groups
# small enough to give both threads work
@pytest.mark.parametrize("n,l,h", [(3, 70, 4), (3, 200, 5), (3, 600, 4), (1, 70, 4)])
def test_attention_on_strided_heads_is_the_contiguous_attention(isa, dtype, causal, masked, seq_first, n, l, h):
    """Heads read in place from a packed (N, L, 3 E) projection (or its
    (L, N, 3 E) sequence-first form) and written into (N, L, E) rows give
    the bits of the same attention on contiguous (N, H, L, D) copies, at 1
    and 2 threads."""
    d = 20
    e = h * d
    rng = np.random.default_rng(7)
    shape = (l, n) if seq_first else (n, l)
    qkv = rng.standard_normal(shape + (3 * e,)).astype(dtype)
    go_rows = rng.standard_normal(shape + (e,)).astype(dtype)
    seq = (1, 0, 2) if seq_first else (0, 1, 2)

    def heads(a, parts):  # (N, H, L, D) views of the rows of a
        a = a.transpose(seq)
        return tuple(a.reshape(n, l, parts, h, d).transpose(2, 0, 3, 1, 4))

    q, k, v = heads(qkv, 3)
    (go,) = heads(go_rows, 1)
    assert not q.flags.c_contiguous
    mask = key_mask = None
    if masked:
        mask = np.where(rng.random((l, l)) < 0.2, -np.inf, rng.standard_normal((l, l))).astype(dtype)
        key_mask = np.where(rng.random((n, l)) < 0.1, -np.inf, 0).astype(dtype)
    want = _attention_pass(*(np.ascontiguousarray(x) for x in (q, k, v, go)), causal, mask, key_mask)

    def strided():
        o_rows = np.full(shape + (e,), np.nan, dtype)
        dqkv = np.full(shape + (3 * e,), np.nan, dtype)
        (o,) = heads(o_rows, 1)
        got = _attention_pass(q, k, v, go, causal, mask, key_mask, o, heads(dqkv, 3))
        assert not np.isnan(o_rows).any() and not np.isnan(dqkv).any()
        return got

    results = at_threads(strided)
    assert_bit_identical([want] + results)


@pytest.mark.parametrize("qs,ks", [((0, 2, 5, 4), (0, 2, 5, 4)), ((1, 2, 0, 4), (1, 2, 3, 4)),
                                   ((1, 2, 3, 0), (1, 2, 3, 0))])
def test_attention_empty(qs, ks):
    """No batch, no queries (the key and value gradients are zeros) or a head
    dimension of 0: empty arrays, whatever their strides."""
    rng = np.random.default_rng(8)
    q, k = rng.random(qs).astype(np.float32), rng.random(ks).astype(np.float32)
    o = ops.scaled_dot_product_attention(q, k, k)
    assert o.shape == qs and not o.any()
    dq, dk, dv = ops.scaled_dot_product_attention_backward(np.ones_like(o), q, k, k)
    assert (dq.shape, dk.shape, dv.shape) == (qs, ks, ks)
    assert not dq.any() and not dk.any() and not dv.any()


def test_attention_strided_bad_layouts():
    q = np.zeros((2, 3, 5, 4), np.float32)
    o, lse = np.empty_like(q), np.empty((2, 3, 5), np.float32)
    with pytest.raises(ValueError, match="unit stride"):
        _C.attention_forward(q[..., ::2], q[..., ::2], q[..., ::2], 1.0, False, o[..., :2], lse)
    with pytest.raises(ValueError, match="non-negative"):
        _C.attention_forward(q[:, :, ::-1], q, q, 1.0, False, o, lse)
    with pytest.raises(ValueError, match="overlaps"):
        _C.attention_forward(q, q, q, 1.0, False, q, lse)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("steps,batch,n_in,hid", [(3, 1, 2, 1), (4, 7, 5, 33), (3, 32, 8, 130), (2, 15, 3, 300)])
def test_step_product_through_the_recurrent_layers(isa, dtype, steps, batch, n_in, hid):
    """The recurrent layers' per-step product (m = batch rows of the state,
    B = W_hh packed once into GEMM panels, n = a chunk of <= 64 hidden
    units): a tanh RNN whose steps are checked against the float64 reference
    exercises every row and column tail of it and, at hid 300, two k blocks,
    forward (B = W_hh^T) and backward (B = W_hh)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((steps, batch, n_in)).astype(dtype)
    w_ih = (rng.standard_normal((hid, n_in)) * 0.5).astype(dtype)
    w_hh = (rng.standard_normal((hid, hid)) / np.sqrt(hid)).astype(dtype)
    h0 = rng.standard_normal((batch, hid)).astype(dtype)
    gy = rng.standard_normal((steps, batch, hid)).astype(dtype)
    y = np.empty((steps, batch, hid), dtype)
    _C.rnn_layer_forward(0, x, w_ih, w_hh, None, None, h0, None, y, None, None)
    zeros = np.zeros(hid)
    ry, _, _, cache = ref.rnn_forward("RNN", x, w_ih.astype(np.float64), w_hh.astype(np.float64), zeros, zeros, h0)
    np.testing.assert_allclose(y, ry, **_tol(dtype))
    gx = np.empty_like(x)
    gwi, gwh, gh0 = np.zeros_like(w_ih), np.zeros_like(w_hh), np.empty_like(h0)
    _C.rnn_layer_backward(0, x, w_ih, w_hh, h0, None, y, None, None, gy, None, None, gx, gwi, gwh, None, None, gh0,
                          None)
    rg = ref.rnn_backward(gy.astype(np.float64), cache)
    for got, want in zip((gx, gwi, gwh, gh0), (rg[0], rg[1], rg[2], rg[5])):
        np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-11,
                                   atol=1e-4 if dtype == np.float32 else 1e-11)
    # an input that needs no gradient: grad_x None skips its product, the rest is unchanged
    gwi2, gwh2, gh02 = np.zeros_like(w_ih), np.zeros_like(w_hh), np.empty_like(h0)
    _C.rnn_layer_backward(0, x, w_ih, w_hh, h0, None, y, None, None, gy, None, None, None, gwi2, gwh2, None, None,
                          gh02, None)
    for got, want in zip((gwi2, gwh2, gh02), (gwi, gwh, gh0)):
        np.testing.assert_array_equal(got, want)
