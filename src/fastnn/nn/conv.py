"""Conv2d, MaxPool2d and AvgPool2d on the C convolution and pooling kernels."""
import math

import numpy as np

from . import functional as F
from .._random import generator
from .module import Module, Parameter


def _pair(v, layer, name, minimum):
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(vals) != 2 or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in vals):
        raise TypeError(f"{layer}: {name} must be an int or a pair of ints, got {v!r}")
    vals = tuple(int(a) for a in vals)
    if min(vals) < minimum:
        raise ValueError(f"{layer}: {name} must be {'positive' if minimum else 'non-negative'}, got {v!r}")
    return vals


class Conv2d(Module):
    """2-D convolution over NCHW input, PyTorch's parameters: weight
    (out_channels, in_channels/groups, kH, kW) with kaiming_uniform(a=sqrt(5))
    initialisation, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias
    (out_channels) from the same range."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, dtype=np.float32):
        super().__init__()
        name = "Conv2d"
        for v, what in ((in_channels, "in_channels"), (out_channels, "out_channels"), (groups, "groups")):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _pair(kernel_size, name, "kernel_size", 1)
        self.stride = _pair(stride, name, "stride", 1)
        self.padding = _pair(padding, name, "padding", 0)
        self.dilation = _pair(dilation, name, "dilation", 1)
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        fan_in = shape[1] * shape[2] * shape[3]
        bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)): gain sqrt(1/3) * sqrt(3/fan_in)
        rng = generator()
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, self.out_channels).astype(dtype)) if bias else None

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def forward(self, x):
        self._check_input(x, ndims=(4,), dtype=self.weight.data.dtype)
        c = x.shape[1]
        if c != self.in_channels:
            raise self._error(f"expected {self.in_channels} input channels, got input of shape {x.shape}")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, name, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, name, "stride", 1)
        self.padding = _pair(padding, name, "padding", 0)
        if 2 * self.padding[0] > self.kernel_size[0] or 2 * self.padding[1] > self.kernel_size[1]:
            raise ValueError(f"{name}: padding {self.padding} must be at most half of kernel_size "
                             f"{self.kernel_size}")

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _pool(self, fn, x):
        self._check_input(x, ndims=(4,))
        return fn(x, self.kernel_size, self.stride, self.padding)


class MaxPool2d(_Pool2d):
    """Max pooling (stride defaults to kernel_size); padding never wins."""

    def forward(self, x):
        return self._pool(F.max_pool2d, x)


class AvgPool2d(_Pool2d):
    """Average pooling counting padding as zeros (count_include_pad=True)."""

    def forward(self, x):
        return self._pool(F.avg_pool2d, x)
