"""nn.Linear on the GEMM: y = x @ weight.T + bias."""
import math

import numpy as np

from .. import _random, ops
from .module import Module, Parameter


def kaiming_uniform_bound(fan_in):
    """PyTorch's default for Linear and Conv2d: kaiming_uniform(a=sqrt(5)),
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


class Linear(Module):
    """y = x @ weight.T + bias for x of shape (..., in_features); weight is
    (out_features, in_features) as in PyTorch."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {v!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = kaiming_uniform_bound(self.in_features)
        rng = _random.generator()
        self.weight = Parameter(rng.uniform(-bound, bound, (self.out_features, self.in_features)).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, self.out_features).astype(dtype)) if bias else None
        self._x = None

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x):
        x = self._check_input(x, dtype=self.weight.data.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise self._error(f"expected input with last dimension {self.in_features}, got shape {x.shape}")
        x2 = x.reshape(-1, self.in_features)
        y = self._buffer("y", (x2.shape[0], self.out_features), x.dtype)
        ops.linear(x2, self.weight.data, None if self.bias is None else self.bias.data, out=y)
        self._x = x
        return y.reshape(x.shape[:-1] + (self.out_features,))

    def backward(self, grad_out):
        x = self._x
        like = None if x is None else np.empty(x.shape[:-1] + (self.out_features,), x.dtype)
        g = self._check_grad(grad_out, like)
        g2 = g.reshape(-1, self.out_features)
        x2 = x.reshape(-1, self.in_features)
        if g2.shape[0]:
            ops.matmul(g2, x2, out=self.weight.grad, trans_a=True, beta=1.0)  # dW += g^T x
            if self.bias is not None:
                self.bias.grad += g2.sum(axis=0)
        dx = self._buffer("dx", x2.shape, x.dtype)
        ops.matmul(g2, self.weight.data, out=dx)
        return dx.reshape(x.shape)
