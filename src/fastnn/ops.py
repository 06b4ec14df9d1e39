"""fastnn.ops: the functional kernels on NumPy arrays.

float32 is the fast path; float64 is supported everywhere.  Inputs may be
non-contiguous (they are copied); `out=` must have the exact shape and dtype
and be C-contiguous.  Every backward takes the upstream gradient first.
"""
import numpy as np

from . import _C

__all__ = ["relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "sigmoid",
           "sigmoid_backward", "tanh", "tanh_backward", "gelu", "gelu_backward",
           "softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "matmul", "linear"]

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


# ---------------------------------------------------------------- GEMM

def _gemm_operand(x, op, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: {name} has dtype {x.dtype}; fastnn computes in float32 or float64")
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: {name} must be 2-D or 3-D, got {x.ndim}-D with shape {x.shape}")
    return x


def matmul(a, b, out=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha * op(a) @ op(b) + beta * out, op(x) = x or its transpose (of the
    last two axes) by trans_a / trans_b.

    2-D, or 3-D batched with the batch broadcast as numpy.matmul (a batch of
    1 repeats; 3-D @ 2-D works).  Inputs may have any strides (rows of unit
    stride are read in place, other layouts are copied).  beta != 0 needs
    `out`, which then holds C on entry; `out` must have the exact shape and
    dtype and be C-contiguous.
    """
    return _C.matmul(a, b, out, trans_a, trans_b, alpha, beta)


_LINEAR_ACTS = {None: -1, "relu": _RELU, "leaky_relu": _LEAKY_RELU, "sigmoid": _SIGMOID, "tanh": _TANH,
                "gelu": _GELU, "gelu_tanh": _GELU_TANH}


def linear(x, weight, bias=None, *, activation=None, out=None, negative_slope=0.01):
    """activation(x @ weight.T + bias), weight (out_features, in_features),
    x (N, in) or (N, T, in).  The bias and the activation ("relu", "gelu"
    (exact), "tanh", "sigmoid", also "leaky_relu" with negative_slope and
    "gelu_tanh") are applied by the GEMM micro-kernel to each output tile as
    it is produced (the bias in registers, the activation while the tile is in
    L1): no second pass over the output."""
    x = _gemm_operand(x, "linear", "x")
    if not isinstance(weight, np.ndarray):
        raise TypeError(f"linear: weight must be a numpy.ndarray, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if weight.dtype != x.dtype:
        raise TypeError(f"linear: x is {x.dtype} but weight is {weight.dtype}")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: x has shape {x.shape} but weight has shape {weight.shape}; "
                         f"x.shape[-1] must equal weight.shape[1]")
    if activation not in _LINEAR_ACTS:
        raise ValueError(f"linear: unknown activation {activation!r}; choose one of {list(_LINEAR_ACTS)}")
    n = weight.shape[0]
    if bias is not None:
        if not isinstance(bias, np.ndarray):
            raise TypeError(f"linear: bias must be a numpy.ndarray, got {type(bias).__name__}")
        if bias.dtype != x.dtype:
            raise TypeError(f"linear: x is {x.dtype} but bias is {bias.dtype}")
        if bias.shape != (n,):
            raise ValueError(f"linear: bias has shape {bias.shape}; expected ({n},) for weight {weight.shape}")
    shape = x.shape[:-1] + (n,)
    x2 = x.reshape(-1, x.shape[-1])
    y, _ = _C.output_for(out, shape, x.dtype, "linear")
    fixed = []
    for t in (x2, weight, bias):
        if t is not None and np.may_share_memory(t, y):
            t = t.copy()
        fixed.append(t)
    x2, weight, bias = fixed
    if y.size:
        _C.linear(x2, weight, bias, y.reshape(-1, n), _LINEAR_ACTS[activation], _slope(negative_slope, "linear"))
    return y
