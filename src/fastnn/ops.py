"""fastnn.ops: the functional kernels on NumPy arrays.

float32 is the fast path; float64 is supported everywhere.  Inputs may be
non-contiguous (they are copied); `out=` must have the exact shape and dtype
and be C-contiguous.  Every backward takes the upstream gradient first.
"""
import numpy as np

from . import _C

__all__ = ["relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "sigmoid",
           "sigmoid_backward", "tanh", "tanh_backward", "gelu", "gelu_backward",
           "softmax", "softmax_backward", "log_softmax", "log_softmax_backward"]

# op codes of fastnn.h (FNN_ACT_*)
_RELU, _LEAKY_RELU, _SIGMOID, _TANH, _GELU, _GELU_TANH = range(6)
_SOFTMAX, _LOG_SOFTMAX = 0, 1


def _unary(code, name, x, out, alpha=0.0):
    x = _C.as_float_array(x, name)
    y, (x,) = _C.output_for(out, x.shape, x.dtype, name, (x,))
    _C.act_forward(code, x, y, alpha)
    return y


def _unary_backward(code, name, grad_out, saved, saved_name, alpha=0.0, out=None):
    g = _C.as_float_array(grad_out, name, "grad_out")
    s = _C.as_float_array(saved, name, saved_name)
    _C.same_shape(g, s, name, "grad_out", saved_name)
    dx, (g, s) = _C.output_for(out, g.shape, g.dtype, name, (g, s))
    _C.act_backward(code, g, s, dx, alpha)
    return dx


def _slope(negative_slope, name):
    try:
        return float(negative_slope)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: negative_slope must be a number, got {type(negative_slope).__name__}") from None


def _gelu_code(approximate, name):
    if approximate == "none":
        return _GELU
    if approximate == "tanh":
        return _GELU_TANH
    raise ValueError(f"{name}: approximate must be 'none' or 'tanh', got {approximate!r}")


def relu(x, out=None):
    """max(x, 0), elementwise; NaN stays NaN."""
    return _unary(_RELU, "relu", x, out)


def relu_backward(grad_out, x, out=None):
    """grad_out where x > 0, else 0."""
    return _unary_backward(_RELU, "relu_backward", grad_out, x, "x", out=out)


def leaky_relu(x, negative_slope=0.01, out=None):
    """x where x >= 0, else negative_slope * x."""
    return _unary(_LEAKY_RELU, "leaky_relu", x, out, _slope(negative_slope, "leaky_relu"))


def leaky_relu_backward(grad_out, x, negative_slope=0.01, out=None):
    return _unary_backward(_LEAKY_RELU, "leaky_relu_backward", grad_out, x, "x",
                           _slope(negative_slope, "leaky_relu_backward"), out=out)


def sigmoid(x, out=None):
    """1 / (1 + exp(-x)), accurate in both tails."""
    return _unary(_SIGMOID, "sigmoid", x, out)


def sigmoid_backward(grad_out, y, out=None):
    """grad_out * y * (1 - y), from the forward's output y."""
    return _unary_backward(_SIGMOID, "sigmoid_backward", grad_out, y, "y", out=out)


def tanh(x, out=None):
    return _unary(_TANH, "tanh", x, out)


def tanh_backward(grad_out, y, out=None):
    """grad_out * (1 - y**2), from the forward's output y."""
    return _unary_backward(_TANH, "tanh_backward", grad_out, y, "y", out=out)


def gelu(x, approximate="none", out=None):
    """GELU: x * Phi(x) (approximate='none', exact erf form) or the tanh approximation."""
    return _unary(_gelu_code(approximate, "gelu"), "gelu", x, out)


def gelu_backward(grad_out, x, approximate="none", out=None):
    return _unary_backward(_gelu_code(approximate, "gelu_backward"), "gelu_backward",
                           grad_out, x, "x", out=out)


def _axis(axis, ndim, name):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for a {ndim}-D array")
    return int(axis) % ndim


def _rows(code, name, x, axis):
    x = _C.as_float_array(x, name)
    ax = _axis(axis, x.ndim, name)
    xt = np.ascontiguousarray(np.moveaxis(x, ax, -1))
    y = np.empty_like(xt)
    if xt.size:
        _C.row_forward(code, xt, y, xt.shape[-1])
    return np.moveaxis(y, -1, ax)


def _rows_backward(code, name, grad_out, y, axis):
    g = _C.as_float_array(grad_out, name, "grad_out")
    y = _C.as_float_array(y, name, "y")
    _C.same_shape(g, y, name, "grad_out", "y")
    ax = _axis(axis, g.ndim, name)
    gt = np.ascontiguousarray(np.moveaxis(g, ax, -1))
    yt = np.ascontiguousarray(np.moveaxis(y, ax, -1))
    dx = np.empty_like(gt)
    if gt.size:
        _C.row_backward(code, gt, yt, dx, gt.shape[-1])
    return np.moveaxis(dx, -1, ax)


def softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)) along axis."""
    return _rows(_SOFTMAX, "softmax", x, axis)


def softmax_backward(grad_out, y, axis=-1):
    """y * (grad_out - sum(grad_out * y)), from the forward's output y."""
    return _rows_backward(_SOFTMAX, "softmax_backward", grad_out, y, axis)


def log_softmax(x, axis=-1):
    """x - max - log(sum(exp(x - max))) along axis."""
    return _rows(_LOG_SOFTMAX, "log_softmax", x, axis)


def log_softmax_backward(grad_out, y, axis=-1):
    """grad_out - exp(y) * sum(grad_out), from the forward's output y."""
    return _rows_backward(_LOG_SOFTMAX, "log_softmax_backward", grad_out, y, axis)
