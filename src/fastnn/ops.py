"""fastnn.ops: the functional kernels on NumPy arrays.

float32 is the fast path; float64 is supported everywhere.  Inputs may be
non-contiguous, byte-swapped or unaligned (they are copied into native
arrays); `out=` must have the exact shape and dtype, be C-contiguous,
writeable, aligned and in native byte order (else TypeError, or ValueError
for shape, contiguity and read-only).  Every backward takes the upstream
gradient first.
"""
import numpy as np

from . import _C

__all__ = ["relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "sigmoid",
           "sigmoid_backward", "tanh", "tanh_backward", "gelu", "gelu_backward",
           "softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "cross_entropy",
           "layer_norm", "layer_norm_backward", "batch_norm", "batch_norm_backward", "matmul", "linear",
           "conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "scaled_dot_product_attention", "scaled_dot_product_attention_backward", "rnn_tanh_cell",
           "rnn_tanh_cell_backward", "lstm_cell", "lstm_cell_backward", "gru_cell", "gru_cell_backward",
           "embedding", "embedding_backward"]

_RELU, _LEAKY_RELU, _SIGMOID, _TANH = _C.ACT_RELU, _C.ACT_LEAKY_RELU, _C.ACT_SIGMOID, _C.ACT_TANH
_GELU, _GELU_TANH = _C.ACT_GELU, _C.ACT_GELU_TANH
_SOFTMAX, _LOG_SOFTMAX = _C.ROW_SOFTMAX, _C.ROW_LOG_SOFTMAX


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


# ---------------------------------------------------------------- losses

def class_indices(target, rows, classes, name):
    """An integer target of `rows` class indices as C-contiguous int64, after
    checking every index is in [0, classes); ValueError naming the bad range."""
    target = np.asarray(target)
    if target.ndim != 1 or target.shape[0] != rows:
        raise ValueError(f"{name}: class-index target must have shape ({rows},), got {target.shape}")
    if target.size:
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= classes:
            raise ValueError(f"{name}: target holds class indices in [{lo}, {hi}], outside the valid "
                             f"range [0, {classes - 1}] for {classes} classes")
    return np.require(target, np.int64, ["C", "A"])  # native, aligned, contiguous


def is_class_index_target(target):
    return isinstance(target, np.ndarray) and target.dtype.kind in "iu"


def cross_entropy(logits, target, *, reduction="mean"):
    """Fused log-softmax + negative log-likelihood and its gradient.

    logits (N, C); target either integer class indices (N,) of any integer
    dtype, or class probabilities (N, C).  Returns (loss, grad_logits):
    loss is a float for reduction "mean" or "sum", an (N,) array for "none";
    grad_logits is d loss / d logits (for "none": of loss.sum()).
    """
    name = "cross_entropy"
    x = _C.as_float_array(logits, name, "logits")
    if x.ndim != 2:
        raise ValueError(f"{name}: logits must have shape (N, C), got {x.shape}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    grad = np.empty_like(x)
    row_loss = np.empty(x.shape[0], np.float64)
    if is_class_index_target(target):
        t = class_indices(target, x.shape[0], x.shape[1], name)
        loss = _C.cross_entropy_index(x, t, grad, reduction, row_loss)
    else:
        t = _C.as_float_array(target, name, "target")
        if t.shape != x.shape:
            raise ValueError(f"{name}: probability target has shape {t.shape} but logits have shape {x.shape}")
        t = np.ascontiguousarray(t, dtype=x.dtype)
        loss = _C.cross_entropy_prob(x, t, grad, reduction, row_loss)
    if reduction == "none":
        return row_loss.astype(x.dtype), grad
    return float(loss), grad


# ---------------------------------------------------------------- normalisation

def _norm_shape(x, weight, bias, name):
    if weight is None and bias is None:
        return x.shape[-1:]
    shape = (weight if weight is not None else bias).shape
    if shape == () or x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(f"{name}: x has shape {x.shape}, whose trailing dimensions do not match "
                         f"the normalized shape {shape}")
    return shape


def _affine_or_default(a, shape, dtype, fill, name, what):
    if a is None:
        return np.full(shape, fill, dtype)
    a = _C.as_float_array(a, name, what)
    if a.shape != shape:
        raise ValueError(f"{name}: {what} has shape {a.shape}, expected {shape}")
    if a.dtype != dtype:
        raise TypeError(f"{name}: {what} is {a.dtype} but x is {dtype}")
    return a


def layer_norm(x, weight, bias, eps=1e-5):
    """Normalise over the trailing dimensions of weight's shape (the last
    dimension when weight and bias are None): y = (x - mean) * rstd * weight + bias.
    Returns (y, mean, rstd), mean and rstd shaped x.shape[:-k]."""
    name = "layer_norm"
    x = _C.as_float_array(x, name)
    shape = _norm_shape(x, weight, bias, name)
    w = _affine_or_default(weight, shape, x.dtype, 1, name, "weight")
    b = _affine_or_default(bias, shape, x.dtype, 0, name, "bias")
    lead = x.shape[:x.ndim - len(shape)]
    cols = int(np.prod(shape))
    rows = int(np.prod(lead))
    y = np.empty_like(x)
    mean = np.empty(lead, x.dtype)
    rstd = np.empty(lead, x.dtype)
    _C.layer_norm_forward(x.reshape(rows, cols), w.reshape(-1), b.reshape(-1), float(eps),
                          y.reshape(rows, cols), mean.reshape(-1), rstd.reshape(-1))
    return y, mean, rstd


def layer_norm_backward(grad_out, x, weight, mean, rstd):
    """-> (grad_x, grad_weight, grad_bias) from the forward's mean and rstd.
    weight None means ones over the last dimension."""
    name = "layer_norm_backward"
    x = _C.as_float_array(x, name)
    g = _C.as_float_array(grad_out, name, "grad_out")
    _C.same_shape(g, x, name, "grad_out", "x")
    shape = _norm_shape(x, weight, None, name)
    w = _affine_or_default(weight, shape, x.dtype, 1, name, "weight")
    lead = x.shape[:x.ndim - len(shape)]
    mean = _C.as_float_array(mean, name, "mean")
    rstd = _C.as_float_array(rstd, name, "rstd")
    for a, what in ((mean, "mean"), (rstd, "rstd")):
        if a.shape != lead or a.dtype != x.dtype:
            raise ValueError(f"{name}: {what} has shape {a.shape} and dtype {a.dtype}; expected {lead} and {x.dtype}")
    cols = int(np.prod(shape))
    rows = int(np.prod(lead))
    dx = np.empty_like(x)
    dw = np.empty(shape, x.dtype)
    db = np.empty(shape, x.dtype)
    _C.layer_norm_backward(g.reshape(rows, cols), x.reshape(rows, cols), w.reshape(-1), mean.reshape(-1),
                           rstd.reshape(-1), dx.reshape(rows, cols), dw.reshape(-1), db.reshape(-1))
    return dx, dw, db


def _bn_dims(x, name):
    if x.ndim < 2:
        raise ValueError(f"{name}: x must have shape (N, C, ...), got {x.shape}")
    n, c = x.shape[0], x.shape[1]
    return n, c, int(np.prod(x.shape[2:]))


def batch_norm(x, running_mean, running_var, weight=None, bias=None, *, training=False, momentum=0.1, eps=1e-5):
    """Batch norm over channel axis 1 of x (N, C, ...).  training: batch
    statistics, and running_mean/running_var (if given) updated in place as
    PyTorch does (unbiased variance); else the running statistics.
    Returns (y, save_mean, save_rstd) for batch_norm_backward."""
    name = "batch_norm"
    x = _C.as_float_array(x, name)
    n, c, s = _bn_dims(x, name)
    # the running statistics are updated in place, so C must write them as
    # they are; weight and bias are only read, so any kind is converted
    for a, what in ((running_mean, "running_mean"), (running_var, "running_var")):
        _C.check_memory(a, name, what)
    weight = None if weight is None else _C.native(weight)
    bias = None if bias is None else _C.native(bias)
    for a, what in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                    (bias, "bias")):
        if a is not None and (not isinstance(a, np.ndarray) or a.shape != (c,) or a.dtype != x.dtype
                              or not a.flags.c_contiguous):
            raise ValueError(f"{name}: {what} must be a C-contiguous {x.dtype} array of shape ({c},)")
    if training and n * s < 2:
        raise ValueError(f"{name}: expected more than 1 value per channel when training, got input {x.shape}")
    if not training and running_mean is None:
        raise ValueError(f"{name}: running statistics are needed outside training")
    y = np.empty_like(x)
    save_mean = np.empty(c, x.dtype)
    save_rstd = np.empty(c, x.dtype)
    _C.batch_norm_forward(x, n, c, s, weight, bias, bool(training), float(momentum), float(eps),
                          running_mean, running_var, y, save_mean, save_rstd)
    return y, save_mean, save_rstd


def batch_norm_backward(grad_out, x, weight, save_mean, save_rstd, *, training=False):
    """-> (grad_x, grad_weight, grad_bias); training as in the forward call."""
    name = "batch_norm_backward"
    x = _C.as_float_array(x, name)
    g = _C.as_float_array(grad_out, name, "grad_out")
    _C.same_shape(g, x, name, "grad_out", "x")
    n, c, s = _bn_dims(x, name)
    if weight is not None:
        weight = _C.as_float_array(weight, name, "weight")
    dx = np.empty_like(x)
    dw = np.empty(c, x.dtype)
    db = np.empty(c, x.dtype)
    _C.batch_norm_backward(g, x, n, c, s, weight, _C.as_float_array(save_mean, name, "save_mean"),
                           _C.as_float_array(save_rstd, name, "save_rstd"), bool(training), dx, dw, db)
    return dx, dw, db

# ---------------------------------------------------------------- GEMM

def _gemm_operand(x, op, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    x = _C.native(x)  # byte-swapped or unaligned: a native copy
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: {name} has dtype {x.dtype}; fastnn computes in float32 or float64")
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: {name} must be 2-D or 3-D, got {x.ndim}-D with shape {x.shape}")
    return x


# alpha * op(a) @ op(b) + beta * out: the typed binding itself (see its
# docstring), as a wrapper's extra call cost a quarter of a microsecond
matmul = _C.matmul


_LINEAR_ACTS = {None: _C.ACT_NONE, "relu": _RELU, "leaky_relu": _LEAKY_RELU, "sigmoid": _SIGMOID, "tanh": _TANH,
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
    weight = _C.native(weight)
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
        bias = _C.native(bias)
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

# ---------------------------------------------------------------- convolution and pooling

def _pair(v, op, name, minimum):
    """An int or a pair of ints as (h, w), each >= minimum, or a clear error."""
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(vals) != 2 or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in vals):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    vals = tuple(int(a) for a in vals)
    if min(vals) < minimum:
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {what}, got {v!r}")
    return vals


def _nchw(x, op, name="x"):
    x = _C.as_float_array(x, op, name)
    if x.ndim != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W), got shape {x.shape}")
    return x


def _conv_check(x, weight, stride, padding, dilation, groups, op):
    x = _nchw(x, op)
    weight = _C.as_float_array(weight, op, "weight")
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (K, C/groups, R, S), got shape {weight.shape}")
    if weight.dtype != x.dtype:
        raise TypeError(f"{op}: x is {x.dtype} but weight is {weight.dtype}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{op}: groups must be an int, got {type(groups).__name__}")
    groups = int(groups)
    stride = _pair(stride, op, "stride", 1)
    padding = _pair(padding, op, "padding", 0)
    dilation = _pair(dilation, op, "dilation", 1)
    n, c, h, w = x.shape
    k, cg, r, s = weight.shape
    if groups < 1:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    if c % groups or k % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels C={c} and the filters K={k} "
                         f"(x {x.shape}, weight {weight.shape})")
    if cg != c // groups:
        raise ValueError(f"{op}: channel mismatch: x has shape {x.shape} ({c} channels, groups={groups}) but "
                         f"weight has shape {weight.shape}; expected weight.shape[1] == {c // groups}")
    if min(weight.shape) < 1 or min(x.shape[1:]) < 1:
        raise ValueError(f"{op}: empty x {x.shape} or weight {weight.shape}")
    er, es = dilation[0] * (r - 1) + 1, dilation[1] * (s - 1) + 1
    if h + 2 * padding[0] < er or w + 2 * padding[1] < es:
        raise ValueError(f"{op}: kernel {r}x{s} (dilated {er}x{es}) is larger than the padded input "
                         f"{h + 2 * padding[0]}x{w + 2 * padding[1]} (x {x.shape}, padding {padding})")
    p = (h + 2 * padding[0] - er) // stride[0] + 1
    q = (w + 2 * padding[1] - es) // stride[1] + 1
    return x, weight, stride, padding, dilation, groups, (n, k, p, q)


def conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch's) of x (N, C, H, W) with
    weight (K, C/groups, R, S) plus bias (K,): -> (N, K, P, Q).  stride,
    padding and dilation are ints or (h, w) pairs; groups divides C and K
    (groups == C is depthwise)."""
    op = "conv2d"
    x, weight, stride, padding, dilation, groups, shape = _conv_check(x, weight, stride, padding, dilation,
                                                                      groups, op)
    if bias is not None:
        bias = _C.as_float_array(bias, op, "bias")
        if bias.dtype != x.dtype:
            raise TypeError(f"{op}: x is {x.dtype} but bias is {bias.dtype}")
        if bias.shape != (shape[1],):
            raise ValueError(f"{op}: bias has shape {bias.shape}; expected ({shape[1]},) for weight {weight.shape}")
    y = np.empty(shape, x.dtype)
    if y.size:
        _C.conv2d_forward(x, weight, bias, y, stride, padding, dilation, groups)
    return y


def conv2d_backward(grad_out, x, weight, *, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    """-> (grad_x | None, grad_weight | None, grad_bias | None) of conv2d from
    the upstream gradient (N, K, P, Q) and the forward's x and weight; each
    is computed only when asked."""
    op = "conv2d_backward"
    x, weight, stride, padding, dilation, groups, shape = _conv_check(x, weight, stride, padding, dilation,
                                                                      groups, op)
    g = _nchw(grad_out, op, "grad_out")
    if g.dtype != x.dtype:
        raise TypeError(f"{op}: grad_out is {g.dtype} but x is {x.dtype}")
    if g.shape != shape:
        raise ValueError(f"{op}: grad_out has shape {g.shape}; the forward of x {x.shape} and weight "
                         f"{weight.shape} gives {shape}")
    gx = np.empty_like(x) if need_input else None
    gw = np.empty_like(weight) if need_weight else None
    gb = np.empty(shape[1], x.dtype) if need_bias else None
    if x.shape[0] == 0:
        for a in (gx, gw, gb):
            if a is not None:
                a.fill(0)
    elif gx is not None or gw is not None or gb is not None:
        _C.conv2d_backward(g, x, weight, gx, gw, gb, stride, padding, dilation, groups)
    return gx, gw, gb


def _pool_check(x, kernel_size, stride, padding, op):
    x = _nchw(x, op)
    k = _pair(kernel_size, op, "kernel_size", 1)
    s = k if stride is None else _pair(stride, op, "stride", 1)
    p = _pair(padding, op, "padding", 0)
    if 2 * p[0] > k[0] or 2 * p[1] > k[1]:
        raise ValueError(f"{op}: padding {p} must be at most half of kernel_size {k}")
    n, c, h, w = x.shape
    if min(h, w) < 1 or h + 2 * p[0] < k[0] or w + 2 * p[1] < k[1]:
        raise ValueError(f"{op}: kernel_size {k} is larger than the padded input "
                         f"{h + 2 * p[0]}x{w + 2 * p[1]} (x {x.shape})")
    shape = (n, c, (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
    return x, k, s, p, shape


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling of x (N, C, H, W) -> (y, argmax); stride defaults to
    kernel_size; padding (at most half the kernel) never wins; NaN
    propagates.  argmax is opaque: hand it to max_pool2d_backward."""
    op = "max_pool2d"
    x, k, s, p, shape = _pool_check(x, kernel_size, stride, padding, op)
    y = np.empty(shape, x.dtype)
    argmax = np.empty(shape, np.int32)
    if y.size:
        _C.max_pool2d_forward(x, y, argmax, k, s, p)
    return y, argmax


def max_pool2d_backward(grad_out, argmax, x_shape):
    """Gradient w.r.t. the input of shape x_shape: grad_out added at argmax."""
    op = "max_pool2d_backward"
    g = _nchw(grad_out, op, "grad_out")
    if not isinstance(argmax, np.ndarray) or argmax.dtype.newbyteorder("=") != np.int32:
        raise TypeError(f"{op}: argmax must be the int32 array returned by max_pool2d")
    argmax = np.require(argmax, np.int32, ["C", "A"])  # native, aligned, contiguous
    if argmax.shape != g.shape:
        raise ValueError(f"{op}: grad_out has shape {g.shape} but argmax has shape {argmax.shape}")
    x_shape = tuple(int(d) for d in x_shape)
    if len(x_shape) != 4 or x_shape[:2] != g.shape[:2] or min(x_shape[2:]) < 1:
        raise ValueError(f"{op}: x_shape {x_shape} does not match grad_out {g.shape}")
    gx = np.empty(x_shape, g.dtype)
    if g.size:
        _C.max_pool2d_backward(g, argmax, gx)
    else:
        gx.fill(0)
    return gx


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling of x (N, C, H, W); padding counts as zeros (PyTorch's
    count_include_pad=True).  kernel_size == (H, W) is global average pooling."""
    op = "avg_pool2d"
    x, k, s, p, shape = _pool_check(x, kernel_size, stride, padding, op)
    y = np.empty(shape, x.dtype)
    if y.size:
        _C.avg_pool2d_forward(x, y, k, s, p)
    return y


def avg_pool2d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0):
    op = "avg_pool2d_backward"
    g = _nchw(grad_out, op, "grad_out")
    x_shape = tuple(int(d) for d in x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"{op}: x_shape must have 4 dims, got {x_shape}")
    _, k, s, p, shape = _pool_check(np.empty(x_shape, g.dtype), kernel_size, stride, padding, op)
    if g.shape != shape:
        raise ValueError(f"{op}: grad_out has shape {g.shape}; avg_pool2d of {x_shape} gives {shape}")
    gx = np.empty(x_shape, g.dtype)
    if g.size:
        _C.avg_pool2d_backward(g, gx, k, s, p)
    else:
        gx.fill(0)
    return gx

# ---------------------------------------------------------------- attention

def _attn_args(q, k, v, name):
    q = _C.as_float_array(q, name, "q")
    k = _C.as_float_array(k, name, "k")
    v = _C.as_float_array(v, name, "v")
    for a, what in ((q, "q"), (k, "k"), (v, "v")):
        if a.ndim != 4:
            raise ValueError(f"{name}: {what} must be 4-D (batch, heads, seq, head_dim), got shape {a.shape}")
    if k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError(f"{name}: q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if k.shape != v.shape:
        raise ValueError(f"{name}: k has shape {k.shape} but v has shape {v.shape}")
    if q.shape[:2] != k.shape[:2] or q.shape[3] != k.shape[3]:
        raise ValueError(f"{name}: q has shape {q.shape} but k has shape {k.shape}; batch, heads and head_dim "
                         f"must agree")
    if q.shape[2] > 0 and k.shape[2] == 0:
        raise ValueError(f"{name}: no keys (k has shape {k.shape})")
    return q, k, v


def _attn_scale(scale, d, name):
    if scale is None:
        return 1.0 / np.sqrt(d) if d else 1.0
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: scale must be a real number, got {type(scale).__name__}")
    return float(scale)


def _additive_mask(m, dtype, hide, name, what):
    """m as the kernel reads it: an additive C-contiguous array of dtype.  A
    boolean m becomes -inf where it equals `hide` (True for torch's
    key_padding_mask and MultiheadAttention's attn_mask, False for
    scaled_dot_product_attention's, where True means "attend")."""
    m = np.asarray(m)
    if m.dtype == np.bool_:
        out = np.zeros(m.shape, dtype)
        out[m if hide else ~m] = -np.inf
        return out
    if m.dtype.kind != "f":
        raise TypeError(f"{name}: {what} must be boolean or floating point, got dtype {m.dtype}")
    return np.ascontiguousarray(m, dtype=dtype)


def attention_masks(attn_mask, key_padding_mask, shape, sk, dtype, name, *, hide=False):
    """(mask, key_mask) for the kernel from torch-shaped masks, for queries of
    shape (B, H, Sq, D) and Sk keys: attn_mask (Sq, Sk), (B*H, Sq, Sk) or
    broadcastable to (B, H, Sq, Sk) -> (Sq, Sk) or (B*H, Sq, Sk);
    key_padding_mask (B, Sk) -> (B, Sk).  Booleans hide where they equal
    `hide` (attn_mask) or True (key_padding_mask)."""
    b, h, sq, _ = shape
    mask = key = None
    if attn_mask is not None:
        m = np.asarray(attn_mask)
        if m.ndim < 2 or m.ndim > 4 or m.shape[-2:] != (sq, sk) or (m.ndim == 3 and m.shape[0] != b * h) or \
                (m.ndim == 4 and any(a not in (1, w) for a, w in zip(m.shape[:2], (b, h)))):
            raise ValueError(f"{name}: attn_mask has shape {m.shape}; expected ({sq}, {sk}), ({b * h}, {sq}, {sk}) "
                             f"or one broadcastable to ({b}, {h}, {sq}, {sk})")
        if m.ndim == 4:
            m = m[0, 0] if m.shape[:2] == (1, 1) else np.broadcast_to(m, (b, h, sq, sk)).reshape(b * h, sq, sk)
        mask = _additive_mask(m, dtype, hide, name, "attn_mask")
    if key_padding_mask is not None:
        m = np.asarray(key_padding_mask)
        if m.shape != (b, sk):
            raise ValueError(f"{name}: key_padding_mask has shape {m.shape}; expected ({b}, {sk})")
        key = _additive_mask(m, dtype, True, name, "key_padding_mask")
    return mask, key


def attention_forward_lse(q, k, v, *, causal=False, scale=None, attn_mask=None, key_padding_mask=None):
    """scaled_dot_product_attention that also returns the log-sum-exp of each
    scaled score row (B, H, Sq), which the backward uses (see
    attention_backward_lse)."""
    name = "scaled_dot_product_attention"
    q, k, v = _attn_args(q, k, v, name)
    b, h, sq, d = q.shape
    sk = k.shape[2]
    mask, key = attention_masks(attn_mask, key_padding_mask, q.shape, sk, q.dtype, name)
    out = np.empty_like(q)
    lse = np.empty((b, h, sq), q.dtype)
    _C.attention_forward(q, k, v, _attn_scale(scale, d, name), bool(causal), out, lse, mask, key)
    return out, lse


def attention_backward_lse(grad_out, q, k, v, out, lse, *, causal=False, scale=None, attn_mask=None,
                           key_padding_mask=None):
    """-> (grad_q, grad_k, grad_v) from the forward's out and lse."""
    name = "scaled_dot_product_attention_backward"
    q, k, v = _attn_args(q, k, v, name)
    g = _C.as_float_array(grad_out, name, "grad_out")
    _C.same_shape(g, q, name, "grad_out", "q")
    out = _C.as_float_array(out, name, "out")
    lse = _C.as_float_array(lse, name, "lse")
    mask, key = attention_masks(attn_mask, key_padding_mask, q.shape, k.shape[2], q.dtype, name)
    d = q.shape[3]
    dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    _C.attention_backward(q, k, v, out, g, lse, _attn_scale(scale, d, name), bool(causal), dq, dk, dv, mask, key)
    return dq, dk, dv


def scaled_dot_product_attention(q, k, v, *, causal=False, scale=None, attn_mask=None, key_padding_mask=None):
    """softmax(scale q k^T + masks) v, q (B, H, Sq, D), k and v (B, H, Sk, D);
    scale defaults to 1/sqrt(D); causal hides key j from query i when j > i
    (top-left aligned, as PyTorch's is_causal).  attn_mask: additive float,
    or boolean with True = attend (torch's scaled_dot_product_attention), of
    shape (Sq, Sk), (B*H, Sq, Sk) or broadcastable to (B, H, Sq, Sk);
    key_padding_mask (B, Sk): additive float, or boolean with True = hidden.
    Computed block by block with an online softmax, the masks read tile by
    tile (a float mask of q's dtype in place, others converted once): memory
    grows with the sequence length, never with its square.  A
    query whose keys are all hidden gets zeros (as torch's fused kernels)."""
    return attention_forward_lse(q, k, v, causal=causal, scale=scale, attn_mask=attn_mask,
                                 key_padding_mask=key_padding_mask)[0]


def scaled_dot_product_attention_backward(grad_out, q, k, v, *, causal=False, scale=None, attn_mask=None,
                                          key_padding_mask=None):
    """-> (grad_q, grad_k, grad_v).  This functional form recomputes the
    forward (for its log-sum-exp); nn.MultiheadAttention keeps it instead."""
    kw = dict(causal=causal, scale=scale, attn_mask=attn_mask, key_padding_mask=key_padding_mask)
    out, lse = attention_forward_lse(q, k, v, **kw)
    return attention_backward_lse(grad_out, q, k, v, out, lse, **kw)


# ---------------------------------------------------------------- recurrent cells

def _cell_arrays(name, **arrays):
    out = {}
    dtype = None
    for what, a in arrays.items():
        if a is None:
            out[what] = None
            continue
        a = _C.as_float_array(a, name, what)
        if dtype is None:
            dtype = a.dtype
        elif a.dtype != dtype:
            raise TypeError(f"{name}: {what} is {a.dtype} but the other arrays are {dtype}")
        out[what] = a
    return out


def _cell_shape(name, what, a, shape):
    if a is not None and a.shape != shape:
        raise ValueError(f"{name}: {what} has shape {a.shape}, expected {shape}")


def rnn_tanh_cell(pre):
    """h = tanh(pre), pre (N, H) the summed pre-activation x W_ih^T + b_ih + h W_hh^T + b_hh."""
    a = _cell_arrays("rnn_tanh_cell", pre=pre)
    pre = a["pre"]
    if pre.ndim != 2:
        raise ValueError(f"rnn_tanh_cell: pre must be 2-D (batch, hidden), got shape {pre.shape}")
    h = np.empty_like(pre)
    _C.rnn_tanh_cell_forward(pre, h)
    return h


def rnn_tanh_cell_backward(grad_h, h):
    """grad of the pre-activation: grad_h (1 - h^2)."""
    a = _cell_arrays("rnn_tanh_cell_backward", grad_h=grad_h, h=h)
    _C.same_shape(a["grad_h"], a["h"], "rnn_tanh_cell_backward", "grad_h", "h")
    d = np.empty_like(a["h"])
    _C.rnn_tanh_cell_backward(a["grad_h"], a["h"], d)
    return d


def lstm_cell(gates, c_prev=None):
    """Fused LSTM cell: gates (N, 4H) pre-activations (i, f, g, o, biases
    included) and c_prev (N, H) or None -> (h, c, act) with act the activated
    gates (N, 4H) that lstm_cell_backward takes."""
    name = "lstm_cell"
    a = _cell_arrays(name, gates=gates, c_prev=c_prev)
    g = a["gates"]
    if g.ndim != 2 or g.shape[1] % 4:
        raise ValueError(f"{name}: gates must be (batch, 4*hidden), got shape {g.shape}")
    n, hid = g.shape[0], g.shape[1] // 4
    _cell_shape(name, "c_prev", a["c_prev"], (n, hid))
    act = g.copy()
    c = np.empty((n, hid), g.dtype)
    h = np.empty((n, hid), g.dtype)
    _C.lstm_cell_forward(act, a["c_prev"], c, h)
    return h, c, act


def lstm_cell_backward(grad_h, grad_c, act, c_prev, c):
    """-> (grad_gates (N, 4H) of the pre-activations, grad_c_prev (N, H));
    grad_c and c_prev may be None (zeros)."""
    name = "lstm_cell_backward"
    a = _cell_arrays(name, grad_h=grad_h, grad_c=grad_c, act=act, c_prev=c_prev, c=c)
    c = a["c"]
    n, hid = c.shape
    for what in ("grad_h", "grad_c", "c_prev"):
        _cell_shape(name, what, a[what], (n, hid))
    _cell_shape(name, "act", a["act"], (n, 4 * hid))
    dg = np.empty((n, 4 * hid), c.dtype)
    dcp = np.empty((n, hid), c.dtype)
    _C.lstm_cell_backward(a["act"], a["c_prev"], c, a["grad_h"], a["grad_c"], dg, dcp)
    return dg, dcp


def gru_cell(gx, gh, h_prev=None):
    """Fused GRU cell: gx = x W_ih^T + b_ih and gh = h W_hh^T + b_hh (N, 3H,
    r z n) -> (h, saved) with saved (N, 4H) for gru_cell_backward."""
    name = "gru_cell"
    a = _cell_arrays(name, gx=gx, gh=gh, h_prev=h_prev)
    gx = a["gx"]
    if gx.ndim != 2 or gx.shape[1] % 3:
        raise ValueError(f"{name}: gx must be (batch, 3*hidden), got shape {gx.shape}")
    n, hid = gx.shape[0], gx.shape[1] // 3
    _cell_shape(name, "gh", a["gh"], gx.shape)
    _cell_shape(name, "h_prev", a["h_prev"], (n, hid))
    saved = np.empty((n, 4 * hid), gx.dtype)
    h = np.empty((n, hid), gx.dtype)
    _C.gru_cell_forward(gx, a["gh"], a["h_prev"], saved, h)
    return h, saved


def gru_cell_backward(grad_h, saved, h_prev=None):
    """-> (grad_gx, grad_gh, grad_h_prev_direct): the gradients of both
    pre-activation sums and the direct part grad_h * z of grad_h_prev (add
    grad_gh @ W_hh for the whole)."""
    name = "gru_cell_backward"
    a = _cell_arrays(name, grad_h=grad_h, saved=saved, h_prev=h_prev)
    g = a["grad_h"]
    n, hid = g.shape
    _cell_shape(name, "saved", a["saved"], (n, 4 * hid))
    _cell_shape(name, "h_prev", a["h_prev"], (n, hid))
    dgx = np.empty((n, 3 * hid), g.dtype)
    dgh = np.empty((n, 3 * hid), g.dtype)
    dhp = np.empty((n, hid), g.dtype)
    _C.gru_cell_backward(a["saved"], a["h_prev"], g, dgx, dgh, dhp)
    return dgx, dgh, dhp


# ---------------------------------------------------------------- embedding

def embedding_indices(indices, num, name):
    """indices as C-contiguous int64, or TypeError / IndexError naming the problem."""
    if not isinstance(indices, np.ndarray):
        indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {indices.dtype}")
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= num:
            raise IndexError(f"{name}: indices in [{lo}, {hi}] are out of range for {num} embeddings "
                             f"(valid: 0 to {num - 1})")
    return np.require(indices, np.int64, ["C", "A"])  # native, aligned, contiguous


def embedding(indices, weight):
    """weight[indices]: weight (num, dim), any integer indices -> indices.shape + (dim,)."""
    w = _C.as_float_array(weight, "embedding", "weight")
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape {w.shape}")
    idx = embedding_indices(indices, w.shape[0], "embedding")
    out = np.empty(idx.shape + (w.shape[1],), w.dtype)
    _C.embedding_forward(idx.reshape(-1), w, out.reshape(-1, w.shape[1]) if out.size else out)
    return out


def embedding_backward(grad_out, indices, num_embeddings, *, padding_idx=None):
    """The weight gradient (num_embeddings, dim): rows of grad_out summed by
    index (padding_idx's row stays zero)."""
    g = _C.as_float_array(grad_out, "embedding_backward", "grad_out")
    idx = embedding_indices(indices, num_embeddings, "embedding_backward")
    if g.shape[:-1] != idx.shape:
        raise ValueError(f"embedding_backward: grad_out has shape {g.shape} but indices have shape {idx.shape}")
    gw = np.zeros((num_embeddings, g.shape[-1]), g.dtype)
    _C.embedding_backward(idx.reshape(-1), g.reshape(-1, g.shape[-1]), -1 if padding_idx is None else int(padding_idx),
                          gw)
    return gw
