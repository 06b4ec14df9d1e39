"""Conv2d, MaxPool2d and AvgPool2d on the C convolution and pooling kernels."""
import math

import numpy as np

from .. import _C, ops
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
        self._x = None

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

    def _geometry(self, x):
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise self._error(f"expected {self.in_channels} input channels, got input of shape {x.shape}")
        (r, s), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        er, es = dh * (r - 1) + 1, dw * (s - 1) + 1
        if h + 2 * ph < er or w + 2 * pw < es:
            raise self._error(f"kernel {r}x{s} (dilated {er}x{es}) is larger than the padded input "
                              f"{h + 2 * ph}x{w + 2 * pw} of input shape {x.shape}")
        return (n, self.out_channels, (h + 2 * ph - er) // sh + 1, (w + 2 * pw - es) // sw + 1)

    def forward(self, x):
        x = self._check_input(x, ndims=(4,), dtype=self.weight.data.dtype)
        shape = self._geometry(x)
        y = self._buffer("y", shape, x.dtype)
        if y.size:
            _C.conv2d_forward(x, self.weight.data, None if self.bias is None else self.bias.data, y,
                              self.stride, self.padding, self.dilation, self.groups)
        self._x, self._y = x, y
        return y

    def backward(self, grad_out):
        g = self._check_grad(grad_out, getattr(self, "_y", None))
        x = self._x
        gx = self._buffer("gx", x.shape, x.dtype)
        gw = self._buffer("gw", self.weight.data.shape, x.dtype)
        gb = self._buffer("gb", (self.out_channels,), x.dtype) if self.bias is not None else None
        if x.shape[0] == 0:
            gx.fill(0)
            return gx
        _C.conv2d_backward(g, x, self.weight.data, gx, gw, gb, self.stride, self.padding, self.dilation,
                           self.groups)
        self.weight.grad += gw
        if self.bias is not None:
            self.bias.grad += gb
        return gx


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
        self._x = None

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _out_shape(self, x):
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise self._error(f"kernel_size {self.kernel_size} is larger than the padded input "
                              f"{h + 2 * ph}x{w + 2 * pw} of input shape {x.shape}")
        return (n, c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)


class MaxPool2d(_Pool2d):
    """Max pooling (stride defaults to kernel_size); padding never wins."""

    def forward(self, x):
        x = self._check_input(x, ndims=(4,))
        shape = self._out_shape(x)
        y = self._buffer("y", shape, x.dtype)
        self._argmax = self._buffer("argmax", shape, np.int32)
        if y.size:
            _C.max_pool2d_forward(x, y, self._argmax, self.kernel_size, self.stride, self.padding)
        self._x, self._y = x, y
        return y

    def backward(self, grad_out):
        g = self._check_grad(grad_out, getattr(self, "_y", None))
        gx = self._buffer("gx", self._x.shape, g.dtype)
        if g.size:
            _C.max_pool2d_backward(g, self._argmax, gx)
        else:
            gx.fill(0)
        return gx


class AvgPool2d(_Pool2d):
    """Average pooling counting padding as zeros (count_include_pad=True)."""

    def forward(self, x):
        x = self._check_input(x, ndims=(4,))
        shape = self._out_shape(x)
        y = self._buffer("y", shape, x.dtype)
        if y.size:
            _C.avg_pool2d_forward(x, y, self.kernel_size, self.stride, self.padding)
        self._x, self._y = x, y
        return y

    def backward(self, grad_out):
        g = self._check_grad(grad_out, getattr(self, "_y", None))
        gx = self._buffer("gx", self._x.shape, g.dtype)
        if g.size:
            _C.avg_pool2d_backward(g, gx, self.kernel_size, self.stride, self.padding)
        else:
            gx.fill(0)
        return gx
