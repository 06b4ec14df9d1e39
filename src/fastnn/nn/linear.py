"""nn.Linear on the GEMM: y = x @ weight.T + bias."""
import math

import numpy as np

from .. import _random
from . import functional as F
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

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x, activation=None):
        """x @ weight.T + bias; activation ("relu", "tanh", "sigmoid") fused
        into the GEMM's epilogue (Sequential passes it for a Linear followed
        by that activation)."""
        return F.linear(x, self.weight, self.bias, activation)
