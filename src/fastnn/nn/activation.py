"""Parameter-free layers: activations, Softmax, Flatten, Dropout."""
import numpy as np

from .. import _C, ops
from .._random import generator
from .module import Module

# op codes of fastnn.h (FNN_ACT_*), as in fastnn.ops
_RELU, _LEAKY_RELU, _SIGMOID, _TANH, _GELU, _GELU_TANH = range(6)


class _Elementwise(Module):
    """y = f(x) elementwise through the C activation kernels.  The backward
    needs x (save_output False) or y (save_output True)."""
    _op = None
    _save_output = False

    def __init__(self):
        super().__init__()
        self._saved = None
        self._out = None

    def _alpha(self):
        return 0.0

    def forward(self, x):
        x = self._check_input(x)
        y = self._buffer("y", x.shape, x.dtype)
        _C.act_forward(self._op, x, y, self._alpha())
        self._saved = y if self._save_output else x
        self._out = y
        return y

    def backward(self, grad_out):
        g = self._check_grad(grad_out, self._out)
        dx = self._buffer("dx", g.shape, g.dtype)
        _C.act_backward(self._op, g, self._saved, dx, self._alpha())
        return dx


class ReLU(_Elementwise):
    _op = _RELU


class LeakyReLU(_Elementwise):
    _op = _LEAKY_RELU

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def _alpha(self):
        return self.negative_slope

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_Elementwise):
    _op = _SIGMOID
    _save_output = True


class Tanh(_Elementwise):
    _op = _TANH
    _save_output = True


class GELU(_Elementwise):
    """GELU: exact erf form (approximate='none') or the tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self._op = _GELU if approximate == "none" else _GELU_TANH

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """softmax along dim (default: the last)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = -1 if dim is None else dim
        self._y = None

    def extra_repr(self):
        return f"dim={self.dim}"

    def forward(self, x):
        x = self._check_input(x)
        if not -x.ndim <= self.dim < x.ndim:
            raise self._error(f"dim {self.dim} is out of range for a {x.ndim}-D input of shape {x.shape}")
        if self.dim % x.ndim == x.ndim - 1 and x.size:
            y = self._buffer("y", x.shape, x.dtype)
            _C.row_forward(0, x, y, x.shape[-1])
        else:
            y = ops.softmax(x, axis=self.dim)
        self._y = y
        return y

    def backward(self, grad_out):
        g = self._check_grad(grad_out, self._y)
        if self.dim % g.ndim == g.ndim - 1 and g.size:
            dx = self._buffer("dx", g.shape, g.dtype)
            _C.row_backward(0, g, self._y, dx, g.shape[-1])
            return dx
        return ops.softmax_backward(g, self._y, axis=self.dim)


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one (a view, no copy)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim
        self._shape = None

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x):
        x = self._check_input(x)
        nd = max(x.ndim, 1)
        s, e = self.start_dim % nd, self.end_dim % nd
        if not (-nd <= self.start_dim < nd and -nd <= self.end_dim < nd) or s > e:
            raise self._error(f"cannot flatten dims {self.start_dim}..{self.end_dim} of an input of shape {x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[:s] + (-1 if x.size else int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:])

    def backward(self, grad_out):
        if self._shape is None:
            raise self._error("backward called before forward", RuntimeError)
        if grad_out.size != int(np.prod(self._shape)):
            raise self._error(f"grad_out has shape {grad_out.shape}, which does not unflatten to {self._shape}")
        return np.ascontiguousarray(grad_out).reshape(self._shape)


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and
    scale the rest by 1 / (1 - p); identity in eval mode.  Masks come from
    fastnn's generator (fastnn.manual_seed)."""

    def __init__(self, p=0.5):
        super().__init__()
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self._mask = None
        self._identity = True
        self._out = None

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        x = self._check_input(x)
        self._identity = not self.training or self.p == 0.0
        if self._identity:
            self._out = x
            return x
        mask = self._buffer("mask", x.shape, x.dtype)
        keep = self._buffer("keep", x.shape, np.bool_)
        generator().random(out=mask, dtype=x.dtype)
        np.greater_equal(mask, self.p, out=keep)
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        np.multiply(keep, x.dtype.type(scale), out=mask)
        y = self._buffer("y", x.shape, x.dtype)
        np.multiply(x, mask, out=y)
        self._mask = mask
        self._out = y
        return y

    def backward(self, grad_out):
        g = self._check_grad(grad_out, self._out)
        if self._identity:
            return g
        dx = self._buffer("dx", g.shape, g.dtype)
        np.multiply(g, self._mask, out=dx)
        return dx
