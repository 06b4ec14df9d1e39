"""fastnn.nn layers and losses, and fastnn.optim, on ndarrays of the kinds
C cannot use in place (non-native byte order, unaligned, memory owned by
bytes or a memoryview): a layer or loss gives the result of the same call on
a native copy; an optimizer reads gradients of any kind, and a parameter
it must update in place is either updated right or refused with a clear
exception."""
import numpy as np
import pytest

import fastnn
from fastnn import nn, optim

from input_kinds import INPUT_KINDS, as_kind, assert_same_result, flat_results

rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def _layers():
    """name -> (layer factory, native input arrays)."""
    return {
        "Linear": (lambda: nn.Linear(6, 4), (f32(5, 6),)),
        "Linear_3d": (lambda: nn.Linear(6, 4), (f32(2, 5, 6),)),
        "Conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1), (f32(2, 3, 6, 6),)),
        "MaxPool2d": (lambda: nn.MaxPool2d(2), (f32(2, 3, 6, 6),)),
        "AvgPool2d": (lambda: nn.AvgPool2d(2), (f32(2, 3, 6, 6),)),
        "Flatten": (lambda: nn.Flatten(), (f32(2, 3, 4),)),
        "ReLU": (lambda: nn.ReLU(), (f32(4, 5),)),
        "LeakyReLU": (lambda: nn.LeakyReLU(0.2), (f32(4, 5),)),
        "Sigmoid": (lambda: nn.Sigmoid(), (f32(4, 5),)),
        "Tanh": (lambda: nn.Tanh(), (f32(4, 5),)),
        "GELU": (lambda: nn.GELU(), (f32(4, 5),)),
        "Softmax": (lambda: nn.Softmax(dim=-1), (f32(4, 5),)),
        "Dropout_eval": (lambda: nn.Dropout(0.5).eval(), (f32(4, 5),)),
        "BatchNorm1d": (lambda: nn.BatchNorm1d(5), (f32(4, 5),)),
        "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (f32(2, 3, 4, 4),)),
        "LayerNorm": (lambda: nn.LayerNorm(5), (f32(4, 5),)),
        "Embedding": (lambda: nn.Embedding(7, 3), (np.array([[0, 6, 2], [3, 3, 1]], np.int64),)),
        "RNN": (lambda: nn.RNN(4, 3, batch_first=True), (f32(2, 5, 4),)),
        "LSTM": (lambda: nn.LSTM(4, 3, batch_first=True), (f32(2, 5, 4),)),
        "GRU": (lambda: nn.GRU(4, 3, batch_first=True), (f32(2, 5, 4),)),
        "MultiheadAttention": (lambda: nn.MultiheadAttention(8, 2), (f32(2, 5, 8),)),
        "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0),
                                    (f32(2, 5, 8),)),
        "SinusoidalPositionalEncoding": (lambda: nn.SinusoidalPositionalEncoding(8, 16), (f32(2, 5, 8),)),
        "LearnedPositionalEmbedding": (lambda: nn.LearnedPositionalEmbedding(16, 8), (f32(2, 5, 8),)),
        "Sequential": (lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)), (f32(5, 6),)),
    }


LAYERS = _layers()


def _copy(r):
    """The arrays of a result, copied (a layer reuses its output arrays)."""
    return [None if a is None else np.array(a) for a in flat_results(r)]


@pytest.mark.parametrize("kind", sorted(INPUT_KINDS))
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_on_every_kind_gives_the_native_answer(name, kind):
    make, args = LAYERS[name]
    fastnn.manual_seed(0)
    layer = make()
    want = _copy(layer(*args))
    got = layer(*(as_kind(kind, a) for a in args))
    assert_same_result([np.asarray(a) for a in flat_results(got)], want)


LOSSES = {
    "CrossEntropyLoss_index": (nn.CrossEntropyLoss, (f32(5, 7), np.array([0, 6, 2, 3, 1], np.int64))),
    "CrossEntropyLoss_prob": (nn.CrossEntropyLoss, (f32(5, 7), fastnn.ops.softmax(f32(5, 7)))),
    "MSELoss": (nn.MSELoss, (f32(5, 7), f32(5, 7))),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss, (f32(5, 7), (rng.random((5, 7)) > 0.5).astype(np.float32))),
}


@pytest.mark.parametrize("kind", sorted(INPUT_KINDS))
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_on_every_kind_gives_the_native_answer(name, kind):
    make, args = LOSSES[name]
    want = _copy(make()(*args))
    got = make()(*(as_kind(kind, a) for a in args))
    assert_same_result([np.asarray(a) for a in flat_results(got)], want)


OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "Adam": lambda ps: optim.Adam(ps, lr=0.01),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.01),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
}


def _steps(make, data, grads):
    p = nn.Parameter(np.zeros(3, np.float32))
    p.data = data
    opt = make([p])
    for g in grads:
        p.grad = g
        opt.step()
    return np.array(p.data)


@pytest.mark.parametrize("kind", sorted(INPUT_KINDS))
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_reads_gradients_of_every_kind(name, kind):
    w0, grads = f32(4, 3), [f32(4, 3) for _ in range(3)]
    want = _steps(OPTIMIZERS[name], w0.copy(), grads)
    got = _steps(OPTIMIZERS[name], w0.copy(), [as_kind(kind, g) for g in grads])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", sorted(INPUT_KINDS))
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_updates_a_parameter_of_every_kind_or_refuses(name, kind):
    w0, grads = f32(4, 3), [f32(4, 3) for _ in range(2)]
    want = _steps(OPTIMIZERS[name], w0.copy(), grads)
    data = as_kind(kind, w0.copy())
    try:
        got = _steps(OPTIMIZERS[name], data, [np.asarray(g, data.dtype) for g in grads])
    except TypeError as e:  # a parameter C cannot update in place
        assert kind in ("swapped", "swapped_strided", "unaligned"), e
        assert "byte order" in str(e) or "aligned" in str(e) or "contiguous" in str(e), e
        return
    except ValueError as e:
        assert kind == "bytes_base" and "read-only" in str(e), e
        return
    np.testing.assert_array_equal(got, want)
