"""Embedding, RNN (tanh or relu), LSTM and GRU on fastnn's C kernels.

The recurrent layers run each layer's whole sequence in C
(fnn_rnn_layer_forward/backward), one graph node per layer and direction:
one GEMM for the input projection of all time steps, then per step one GEMM
for the recurrent projection and one fused cell kernel; the backward runs
through time the same way.  The reverse direction of a bidirectional layer
is the same kernel run from the last step to the first.  Parameter names,
gate order (LSTM i, f, g, o; GRU r, z, n) and initialisation
(U(-1/sqrt(hidden), 1/sqrt(hidden))) are PyTorch's.
"""
import math
import numbers
import warnings

import numpy as np

from .._random import generator
from .._tensor_ops import cat, stack
from ..autograd import Tensor
from . import functional as F
from .module import Module, Parameter

_LSTM = F.RNN_MODES["LSTM"]


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

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=np.float32):
        super().__init__()
        cls = type(self).__name__
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        if self.input_size <= 0 or self.hidden_size <= 0 or self.num_layers <= 0:
            raise ValueError(f"{cls}: input_size, hidden_size and num_layers must be positive, got "
                             f"({input_size}, {hidden_size}, {num_layers})")
        if proj_size:
            raise NotImplementedError(f"{cls}: proj_size={proj_size} (LSTM with projections) is not supported")
        if device is not None and str(device) != "cpu":
            raise NotImplementedError(f"{cls}: device={device!r} is not supported (fastnn runs on the CPU)")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"{cls}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and self.num_layers == 1:
            # torch warns likewise: dropout acts between layers only
            warnings.warn(f"{cls}: dropout={dropout} has no effect with num_layers=1 (it is applied after every "
                          "layer but the last)", UserWarning, stacklevel=2)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        dirs = 2 if self.bidirectional else 1
        k = 1.0 / math.sqrt(self.hidden_size)
        g = self._gates * self.hidden_size
        rng = generator()
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else dirs * self.hidden_size
            for sfx in ("", "_reverse")[:dirs]:
                setattr(self, f"weight_ih_l{layer}{sfx}", Parameter(rng.uniform(-k, k, (g, n_in)).astype(dtype)))
                setattr(self, f"weight_hh_l{layer}{sfx}",
                        Parameter(rng.uniform(-k, k, (g, self.hidden_size)).astype(dtype)))
                if self.bias:
                    setattr(self, f"bias_ih_l{layer}{sfx}", Parameter(rng.uniform(-k, k, g).astype(dtype)))
                    setattr(self, f"bias_hh_l{layer}{sfx}", Parameter(rng.uniform(-k, k, g).astype(dtype)))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if isinstance(self, RNN):
            s += f", nonlinearity={self.nonlinearity!r}"
        s += f", bias={self.bias}, batch_first={self.batch_first}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s + (", bidirectional=True" if self.bidirectional else "")

    def _p(self, name, layer, reverse):
        return getattr(self, f"{name}_l{layer}{'_reverse' if reverse else ''}", None)

    def _check_state(self, s, what, n, dtype):
        dirs = 2 if self.bidirectional else 1
        if n is None:
            want, layout = (dirs * self.num_layers, self.hidden_size), "(num_layers * num_directions, hidden_size)"
        else:
            want = (dirs * self.num_layers, n, self.hidden_size)
            layout = "(num_layers * num_directions, batch, hidden_size)"
        a = s.data if isinstance(s, Tensor) else s
        if not isinstance(a, np.ndarray):
            raise self._error(f"{what} must be a fastnn.Tensor or numpy.ndarray, got {type(s).__name__}", TypeError)
        if a.shape != want:
            unbatched = " for an unbatched input" if n is None else ""
            raise self._error(f"{what} has shape {a.shape}, expected {want} {layout}{unbatched}")
        if a.dtype != dtype:
            raise self._error(f"{what} has dtype {a.dtype} but the layer's parameters are {dtype}", TypeError)
        t = s if isinstance(s, Tensor) else Tensor(a)
        # an unbatched state runs as a batch of one
        return t if n is not None else t.reshape(want[0], 1, want[1])

    def _split_state(self, state, n, dtype):
        if state is None:
            return None, None
        if self._mode == _LSTM:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise self._error("state must be a tuple (h_0, c_0)", TypeError)
            return (self._check_state(state[0], "h_0", n, dtype), self._check_state(state[1], "c_0", n, dtype))
        return self._check_state(state, "h_0", n, dtype), None

    def forward(self, x, state=None):
        """x (batch, seq, input_size) with batch_first, else (seq, batch,
        input_size), or unbatched (seq, input_size); state h_0 (or (h_0, c_0)
        for LSTM), each (num_layers * num_directions, batch, hidden_size)
        ((num_layers * num_directions, hidden_size) unbatched), None for
        zeros.  Returns (output, h_n) (LSTM: (output, (h_n, c_n))); output has
        num_directions * hidden_size features, forward then reverse."""
        dtype = self.weight_ih_l0.data.dtype
        self._check_input(x, dtype=dtype)
        if x.ndim not in (2, 3):
            layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
            raise self._error(f"expected a 3-D input {layout} or a 2-D unbatched input (seq, input_size), got "
                              f"shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise self._error(f"input has {x.shape[-1]} features (shape {x.shape}), expected input_size "
                              f"{self.input_size}")
        unbatched = x.ndim == 2
        xt = x if isinstance(x, Tensor) else Tensor(x)
        if unbatched:
            xt = xt.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            xt = xt.transpose(1, 0)
        h0, c0 = self._split_state(state, None if unbatched else xt.shape[1], dtype)
        dirs = 2 if self.bidirectional else 1
        mode = self._mode
        inp = xt
        hs, cs = [], []
        for layer in range(self.num_layers):
            ys = []
            for d in range(dirs):
                k = layer * dirs + d
                y, h_n, c_n = F.rnn_layer(mode, inp, self._p("weight_ih", layer, d), self._p("weight_hh", layer, d),
                                          self._p("bias_ih", layer, d), self._p("bias_hh", layer, d),
                                          None if h0 is None else h0[k], None if c0 is None else c0[k],
                                          reverse=bool(d))
                ys.append(y)
                hs.append(h_n)
                cs.append(c_n)
            inp = ys[0] if dirs == 1 else cat(ys, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                inp = F.dropout(inp, self.dropout, True)
        h_n = stack(hs)
        c_n = stack(cs) if mode == _LSTM else None
        if unbatched:
            out = inp.reshape(inp.shape[0], inp.shape[2])
            h_n = h_n.reshape(h_n.shape[0], h_n.shape[2])
            c_n = None if c_n is None else c_n.reshape(c_n.shape[0], c_n.shape[2])
        else:
            out = inp.transpose(1, 0) if self.batch_first else inp
        if mode == _LSTM:
            return out, (h_n, c_n)
        return out, h_n


class RNN(_RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act
    tanh or relu (nonlinearity=)."""
    _gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity
        self._mode = F.RNN_MODES["RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"]


class LSTM(_RNNBase):
    """LSTM with PyTorch's gates i, f, g, o: forward(x, (h_0, c_0)=None) ->
    (output, (h_n, c_n)).  proj_size is not supported."""
    _mode = _LSTM
    _gates = 4


class GRU(_RNNBase):
    """GRU with PyTorch's gates r, z, n (n = tanh(W_in x + b_in + r (W_hn h + b_hn)))."""
    _mode = F.RNN_MODES["GRU"]
    _gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=np.float32):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
