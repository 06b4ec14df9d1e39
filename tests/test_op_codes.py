"""The op codes Python hands to the kernels come from C (fastnn.h's enums,
exported by _C), and what C rejects on its own is C's error, raised by the
binding."""
import pathlib
import re

import numpy as np
import pytest

import fastnn
from fastnn import _C, nn
from fastnn.nn import functional as F

SRC = pathlib.Path(fastnn.__file__).parent


def test_codes_are_distinct_and_in_range():
    acts = [_C.ACT_RELU, _C.ACT_LEAKY_RELU, _C.ACT_SIGMOID, _C.ACT_TANH, _C.ACT_GELU, _C.ACT_GELU_TANH,
            _C.ACT_SILU, _C.ACT_ELU]
    assert sorted(acts) == list(range(_C.ACT_COUNT))
    assert _C.ACT_NONE not in acts
    assert {_C.ROW_SOFTMAX, _C.ROW_LOG_SOFTMAX} == {0, 1}
    assert len({_C.REDUCTION_NONE, _C.REDUCTION_MEAN, _C.REDUCTION_SUM}) == 3
    modes = {_C.RNN_MODE_TANH, _C.RNN_MODE_LSTM, _C.RNN_MODE_GRU, _C.RNN_MODE_RELU}
    assert set(_C.RNN_MODES.values()) == modes and len(modes) == 4
    assert all(m & _C.RNN_REVERSE == 0 for m in modes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_code_names_its_op(dtype):
    x = np.linspace(-3, 3, 37).astype(dtype)
    want = {_C.ACT_RELU: np.maximum(x, 0), _C.ACT_SIGMOID: 1 / (1 + np.exp(-x)), _C.ACT_TANH: np.tanh(x),
            _C.ACT_SILU: x / (1 + np.exp(-x)), _C.ACT_LEAKY_RELU: np.where(x >= 0, x, 0.5 * x),
            _C.ACT_ELU: np.where(x > 0, x, 0.5 * np.expm1(x))}
    for op, ref in want.items():
        np.testing.assert_allclose(_C.act_forward(op, x, None, 0.5), ref, rtol=1e-5, atol=1e-6)
    r = x.reshape(1, -1)
    y = np.empty_like(r)
    _C.row_forward(_C.ROW_LOG_SOFTMAX, r, y, r.shape[1])
    np.testing.assert_allclose(y, r - np.log(np.exp(r).sum()), rtol=1e-5, atol=1e-5)
    _C.row_forward(_C.ROW_SOFTMAX, r, y, r.shape[1])
    np.testing.assert_allclose(y, np.exp(r) / np.exp(r).sum(), rtol=1e-5, atol=1e-6)


def test_graph_nodes_are_named_by_code():
    x = fastnn.Tensor(np.ones(3, np.float32), requires_grad=True)
    assert F.sigmoid(x).grad_fn.name == "SigmoidBackward"
    assert F.gelu(x, approximate="tanh").grad_fn.name == "GeluBackward"
    assert F.silu(x).grad_fn.name == "SiluBackward"
    assert nn.LSTM(2, 3)._mode == _C.RNN_MODE_LSTM and nn.GRU(2, 3)._mode == _C.RNN_MODE_GRU


def test_c_rejects_unknown_codes_writing_nothing():
    x = np.ones(5, np.float32)
    y = np.full(5, 7.0, np.float32)
    with pytest.raises(ValueError, match=f"act_forward: unknown op {_C.ACT_COUNT}"):
        _C.act_forward(_C.ACT_COUNT, x, y, 0.0)
    with pytest.raises(ValueError, match="act_backward: unknown op -1"):
        _C.act_backward(-1, x, x, y, 0.0)
    with pytest.raises(ValueError, match="row_forward: invalid arguments"):
        _C.row_forward(_C.ROW_LOG_SOFTMAX + 1, x, y, 5)
    assert (y == 7).all()
    logits, grad, rows = np.zeros((2, 3), np.float32), np.full((2, 3), 7.0, np.float32), np.full(2, 7.0)
    with pytest.raises(ValueError, match="cross_entropy: invalid arguments"):  # an unknown reduction
        _C.cross_entropy_index(logits, np.zeros(2, np.int64), grad, "avg", rows)
    assert (grad == 7).all() and (rows == 7).all()
    out = np.full((2, 3), 7.0)
    with pytest.raises(ValueError, match="linear: invalid arguments"):
        _C.linear(np.ones((2, 4)), np.ones((3, 4)), None, out, _C.ACT_COUNT, 0.0)
    assert (out == 7).all()


def test_python_writes_no_op_code_as_a_number():
    """A call into an op-coded kernel names its code (_C.ACT_*, _C.ROW_*,
    _C.RNN_MODE_*), so a renumbering in C cannot change what Python asks for."""
    call = re.compile(r"_C\.(act_forward|act_backward|row_forward|row_backward|rnn_layer_forward|"
                      r"rnn_layer_backward)\(\s*-?\d")
    table = re.compile(r"=\s*range\(\d+\)|_mode\s*=\s*\d|mode\s*(==|!=)\s*\d|\{None:\s*-1|"
                       r"^\s*_[A-Z_]+(\s*,\s*_[A-Z_]+)+\s*=\s*\d+(\s*,\s*\d+)+\s*(#.*)?$")
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if call.search(line) or table.search(line):
                bad.append(f"{path.relative_to(SRC)}:{no}: {line.strip()}")
    assert not bad, "\n".join(bad)
