"""Embedding, RNN (tanh), LSTM and GRU on fastnn's C kernels.

The recurrent layers run each layer's whole sequence in C
(fnn_rnn_layer_forward/backward), one graph node per layer: one GEMM for the input projection of all
time steps, then per step one GEMM for the recurrent projection and one fused
cell kernel; the backward runs through time the same way.  Parameter names,
gate order (LSTM i, f, g, o; GRU r, z, n) and initialisation
(U(-1/sqrt(hidden), 1/sqrt(hidden))) are PyTorch's.
"""
import math

import numpy as np

from .._random import generator
from .._tensor_ops import stack
from ..autograd import Tensor
from . import functional as F
from .module import Module, Parameter


class Embedding(Module):
    """A lookup table: forward(indices) -> weight[indices] (indices any
    integer array; output indices.shape + (embedding_dim,)).  The backward
    adds grad rows into weight.grad by index, threaded by weight rows (no
    races, the same sums at any thread count); padding_idx's row gets no
    gradient and is initialised to zeros, as PyTorch's."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if self.num_embeddings <= 0 or self.embedding_dim <= 0:
            raise ValueError(f"Embedding: sizes must be positive, got ({num_embeddings}, {embedding_dim})")
        if padding_idx is not None:
            padding_idx = int(padding_idx)
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} rows")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        w = generator().standard_normal((self.num_embeddings, self.embedding_dim)).astype(dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")

    def forward(self, indices):
        raw = indices.data if isinstance(indices, Tensor) else indices
        if not isinstance(raw, np.ndarray):
            raise self._error(f"indices must be a numpy.ndarray of integers, got {type(indices).__name__}", TypeError)
        return F.embedding(raw, self.weight, self.padding_idx)


class _RNNBase(Module):
    _mode = None
    _gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True, dropout=0.0,
                 bidirectional=False, dtype=np.float32):
        super().__init__()
        cls = type(self).__name__
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        if self.input_size <= 0 or self.hidden_size <= 0 or self.num_layers <= 0:
            raise ValueError(f"{cls}: input_size, hidden_size and num_layers must be positive, got "
                             f"({input_size}, {hidden_size}, {num_layers})")
        if bidirectional:
            raise NotImplementedError(f"{cls}: bidirectional layers are not supported")
        if dropout:
            raise NotImplementedError(f"{cls}: dropout between layers is not supported (use nn.Dropout)")
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        k = 1.0 / math.sqrt(self.hidden_size)
        g = self._gates * self.hidden_size
        rng = generator()
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else self.hidden_size
            setattr(self, f"weight_ih_l{layer}", Parameter(rng.uniform(-k, k, (g, n_in)).astype(dtype)))
            setattr(self, f"weight_hh_l{layer}", Parameter(rng.uniform(-k, k, (g, self.hidden_size)).astype(dtype)))
            if self.bias:
                setattr(self, f"bias_ih_l{layer}", Parameter(rng.uniform(-k, k, g).astype(dtype)))
                setattr(self, f"bias_hh_l{layer}", Parameter(rng.uniform(-k, k, g).astype(dtype)))

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
                f"batch_first={self.batch_first}")

    def _p(self, name, layer):
        p = getattr(self, f"{name}_l{layer}", None)
        return p

    def _check_state(self, s, what, n, dtype):
        want = (self.num_layers, n, self.hidden_size)
        a = s.data if isinstance(s, Tensor) else s
        if not isinstance(a, np.ndarray):
            raise self._error(f"{what} must be a fastnn.Tensor or numpy.ndarray, got {type(s).__name__}", TypeError)
        if a.shape != want:
            raise self._error(f"{what} has shape {a.shape}, expected {want} (num_layers, batch, hidden_size)")
        if a.dtype != dtype:
            raise self._error(f"{what} has dtype {a.dtype} but the layer's parameters are {dtype}", TypeError)
        return s if isinstance(s, Tensor) else Tensor(a)

    def _split_state(self, state, n, dtype):
        if state is None:
            return None, None
        if self._mode == 1:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise self._error("state must be a tuple (h_0, c_0)", TypeError)
            return (self._check_state(state[0], "h_0", n, dtype), self._check_state(state[1], "c_0", n, dtype))
        return self._check_state(state, "h_0", n, dtype), None

    def forward(self, x, state=None):
        """x (batch, seq, input_size) with batch_first, else (seq, batch,
        input_size); state h_0 (or (h_0, c_0) for LSTM), each (num_layers,
        batch, hidden_size), None for zeros.  Returns (output, h_n) (LSTM:
        (output, (h_n, c_n)))."""
        dtype = self.weight_ih_l0.data.dtype
        self._check_input(x, dtype=dtype)
        if x.ndim != 3:
            layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
            raise self._error(f"expected a 3-D input {layout}, got shape {x.shape}")
        if x.shape[2] != self.input_size:
            raise self._error(f"input has {x.shape[2]} features (shape {x.shape}), expected input_size "
                              f"{self.input_size}")
        xt = x if isinstance(x, Tensor) else Tensor(x)
        if self.batch_first:
            xt = xt.transpose(1, 0)
        n = xt.shape[1]
        h0, c0 = self._split_state(state, n, dtype)
        inp = xt
        hs, cs = [], []
        for layer in range(self.num_layers):
            y, h_n, c_n = F.rnn_layer(self._mode, inp, self._p("weight_ih", layer), self._p("weight_hh", layer),
                                      self._p("bias_ih", layer), self._p("bias_hh", layer),
                                      None if h0 is None else h0[layer], None if c0 is None else c0[layer])
            hs.append(h_n)
            cs.append(c_n)
            inp = y
        h_n = stack(hs)
        out = inp.transpose(1, 0) if self.batch_first else inp
        if self._mode == 1:
            return out, (h_n, stack(cs))
        return out, h_n


class RNN(_RNNBase):
    """Elman RNN with tanh: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)."""
    _mode = 0
    _gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=True,
                 dropout=0.0, bidirectional=False, dtype=np.float32):
        if nonlinearity != "tanh":
            raise NotImplementedError(f"RNN: only nonlinearity='tanh' is supported, got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)


class LSTM(_RNNBase):
    """LSTM with PyTorch's gates i, f, g, o: forward(x, (h_0, c_0)=None) ->
    (output, (h_n, c_n))."""
    _mode = 1
    _gates = 4


class GRU(_RNNBase):
    """GRU with PyTorch's gates r, z, n (n = tanh(W_in x + b_in + r (W_hn h + b_hn)))."""
    _mode = 2
    _gates = 3
