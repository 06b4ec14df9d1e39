"""Parameter-free layers: activations, Softmax, Flatten, Dropout (each
one call of fastnn.nn.functional)."""
import numpy as np

from ..autograd import Tensor
from . import functional as F
from .module import Module


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class GELU(Module):
    """GELU: exact erf form (approximate='none') or the tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def extra_repr(self):
        return f"approximate={self.approximate!r}"

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Softmax(Module):
    """softmax along dim (default: the last)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def extra_repr(self):
        return f"dim={self.dim}"

    def forward(self, x):
        return F.softmax(x, self.dim)


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one (a view, no copy)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x):
        self._check_input(x)
        t = x if isinstance(x, Tensor) else Tensor(x)
        shape = t.shape
        nd = max(len(shape), 1)
        s, e = self.start_dim % nd, self.end_dim % nd
        if not (-nd <= self.start_dim < nd and -nd <= self.end_dim < nd) or s > e:
            raise self._error(f"cannot flatten dims {self.start_dim}..{self.end_dim} of an input of shape {shape}")
        size = int(np.prod(shape[s:e + 1]))
        return t.reshape(shape[:s] + (size,) + shape[e + 1:])


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

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        return F.dropout(x, self.p, self.training)


class SiLU(Module):
    """x * sigmoid(x) (also called swish)."""

    def forward(self, x):
        self._check_input(x)
        return F.silu(x)


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = float(alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"

    def forward(self, x):
        self._check_input(x)
        return F.elu(x, self.alpha)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta; x itself where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"

    def forward(self, x):
        self._check_input(x)
        return F.softplus(x, self.beta, self.threshold)


class LogSoftmax(Module):
    """log(softmax(x)) along dim.  dim=None picks torch's implicit dim: 0 for
    inputs of 0, 1 or 3 dims, else 1."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"

    def forward(self, x):
        self._check_input(x)
        dim = self.dim
        if dim is None:
            dim = 0 if x.ndim in (0, 1, 3) else 1
        try:
            return F.log_softmax(x, dim)
        except ValueError as e:
            raise self._error(str(e)) from None


class Dropout2d(Module):
    """Channel dropout: in training, zero whole channels of (N, C, H, W)
    (or (N, C, L)) with probability p and scale the rest by 1 / (1 - p);
    identity in eval mode."""

    def __init__(self, p=0.5):
        super().__init__()
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p = p

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        self._check_input(x, ndims=(3, 4))
        return F.dropout2d(x, self.p, self.training)
