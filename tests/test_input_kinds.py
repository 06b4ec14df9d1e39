"""Every fastnn.ops entry point and fastnn.save/load on arrays C cannot use
in place as they are (non-native byte order, unaligned, memory owned by
bytes or a memoryview): inputs give exactly the answer of their native
copies; an `out=` that C cannot write gives a clear TypeError (ValueError
when read-only, as NumPy); the Cython bindings refuse such arrays rather
than hand them to C."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, ops

from input_kinds import INPUT_KINDS, as_kind, assert_same_result, bytes_base, memoryview_base, swapped, unaligned

rng = np.random.default_rng(0)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _cases():
    """name -> (function, native arguments); the kinds are applied to every
    array argument at once."""
    x, g = f32(5, 7), f32(5, 7)
    y_sig, y_tanh = ops.sigmoid(x), ops.tanh(x)
    y_sm, y_lsm = ops.softmax(x), ops.log_softmax(x)
    a, b = f32(9, 6), f32(6, 4)
    a3, b3 = f32(3, 4, 5), f32(3, 5, 2)
    w, bias = f32(4, 6), f32(4)
    ln_w, ln_b = f32(7), f32(7)
    _, mean, rstd = ops.layer_norm(x, ln_w, ln_b)
    xb = f32(4, 3, 5, 5)
    bn_w, bn_b = f32(3), f32(3)
    _, sm, sr = ops.batch_norm(xb, None, None, bn_w, bn_b, training=True)
    cw, cb = f32(2, 3, 3, 3), f32(2)
    cg = f32(4, 2, 5, 5)
    pool_y, argmax = ops.max_pool2d(xb, 2)
    pool_g = f32(*pool_y.shape)
    avg_g = f32(*ops.avg_pool2d(xb, 2).shape)
    q, k, v, go = f32(2, 2, 6, 4), f32(2, 2, 5, 4), f32(2, 2, 5, 4), f32(2, 2, 6, 4)
    o, lse = ops.attention_forward_lse(q, k, v, causal=True)
    gates, cp = f32(3, 8), f32(3, 2)
    h, c, act = ops.lstm_cell(gates, cp)
    gx, gh, hp = f32(3, 6), f32(3, 6), f32(3, 2)
    hg, saved = ops.gru_cell(gx, gh, hp)
    idx = np.array([[0, 3, 1], [2, 2, 4]], np.int64)
    emb = f32(5, 3)
    target = np.array([0, 6, 2, 3, 1], np.int64)
    prob = ops.softmax(f32(5, 7))
    return {
        "relu": (ops.relu, (x,)),
        "relu_backward": (ops.relu_backward, (g, x)),
        "leaky_relu": (lambda t: ops.leaky_relu(t, 0.1), (x,)),
        "leaky_relu_backward": (lambda gg, t: ops.leaky_relu_backward(gg, t, 0.1), (g, x)),
        "sigmoid": (ops.sigmoid, (x,)),
        "sigmoid_backward": (ops.sigmoid_backward, (g, y_sig)),
        "tanh": (ops.tanh, (x,)),
        "tanh_backward": (ops.tanh_backward, (g, y_tanh)),
        "gelu": (ops.gelu, (x,)),
        "gelu_tanh": (lambda t: ops.gelu(t, "tanh"), (x,)),
        "gelu_backward": (ops.gelu_backward, (g, x)),
        "softmax": (ops.softmax, (x,)),
        "softmax_axis0": (lambda t: ops.softmax(t, axis=0), (x,)),
        "softmax_backward": (ops.softmax_backward, (g, y_sm)),
        "log_softmax": (ops.log_softmax, (x,)),
        "log_softmax_backward": (ops.log_softmax_backward, (g, y_lsm)),
        "cross_entropy_index": (ops.cross_entropy, (x, target)),
        "cross_entropy_prob": (ops.cross_entropy, (x, prob)),
        "cross_entropy_none": (lambda t, tt: ops.cross_entropy(t, tt, reduction="none"), (x, target)),
        "layer_norm": (ops.layer_norm, (x, ln_w, ln_b)),
        "layer_norm_backward": (ops.layer_norm_backward, (g, x, ln_w, mean, rstd)),
        "batch_norm_train": (lambda t, ww, bb: ops.batch_norm(t, None, None, ww, bb, training=True), (xb, bn_w, bn_b)),
        "batch_norm_backward": (lambda gg, t, ww, m, r: ops.batch_norm_backward(gg, t, ww, m, r, training=True),
                                (f32(4, 3, 5, 5), xb, bn_w, sm, sr)),
        "matmul": (ops.matmul, (a, b)),
        "matmul_trans": (lambda p, r: ops.matmul(p, r, trans_a=True, trans_b=True), (a.T.copy(), b.T.copy())),
        "matmul_batched": (ops.matmul, (a3, b3)),
        "linear": (lambda t, ww, bb: ops.linear(t, ww, bb, activation="relu"), (a, w, bias)),
        "conv2d": (lambda t, ww, bb: ops.conv2d(t, ww, bb, padding=1), (xb, cw, cb)),
        "conv2d_backward": (lambda gg, t, ww: ops.conv2d_backward(gg, t, ww, padding=1), (cg, xb, cw)),
        "max_pool2d": (lambda t: ops.max_pool2d(t, 2), (xb,)),
        "max_pool2d_backward": (lambda gg, am: ops.max_pool2d_backward(gg, am, xb.shape), (pool_g, argmax)),
        "avg_pool2d": (lambda t: ops.avg_pool2d(t, 2), (xb,)),
        "avg_pool2d_backward": (lambda gg: ops.avg_pool2d_backward(gg, xb.shape, 2), (avg_g,)),
        "scaled_dot_product_attention": (lambda *t: ops.scaled_dot_product_attention(*t, causal=True), (q, k, v)),
        "scaled_dot_product_attention_backward": (lambda *t: ops.scaled_dot_product_attention_backward(*t, causal=True), (go, q, k, v)),
        "attention_forward_lse": (ops.attention_forward_lse, (q, k, v)),
        "attention_backward_lse": (lambda *t: ops.attention_backward_lse(*t, causal=True), (go, q, k, v, o, lse)),
        "rnn_tanh_cell": (ops.rnn_tanh_cell, (gx,)),
        "rnn_tanh_cell_backward": (ops.rnn_tanh_cell_backward, (gh, ops.rnn_tanh_cell(gx))),
        "lstm_cell": (ops.lstm_cell, (gates, cp)),
        "lstm_cell_backward": (ops.lstm_cell_backward, (f32(3, 2), f32(3, 2), act, cp, c)),
        "gru_cell": (ops.gru_cell, (gx, gh, hp)),
        "gru_cell_backward": (ops.gru_cell_backward, (f32(3, 2), saved, hp)),
        "embedding": (ops.embedding, (idx, emb)),
        "embedding_backward": (lambda gg, ii: ops.embedding_backward(gg, ii, 5), (f32(2, 3, 3), idx)),
    }


CASES = _cases()


def test_every_public_op_is_covered():
    missing = [n for n in ops.__all__ if not any(k == n or k.startswith(n + "_") for k in CASES)]
    assert not missing, missing


@pytest.mark.parametrize("kind", sorted(INPUT_KINDS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_inputs_of_every_kind_give_the_native_answer(name, kind):
    fn, args = CASES[name]
    want = fn(*args)
    got = fn(*(as_kind(kind, a) for a in args))
    assert_same_result(got, want)


@pytest.mark.parametrize("kind", ["swapped", "unaligned", "swapped_strided"])
def test_float64_inputs(kind):
    a, b = rng.standard_normal((7, 5)), rng.standard_normal((5, 3))
    assert_same_result(ops.matmul(as_kind(kind, a), as_kind(kind, b)), ops.matmul(a, b))
    assert_same_result(ops.gelu(as_kind(kind, a)), ops.gelu(a))
    assert_same_result(ops.softmax(as_kind(kind, a)), ops.softmax(a))


def test_byte_swapped_matmul_is_right():
    a = np.arange(12, dtype=">f4").reshape(3, 4)
    b = np.ones((4, 2), ">f4")
    np.testing.assert_array_equal(ops.matmul(a, b), np.asarray(a, np.float32) @ np.ones((4, 2), np.float32))
    assert ops.matmul(a, b).dtype == np.dtype("=f4")


# ---------------------------------------------------------------- out=

OUT_OPS = {
    "relu": (lambda x, out: ops.relu(x, out=out), lambda: (f32(4, 5),), (4, 5)),
    "gelu_backward": (lambda g, x, out: ops.gelu_backward(g, x, out=out), lambda: (f32(4, 5), f32(4, 5)), (4, 5)),
    "matmul": (lambda a, b, out: ops.matmul(a, b, out=out), lambda: (f32(4, 3), f32(3, 5)), (4, 5)),
    "matmul_beta": (lambda a, b, out: ops.matmul(a, b, out=out, beta=1.0), lambda: (f32(4, 3), f32(3, 5)), (4, 5)),
    "linear": (lambda x, w, out: ops.linear(x, w, out=out), lambda: (f32(4, 3), f32(5, 3)), (4, 5)),
}


@pytest.mark.parametrize("name", sorted(OUT_OPS))
def test_out_of_a_kind_c_cannot_write(name):
    fn, make, shape = OUT_OPS[name]
    args = make()
    start = f32(*shape)
    with pytest.raises(TypeError, match=r"out .*byte order"):
        fn(*args, swapped(start))
    with pytest.raises(TypeError, match=r"out .*aligned"):
        fn(*args, unaligned(start))
    with pytest.raises(ValueError, match="read-only"):
        fn(*args, bytes_base(start))
    ro = start.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fn(*args, ro)


@pytest.mark.parametrize("name", sorted(OUT_OPS))
def test_out_backed_by_a_memoryview_is_written(name):
    fn, make, shape = OUT_OPS[name]
    args = make()
    start = f32(*shape)
    want = start.copy()
    fn(*args, want)
    out = memoryview_base(start)
    assert fn(*args, out) is out
    assert_same_result(out, want)


def test_batch_norm_running_statistics_must_be_writable_in_place():
    x = f32(4, 3, 2, 2)
    for bad, exc, msg in ((swapped(np.zeros(3, np.float32)), TypeError, "byte order"),
                          (unaligned(np.zeros(3, np.float32)), TypeError, "aligned")):
        with pytest.raises(exc, match=msg):
            ops.batch_norm(x, bad, np.ones(3, np.float32), training=True)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    ops.batch_norm(x, memoryview_base(rm), memoryview_base(rv), training=True)  # writeable: fine


# ---------------------------------------------------------------- the Cython layer refuses, never reads garbage

def test_bindings_refuse_arrays_c_cannot_use():
    x = f32(10)
    y = np.empty_like(x)
    for bad, msg in ((swapped(x), "byte order"), (unaligned(x), "aligned")):
        with pytest.raises(TypeError, match=msg):
            _C.act_forward(0, bad, y, 0.0)
        with pytest.raises(TypeError, match=msg):
            _C.act_forward(0, x, bad, 0.0)
        with pytest.raises(TypeError, match=msg):
            _C.sgd_step(bad, x, None, 0.1, 0.0, 0.0, 0.0, False, True)
        with pytest.raises(TypeError, match=msg):
            _C.sgd_step(x.copy(), bad, None, 0.1, 0.0, 0.0, 0.0, False, True)
        with pytest.raises(TypeError, match=msg):
            _C.conv2d_forward(bad.reshape(1, 1, 2, 5), f32(1, 1, 1, 1), None, np.empty((1, 1, 2, 5), np.float32),
                              (1, 1), (0, 0), (1, 1), 1)
        with pytest.raises(TypeError, match=msg):
            _C.linear(bad.reshape(2, 5), f32(3, 5), None, np.empty((2, 3), np.float32), -1, 0.0)
    with pytest.raises(TypeError, match="byte order"):
        ops.matmul(f32(2, 3), f32(3, 2), out=np.empty((2, 2), ">f4"))


# ---------------------------------------------------------------- fastnn.save / fastnn.load

@pytest.mark.parametrize("kind", sorted(INPUT_KINDS))
def test_save_load_round_trips_every_kind(kind, tmp_path):
    state = {"w": f32(3, 4), "b": np.arange(5, dtype=np.int64), "d": rng.standard_normal(3)}
    path = tmp_path / "s.safetensors"
    fastnn.save({k: as_kind(kind, v) for k, v in state.items()}, path)
    back = fastnn.load(path)
    assert back.keys() == state.keys()
    for k, v in state.items():
        assert back[k].dtype == v.dtype and back[k].dtype.isnative
        np.testing.assert_array_equal(back[k], v)
        assert back[k].flags.writeable and back[k].flags.aligned


def test_loaded_arrays_can_be_computed_on_and_written(tmp_path):
    path = tmp_path / "s.safetensors"
    fastnn.save({"x": f32(3, 4)}, path)
    x = fastnn.load(path)["x"]
    ops.relu(x, out=x)
    assert (x >= 0).all()
