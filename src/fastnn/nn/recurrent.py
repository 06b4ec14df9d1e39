"""Embedding, RNN (tanh), LSTM and GRU on fastnn's C kernels.

The recurrent layers run each layer's whole sequence in C
(fnn_rnn_layer_forward/backward): one GEMM for the input projection of all
time steps, then per step one GEMM for the recurrent projection and one fused
cell kernel; the backward runs through time the same way.  Parameter names,
gate order (LSTM i, f, g, o; GRU r, z, n) and initialisation
(U(-1/sqrt(hidden), 1/sqrt(hidden))) are PyTorch's.
"""
import math

import numpy as np

from .. import _C
from .._random import generator
from ..ops import embedding_indices
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
        self._idx = None

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")

    def forward(self, indices):
        if not isinstance(indices, np.ndarray):
            raise self._error(f"indices must be a numpy.ndarray of integers, got {type(indices).__name__}", TypeError)
        idx = embedding_indices(indices, self.num_embeddings, self._name())
        w = self.weight.data
        out = self._buffer("y", idx.shape + (self.embedding_dim,), w.dtype)
        _C.embedding_forward(idx.reshape(-1), w, out.reshape(-1, self.embedding_dim))
        self._idx, self._out = idx, out
        return out

    def backward(self, grad_out):
        g = self._check_grad(grad_out, self._out if self._idx is not None else None)
        _C.embedding_backward(self._idx.reshape(-1), g.reshape(-1, self.embedding_dim),
                              -1 if self.padding_idx is None else self.padding_idx, self.weight.grad)
        return None


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
        self._saved = None
        self.grad_state = None

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
                f"batch_first={self.batch_first}")

    def _p(self, name, layer):
        p = getattr(self, f"{name}_l{layer}", None)
        return p

    def _check_state(self, s, what, n, dtype):
        want = (self.num_layers, n, self.hidden_size)
        if not isinstance(s, np.ndarray):
            raise self._error(f"{what} must be a numpy.ndarray, got {type(s).__name__}", TypeError)
        if s.shape != want:
            raise self._error(f"{what} has shape {s.shape}, expected {want} (num_layers, batch, hidden_size)")
        if s.dtype != dtype:
            raise self._error(f"{what} has dtype {s.dtype} but the layer's parameters are {dtype}", TypeError)
        return np.ascontiguousarray(s)

    def _split_state(self, state, n, dtype):
        if state is None:
            return None, None
        if self._mode == 1:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise self._error("state must be a tuple (h_0, c_0)", TypeError)
            return (self._check_state(state[0], "h_0", n, dtype), self._check_state(state[1], "c_0", n, dtype))
        return self._check_state(state, "h_0", n, dtype), None

    def forward(self, x, state=None):
        dtype = self.weight_ih_l0.data.dtype
        x = self._check_input(x, dtype=dtype)
        if x.ndim != 3:
            layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
            raise self._error(f"expected a 3-D input {layout}, got shape {x.shape}")
        if x.shape[2] != self.input_size:
            raise self._error(f"input has {x.shape[2]} features (shape {x.shape}), expected input_size "
                              f"{self.input_size}")
        xt = np.ascontiguousarray(x.transpose(1, 0, 2)) if self.batch_first else x
        steps, n = xt.shape[0], xt.shape[1]
        h0, c0 = self._split_state(state, n, dtype)
        hid = self.hidden_size
        saved = []
        inp = xt
        for layer in range(self.num_layers):
            y = self._buffer(f"y{layer}", (steps, n, hid), dtype)
            cells = self._buffer(f"c{layer}", (steps, n, hid), dtype) if self._mode == 1 else None
            gates = self._buffer(f"g{layer}", (steps, n, 4 * hid), dtype) if self._mode != 0 else None
            lh0 = h0[layer] if h0 is not None else None
            lc0 = c0[layer] if c0 is not None else None
            b_ih, b_hh = self._p("bias_ih", layer), self._p("bias_hh", layer)
            _C.rnn_layer_forward(self._mode, inp, self._p("weight_ih", layer).data, self._p("weight_hh", layer).data,
                                 b_ih.data if b_ih is not None else None, b_hh.data if b_hh is not None else None,
                                 lh0, lc0, y, cells, gates)
            saved.append((inp, lh0, lc0, y, cells, gates))
            inp = y
        self._saved = saved
        self._shape = (steps, n)
        if steps:
            h_n = np.stack([s[3][-1] for s in saved])
            c_n = np.stack([s[4][-1] for s in saved]) if self._mode == 1 else None
        else:
            h_n = h0.copy() if h0 is not None else np.zeros((self.num_layers, n, hid), dtype)
            c_n = (c0.copy() if c0 is not None else np.zeros((self.num_layers, n, hid), dtype)) \
                if self._mode == 1 else None
        out = inp
        if self.batch_first:
            out = self._buffer("out", (n, steps, hid), dtype)
            np.copyto(out, inp.transpose(1, 0, 2))
        self._out = out
        return (out, (h_n, c_n)) if self._mode == 1 else (out, h_n)

    def backward(self, grad_output, grad_state=None):
        """grad_output like the output; grad_state the gradient of h_n (or
        (h_n, c_n) for LSTM; None or None parts: zeros).  Returns the input's
        gradient; the initial state's is left in .grad_state."""
        g = self._check_grad(grad_output, self._out if self._saved is not None else None)
        steps, n = self._shape
        dtype = g.dtype
        hid = self.hidden_size
        gy = np.ascontiguousarray(g.transpose(1, 0, 2)) if self.batch_first else g
        ghn, gcn = None, None
        if grad_state is not None:
            if self._mode == 1:
                if not isinstance(grad_state, (tuple, list)) or len(grad_state) != 2:
                    raise self._error("grad_state must be a tuple (grad_h_n, grad_c_n)", TypeError)
                ghn, gcn = grad_state
                ghn = None if ghn is None else self._check_state(ghn, "grad_h_n", n, dtype)
                gcn = None if gcn is None else self._check_state(gcn, "grad_c_n", n, dtype)
            else:
                ghn = self._check_state(grad_state, "grad_h_n", n, dtype)
        gh0 = np.empty((self.num_layers, n, hid), dtype)
        gc0 = np.empty((self.num_layers, n, hid), dtype) if self._mode == 1 else None
        for layer in reversed(range(self.num_layers)):
            inp, lh0, lc0, y, cells, gates = self._saved[layer]
            gx = self._buffer(f"gx{layer}", inp.shape, dtype)
            b_ih, b_hh = self._p("bias_ih", layer), self._p("bias_hh", layer)
            _C.rnn_layer_backward(self._mode, inp, self._p("weight_ih", layer).data,
                                  self._p("weight_hh", layer).data, lh0, lc0, y, cells, gates, gy,
                                  None if ghn is None else ghn[layer], None if gcn is None else gcn[layer], gx,
                                  self._p("weight_ih", layer).grad, self._p("weight_hh", layer).grad,
                                  b_ih.grad if b_ih is not None else None, b_hh.grad if b_hh is not None else None,
                                  gh0[layer], gc0[layer] if gc0 is not None else None)
            gy = gx
        self.grad_state = (gh0, gc0) if self._mode == 1 else gh0
        if self.batch_first:
            out = self._buffer("gin", (n, steps, self.input_size), dtype)
            np.copyto(out, gy.transpose(1, 0, 2))
            return out
        return gy


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
