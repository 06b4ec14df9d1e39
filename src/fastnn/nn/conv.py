"""Convolutions (Conv1d, Conv2d, ConvTranspose2d) and pooling (MaxPool2d,
AvgPool2d, AdaptiveAvgPool2d) on the C convolution and pooling kernels."""
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


def _str_padding(padding, stride, layer):
    """padding "same" or "valid" as given (checked), or None for numeric padding."""
    if not isinstance(padding, str):
        return None
    if padding not in ("same", "valid"):
        raise ValueError(f"{layer}: padding must be an int, a tuple of ints, 'same' or 'valid', got {padding!r}")
    if padding == "same" and any(s != 1 for s in stride):
        raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions (stride {stride})")
    return padding


class Conv2d(Module):
    """2-D convolution over NCHW input (padding a pair, or "same" / "valid"
    as torch), PyTorch's parameters: weight
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
        self.padding = _str_padding(padding, self.stride, name) or _pair(padding, name, "padding", 0)
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


def _positive(layer, **values):
    for what, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{layer}: {what} must be a positive int, got {v!r}")


def _conv_parameters(module, layer, in_channels, out_channels, groups, shape, fan_in, bias, dtype, padding_mode):
    """torch's weight and bias of a convolution: kaiming_uniform(a=sqrt(5)),
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for both."""
    _positive(layer, in_channels=in_channels, out_channels=out_channels, groups=groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: groups={groups} must divide in_channels={in_channels} "
                         f"and out_channels={out_channels}")
    if padding_mode != "zeros":
        raise NotImplementedError(f"{layer}: padding_mode={padding_mode!r} is not supported (only 'zeros')")
    module.in_channels, module.out_channels, module.groups = int(in_channels), int(out_channels), int(groups)
    bound = 1.0 / math.sqrt(fan_in)
    rng = generator()
    module.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype))
    module.bias = Parameter(rng.uniform(-bound, bound, int(out_channels)).astype(dtype)) if bias else None


def _conv_repr(m):
    """torch's summary of a convolution: the options that differ from their defaults."""
    nd = len(m.kernel_size)
    s = f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, stride={m.stride}"
    for name, default in (("padding", (0,) * nd), ("output_padding", (0,) * nd), ("dilation", (1,) * nd),
                          ("groups", 1)):
        value = getattr(m, name, default)
        if value != default:
            s += f", {name}={value}"
    return s + (", bias=False" if m.bias is None else "")


def _single(v, layer, name, minimum):
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(vals) != 1 or isinstance(vals[0], bool) or not isinstance(vals[0], (int, np.integer)):
        raise TypeError(f"{layer}: {name} must be an int or a 1-tuple of ints, got {v!r}")
    if vals[0] < minimum:
        raise ValueError(f"{layer}: {name} must be {'positive' if minimum else 'non-negative'}, got {v!r}")
    return (int(vals[0]),)


class Conv1d(Module):
    """1-D convolution over (N, C, L) (or unbatched (C, L)) input, run on the
    conv2d kernel with height 1; torch's weight (out_channels,
    in_channels/groups, kernel_size), bias and initialisation; padding an
    int, "same" or "valid"."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=np.float32):
        super().__init__()
        name = "Conv1d"
        self.kernel_size = _single(kernel_size, name, "kernel_size", 1)
        self.stride = _single(stride, name, "stride", 1)
        self.padding = _str_padding(padding, self.stride, name) or _single(padding, name, "padding", 0)
        self.dilation = _single(dilation, name, "dilation", 1)
        _positive(name, groups=groups)
        shape = (int(out_channels), int(in_channels) // int(groups)) + self.kernel_size
        _conv_parameters(self, name, in_channels, out_channels, groups, shape, shape[1] * shape[2], bias, dtype,
                         padding_mode)

    def extra_repr(self):
        return _conv_repr(self)

    def forward(self, x):
        self._check_input(x, ndims=(2, 3), dtype=self.weight.data.dtype)
        if x.shape[-2] != self.in_channels:
            raise self._error(f"expected {self.in_channels} input channels, got input of shape {x.shape}")
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        try:
            return F.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups)
        except ValueError as e:
            raise self._error(str(e)) from None


class ConvTranspose2d(Module):
    """Transposed 2-D convolution (conv2d's gradient w.r.t. its input) over
    (N, C_in, H, W) or (C_in, H, W); torch's weight (in_channels,
    out_channels/groups, kH, kW), bias and initialisation (fan_in from
    weight.shape[1] * kH * kW).  forward(x, output_size=None) picks the
    output_padding that gives output_size, as torch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=np.float32):
        super().__init__()
        name = "ConvTranspose2d"
        self.kernel_size = _pair(kernel_size, name, "kernel_size", 1)
        self.stride = _pair(stride, name, "stride", 1)
        self.padding = _pair(padding, name, "padding", 0)
        self.output_padding = _pair(output_padding, name, "output_padding", 0)
        self.dilation = _pair(dilation, name, "dilation", 1)
        for o, st, d in zip(self.output_padding, self.stride, self.dilation):
            if o >= max(st, d):
                raise ValueError(f"{name}: output_padding {self.output_padding} must be smaller than stride "
                                 f"{self.stride} or dilation {self.dilation}")
        _positive(name, groups=groups)
        shape = (int(in_channels), int(out_channels) // int(groups)) + self.kernel_size
        _conv_parameters(self, name, in_channels, out_channels, groups, shape, shape[1] * shape[2] * shape[3],
                         bias, dtype, padding_mode)

    def extra_repr(self):
        return _conv_repr(self)

    def _output_padding(self, x, output_size):
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-2:]
        pads = []
        for i, want in enumerate(size):
            least = ((x.shape[-2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            extra = int(want) - least
            if not 0 <= extra < max(self.stride[i], self.dilation[i]):
                raise self._error(f"output_size {tuple(output_size)} is not reachable from input of shape "
                                  f"{x.shape}: dim {i} can be {least} to "
                                  f"{least + max(self.stride[i], self.dilation[i]) - 1}")
            pads.append(extra)
        return tuple(pads)

    def forward(self, x, output_size=None):
        self._check_input(x, ndims=(3, 4), dtype=self.weight.data.dtype)
        if x.shape[-3] != self.in_channels:
            raise self._error(f"expected {self.in_channels} input channels, got input of shape {x.shape}")
        try:
            return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                      self._output_padding(x, output_size), self.groups, self.dilation)
        except ValueError as e:
            raise self._error(str(e)) from None


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output_size (an int, or (H, W) where None
    keeps that input size), with torch's bins."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, x):
        self._check_input(x, ndims=(3, 4))
        try:
            return F.adaptive_avg_pool2d(x, self.output_size)
        except ValueError as e:
            raise self._error(str(e)) from None
