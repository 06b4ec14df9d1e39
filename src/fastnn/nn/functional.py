"""fastnn.nn.functional: the layers as functions on Tensors (or ndarrays),
each one graph node over a fused C kernel.

Every function takes Tensors or ndarrays and returns a Tensor.  When grad
mode is on and an input requires a grad, it records one node whose backward
computes only the gradients that are needed (no input-gradient GEMM for a
data batch) and writes a leaf weight's gradient straight into its `.grad`
(beta=0 into a fresh one after `zero_grad()`, beta=1 onto an existing one).
Outputs are fresh arrays: a later call never overwrites them.
"""
import numpy as np

from .. import _C, ops
from .._random import generator
from ..autograd import DONE, Node, Tensor, needs_grad, record, wrap

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "relu", "leaky_relu", "gelu", "sigmoid", "tanh",
           "softmax", "log_softmax", "cross_entropy", "mse_loss", "binary_cross_entropy_with_logits",
           "layer_norm", "batch_norm", "dropout", "embedding", "scaled_dot_product_attention"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)

_RELU, _LEAKY_RELU, _SIGMOID, _TANH = _C.ACT_RELU, _C.ACT_LEAKY_RELU, _C.ACT_SIGMOID, _C.ACT_TANH
_GELU, _GELU_TANH, _SILU = _C.ACT_GELU, _C.ACT_GELU_TANH, _C.ACT_SILU
_SOFTMAX, _LOG_SOFTMAX = _C.ROW_SOFTMAX, _C.ROW_LOG_SOFTMAX


# ---------------------------------------------------------------- helpers

def _in(x, op, name="input", dtype=None):
    """The array of x (a Tensor or an ndarray): float32/float64, native byte
    order, aligned and C-contiguous (copied only when it is not)."""
    a = x.data if isinstance(x, Tensor) else x
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {name} must be a fastnn.Tensor or a numpy.ndarray, got {type(x).__name__}")
    dt = a.dtype
    if dt not in _FLOATS:
        if dt.kind == "f" and dt.newbyteorder("=") in _FLOATS:
            dt = dt.newbyteorder("=")
        else:
            raise TypeError(f"{op}: {name} has dtype {a.dtype}; fastnn computes in float32 or float64")
    if dtype is not None and dt != dtype:
        raise TypeError(f"{op}: {name} has dtype {dt} but the weights are {np.dtype(dtype)}")
    f = a.flags
    if not (f.c_contiguous and f.aligned) or a.dtype != dt:
        a = np.require(a, dt, ("C", "A"))
    return a


def _w(p):
    """The array of a parameter (a Tensor or an ndarray), or None."""
    if p is None:
        return None
    a = p.data if isinstance(p, Tensor) else p
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected a Tensor or an ndarray weight, got {type(p).__name__}")
    f = a.flags
    if not (f.c_contiguous and f.aligned and a.dtype.isnative):
        a = np.require(a, a.dtype.newbyteorder("="), ("C", "A"))
    return a


def _t(x):
    return x if isinstance(x, Tensor) else None


def _rg(x):
    return isinstance(x, Tensor) and x.requires_grad


def _param_grad(p, g):
    """The gradient of parameter p from g (an array owned by the caller):
    written into a leaf, or returned for the graph to route."""
    if g is None:
        return None
    if p.grad_fn is None:
        if p.grad is None:
            p.grad = g
        else:
            p.grad += g
        return DONE
    return g


def _contig(g):
    return g if g.flags.c_contiguous else np.ascontiguousarray(g)


# ---------------------------------------------------------------- linear

def _writable_grad(p):
    """Whether p.grad can take a GEMM's output in place (beta=1)."""
    g = p.grad
    return (g.__class__ is np.ndarray and g.dtype == p.data.dtype and g.shape == p.data.shape
            and g.flags.c_contiguous and g.flags.aligned and g.flags.writeable)


def _column_sums_into(p, g2):
    """The bias gradient g2.sum(axis=0), in C (threaded over column blocks,
    each column's rows added in order: NumPy's bits at any thread count),
    written into a leaf's .grad (a fresh array, or added onto an existing
    one in place), else returned for the graph to route."""
    if p.grad_fn is None:
        if p.grad is None:
            p.grad = _C.sum_rows(g2)
        elif _writable_grad(p):
            _C.sum_rows(g2, p.grad, 1.0)
        else:
            p.grad += _C.sum_rows(g2)
        return DONE
    return _C.sum_rows(g2)

_ACT_NONE = _C.ACT_NONE
_LINEAR_ACTS = {None: _ACT_NONE, "relu": _RELU, "tanh": _TANH, "sigmoid": _SIGMOID}


class LinearBackward(Node):
    __slots__ = ("x2", "w", "weight", "bias", "y2", "act", "need_x", "xshape", "dx_mul")
    name = "LinearBackward"

    def backward(self, g):
        out = self.w.shape[0]
        g2 = _contig(g).reshape(-1, out)
        if self.act != _ACT_NONE:
            g2 = _C.act_backward(self.act, g2, self.y2, None, 0.0)
        x2 = self.x2
        dx = None
        if self.need_x:
            dx = np.empty(x2.shape, x2.dtype)
            if not g2.shape[0]:
                dx.fill(0)
            elif self.dx_mul is not None:
                _C.matmul_mul(g2, self.w, self.dx_mul, dx)
            else:
                _C.matmul(g2, self.w, dx)
            dx = dx.reshape(self.xshape)
        dw = db = None
        weight = self.weight
        if weight is not None and weight.requires_grad:
            if weight.grad_fn is None:
                gw = weight.grad
                if gw is None:
                    gw = np.empty(self.w.shape, self.w.dtype)
                    if g2.shape[0]:
                        _C.matmul(g2, x2, gw, trans_a=True)
                    else:
                        gw.fill(0)
                    weight.grad = gw
                elif g2.shape[0] and _writable_grad(weight):
                    _C.matmul(g2, x2, gw, trans_a=True, beta=1.0)
                elif g2.shape[0]:
                    weight.grad += _C.matmul(g2, x2, trans_a=True)
                dw = DONE
            else:
                dw = _C.matmul(g2, x2, trans_a=True)
        bias = self.bias
        if bias is not None and bias.requires_grad:
            db = _column_sums_into(bias, g2)
        return dx, dw, db

    def release(self):
        self.x2 = self.w = self.y2 = self.dx_mul = None


class ActLinearBackward(LinearBackward):
    """linear(act(z)) as one node, whose input is z: its input gradient
    (g W) is multiplied by act'(z), which the forward saved (dx_mul), in the
    GEMM's epilogue, where an activation node would make a pass of its own;
    the same bits."""
    __slots__ = ()
    name = "ActLinearBackward"


def _linear_operands(input, weight, bias):
    """weight, input and bias as arrays, checked against each other."""
    w = _w(weight)
    x = _in(input, "linear", "input", w.dtype)
    b = _w(bias)
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: expected input with last dimension {w.shape[1]} (weight {w.shape}), "
                         f"got shape {x.shape}")
    if b is not None and (b.shape != (w.shape[0],) or b.dtype != w.dtype):
        raise ValueError(f"linear: bias has shape {b.shape} and dtype {b.dtype}; expected ({w.shape[0]},) "
                         f"and {w.dtype} for weight {w.shape}")
    return w, x, b


def _linear_node(node, input, weight, bias, x2, w, xshape, y):
    """Records a linear layer's node (its act, y2 and dx_mul already set)."""
    node.x2, node.w = x2, w
    node.weight = weight if isinstance(weight, Tensor) else None
    node.bias = bias if isinstance(bias, Tensor) else None
    node.need_x, node.xshape = _rg(input), xshape
    return record(node, (_t(input), node.weight, node.bias), y)


def linear(input, weight, bias=None, activation=None):
    """input @ weight.T + bias, weight (out_features, in_features), input
    (..., in_features).  activation "relu", "tanh" or "sigmoid" is applied
    in the GEMM's epilogue (and its backward beside the weight GEMM)."""
    w, x, b = _linear_operands(input, weight, bias)
    act = _LINEAR_ACTS.get(activation)
    if act is None:
        raise ValueError(f"linear: unknown activation {activation!r}; choose one of {list(_LINEAR_ACTS)}")
    n = w.shape[0]
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    y2 = _C.linear(x2, w, b, None, act, 0.0)
    y = y2.reshape(x.shape[:-1] + (n,)) if x.ndim != 2 else y2
    if not needs_grad(input, weight, bias):
        return wrap(y)
    node = LinearBackward()
    node.act, node.y2, node.dx_mul = act, (y2 if act != _ACT_NONE else None), None
    return _linear_node(node, input, weight, bias, x2, w, x.shape, y)


def _gelu_linear(input, weight, bias=None):
    """linear(gelu(input), weight, bias) as one node (ActLinearBackward) for
    layers whose activation output no one else sees (the feed-forward block
    of the Transformer layers): the same values and gradients, bit for bit,
    with GELU's derivative applied in the input gradient's GEMM."""
    if not (needs_grad(input) and _rg(input)):
        return linear(gelu(input), weight, bias)
    w, z, b = _linear_operands(input, weight, bias)
    a2, d2 = _C.act_forward_grad(_GELU, np.ascontiguousarray(z.reshape(-1, z.shape[-1])), None, None, 0.0)
    y = _C.linear(a2, w, b, None, _ACT_NONE, 0.0).reshape(z.shape[:-1] + (w.shape[0],))
    node = ActLinearBackward()
    node.act, node.y2, node.dx_mul = _ACT_NONE, None, d2
    return _linear_node(node, input, weight, bias, a2, w, z.shape, y)


# ---------------------------------------------------------------- activations

_ACT_NODE_NAMES = {_C.ACT_RELU: "ReluBackward", _C.ACT_LEAKY_RELU: "LeakyReluBackward",
                   _C.ACT_SIGMOID: "SigmoidBackward", _C.ACT_TANH: "TanhBackward", _C.ACT_GELU: "GeluBackward",
                   _C.ACT_GELU_TANH: "GeluBackward", _C.ACT_SILU: "SiluBackward", _C.ACT_ELU: "EluBackward"}


class ActBackward(Node):
    """The backward from what the forward saved: x or y (op's own backward
    kernel), or, for the ops of _DERIVATIVE_IN_FORWARD, the derivative
    itself (a product)."""
    __slots__ = ("op", "saved", "alpha")

    @property
    def name(self):
        return _ACT_NODE_NAMES[self.op]

    def backward(self, g):
        if self.op in _DERIVATIVE_IN_FORWARD:
            return (_C.mul(_contig(g), self.saved),)
        return (_C.act_backward(self.op, _contig(g), self.saved, None, self.alpha),)

    def release(self):
        self.saved = None


# Ops whose derivative shares the forward's transcendentals: with a graph,
# the forward also writes f'(x) (for little more than f(x) costs) and the
# backward is one product, in place of recomputing them from x.
_DERIVATIVE_IN_FORWARD = frozenset((_GELU, _GELU_TANH, _SILU))


def _act(op, x, alpha, save_output, name):
    a = _in(x, name)
    if not needs_grad(x):
        return wrap(_C.act_forward(op, a, None, alpha))
    node = ActBackward()
    node.op, node.alpha = op, alpha
    if op in _DERIVATIVE_IN_FORWARD:
        y, node.saved = _C.act_forward_grad(op, a, None, None, alpha)
    else:
        y = _C.act_forward(op, a, None, alpha)
        node.saved = y if save_output else a
    return record(node, (x,), y)


def relu(input):
    """max(x, 0)."""
    return _act(_RELU, input, 0.0, False, "relu")


def leaky_relu(input, negative_slope=0.01):
    return _act(_LEAKY_RELU, input, float(negative_slope), False, "leaky_relu")


def sigmoid(input):
    return _act(_SIGMOID, input, 0.0, True, "sigmoid")


def tanh(input):
    return _act(_TANH, input, 0.0, True, "tanh")


def gelu(input, approximate="none"):
    """GELU: the exact erf form, or approximate="tanh"."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act(_GELU if approximate == "none" else _GELU_TANH, input, 0.0, False, "gelu")


class RowBackward(Node):
    __slots__ = ("op", "y", "axis")

    @property
    def name(self):
        return "SoftmaxBackward" if self.op == _SOFTMAX else "LogSoftmaxBackward"

    def backward(self, g):
        y = self.y
        if self.axis == y.ndim - 1:
            g = _contig(g)
            dx = np.empty_like(g)
            _C.row_backward(self.op, g, y, dx, y.shape[-1])
            return (dx,)
        if self.op == _SOFTMAX:
            return (ops.softmax_backward(g, y, axis=self.axis),)
        return (ops.log_softmax_backward(g, y, axis=self.axis),)

    def release(self):
        self.y = None


def _row(op, x, dim, name):
    a = _in(x, name)
    nd = a.ndim
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise ValueError(f"{name}: dim {dim} is out of range for an input of shape {a.shape}")
    axis = dim % max(nd, 1)
    if nd and axis == nd - 1 and a.size:
        y = np.empty_like(a)
        _C.row_forward(op, a, y, a.shape[-1])
    elif op == _SOFTMAX:
        y = ops.softmax(a, axis=axis)
    else:
        y = ops.log_softmax(a, axis=axis)
    if not needs_grad(x):
        return wrap(y)
    node = RowBackward()
    node.op, node.y, node.axis = op, y, axis
    return record(node, (x,), y)


def softmax(input, dim=-1):
    return _row(_SOFTMAX, input, -1 if dim is None else dim, "softmax")


def log_softmax(input, dim=-1):
    return _row(_LOG_SOFTMAX, input, -1 if dim is None else dim, "log_softmax")


# ---------------------------------------------------------------- losses

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


class LossBackward(Node):
    """The gradient of a fused loss, computed in its forward: scaled by the
    incoming gradient (a scalar, or one value per row for reduction='none')."""
    __slots__ = ("grad", "per_row", "name")

    def backward(self, g):
        if self.per_row:
            shape = (-1,) + (1,) * (self.grad.ndim - 1)
            return (self.grad * g.reshape(shape),)
        s = g.item() if g.ndim else g[()]
        if s == 1:
            return (self.grad,)
        return (self.grad * self.grad.dtype.type(s),)

    def release(self):
        self.grad = None


def _loss_out(x, value, grad, reduction, name, keep=None):
    """The loss Tensor: a 0-d array of x's dtype (or per-element values for 'none')."""
    if reduction == "none":
        out = np.asarray(value, x.dtype)
    else:
        out = np.array(value, x.dtype)
    if not needs_grad(keep):
        return wrap(out)
    node = LossBackward()
    node.grad, node.per_row, node.name = grad, reduction == "none", name
    return record(node, (keep,), out)


def cross_entropy(input, target, reduction="mean", *, weight=None, ignore_index=-100, label_smoothing=0.0):
    """Fused log-softmax + negative log-likelihood of logits (N, C) (its
    gradient is computed in the same pass); target class indices (N,) of any
    integer dtype, or class probabilities (N, C).  Class weights, targets
    equal to ignore_index, label smoothing, and inputs (C,) or
    (N, C, d1, ...) take a NumPy path with torch's semantics."""
    name = "cross_entropy"
    _reduction(reduction, name)
    if _ce_needs_options(input, target, weight, ignore_index, label_smoothing):
        return _functional_extra.cross_entropy_options(input, target, weight, ignore_index, reduction,
                                                       label_smoothing)
    x = _in(input, name)
    if x.ndim != 2:
        raise ValueError(f"{name}: input must be 2-D (N, C), got shape {x.shape}")
    rows, classes = x.shape
    t = target.data if isinstance(target, Tensor) else target
    grad = np.empty_like(x)
    row_loss = np.empty(rows, np.float64)
    if ops.is_class_index_target(t):
        try:
            # an int64 (rows,) target goes to C as it is: C checks the range
            # (and the layout) before it writes anything, so the checks of
            # class_indices (two reductions and a copy) run only to explain
            # a failure
            ti = t if t.dtype is _INT64 and t.shape == (rows,) else ops.class_indices(t, rows, classes, name)
            loss = _C.cross_entropy_index(x, ti, grad, reduction, row_loss)
        except (ValueError, TypeError):
            if np.shape(t) == (rows,) and np.any(t == ignore_index):  # targets torch ignores
                return _functional_extra.cross_entropy_options(input, target, None, ignore_index, reduction, 0.0)
            ti = ops.class_indices(t, rows, classes, name)  # raises, naming the bad range
            loss = _C.cross_entropy_index(x, ti, grad, reduction, row_loss)  # a layout C could not read
    elif isinstance(t, np.ndarray) and t.dtype.kind == "f":
        if t.shape != x.shape:
            raise ValueError(f"{name}: probability target has shape {t.shape} but input has shape {x.shape}; "
                             f"class-index targets must be an integer array of shape ({rows},)")
        tp = np.require(t, x.dtype, ("C", "A"))
        loss = _C.cross_entropy_prob(x, tp, grad, reduction, row_loss)
    else:
        what = type(t).__name__ if not isinstance(t, np.ndarray) else f"dtype {t.dtype}"
        raise TypeError(f"{name}: target must be integer class indices or float probabilities, got {what}")
    value = row_loss if reduction == "none" else loss
    return _loss_out(x, value, grad, reduction, "CrossEntropyBackward", _t(input))


def _pred_target(input, target, name):
    x = _in(input, name)
    t = target.data if isinstance(target, Tensor) else target
    if not isinstance(t, np.ndarray):
        raise TypeError(f"{name}: target must be a Tensor or numpy.ndarray, got {type(target).__name__}")
    if t.shape != x.shape:
        raise ValueError(f"{name}: target has shape {t.shape} but input has shape {x.shape}")
    if t.dtype.kind not in "fiub":
        raise TypeError(f"{name}: target has dtype {t.dtype}")
    return x, np.require(t, x.dtype, ("C", "A"))


def _target_tensor(target):
    return target if _rg(target) else None


class MSEBackward(Node):
    __slots__ = ("diff", "scale", "ng")
    name = "MseLossBackward"

    def backward(self, g):
        gx = self.diff * (g * self.diff.dtype.type(self.scale))
        return gx, (-gx if self.ng else None)

    def release(self):
        self.diff = None


def mse_loss(input, target, reduction="mean"):
    """mean (or sum, or per element) of (input - target)^2."""
    name = "mse_loss"
    _reduction(reduction, name)
    x, t = _pred_target(input, target, name)
    diff = x - t
    sq = diff * diff
    if reduction == "none":
        out = sq
        scale = 2.0
    else:
        total = np.sum(sq, dtype=np.float64)
        out = np.array(total / x.size if reduction == "mean" and x.size else total, x.dtype)
        scale = 2.0 / x.size if reduction == "mean" and x.size else 2.0
    tt = _target_tensor(target)
    if not needs_grad(input, tt):
        return wrap(out)
    node = MSEBackward()
    node.diff, node.scale, node.ng = diff, scale, tt is not None
    return record(node, (_t(input), tt), out)


class BCEBackward(Node):
    __slots__ = ("grad", "per_elem")
    name = "BinaryCrossEntropyWithLogitsBackward"

    def backward(self, g):
        return (self.grad * (g if self.per_elem else self.grad.dtype.type(g.item())),)

    def release(self):
        self.grad = None


def binary_cross_entropy_with_logits(input, target, reduction="mean", pos_weight=None, *, weight=None):
    """Binary cross-entropy on logits in the stable form
    max(x, 0) - x t + log1p(exp(-|x|)); gradient sigmoid(x) - t.  A
    per-element weight or a per-class pos_weight (torch's) takes a NumPy path."""
    name = "binary_cross_entropy_with_logits"
    _reduction(reduction, name)
    if pos_weight is not None or weight is not None:
        return _functional_extra.bce_with_logits_weighted(input, target, weight, pos_weight, reduction)
    x, t = _pred_target(input, target, name)
    tmp = np.log1p(np.exp(-np.abs(x)))
    loss = np.maximum(x, 0) - x * t + tmp
    grad = np.empty_like(x)
    _C.act_forward(_SIGMOID, x, grad, 0.0)
    grad -= t
    if reduction == "none":
        out = loss
    else:
        total = np.sum(loss, dtype=np.float64)
        out = np.array(total / x.size if reduction == "mean" and x.size else total, x.dtype)
        if reduction == "mean" and x.size:
            grad *= x.dtype.type(1.0 / x.size)
    if not needs_grad(input):
        return wrap(out)
    node = BCEBackward()
    node.grad, node.per_elem = grad, reduction == "none"
    return record(node, (_t(input),), out)


# ---------------------------------------------------------------- normalisation

class LayerNormBackward(Node):
    __slots__ = ("x2", "w1", "mean", "rstd", "weight", "bias", "shape", "need_x")
    name = "LayerNormBackward"

    def backward(self, g):
        x2 = self.x2
        rows, cols = x2.shape
        g2 = _contig(g).reshape(rows, cols)
        dx = np.empty_like(x2)
        dw = np.empty(cols, x2.dtype)
        db = np.empty(cols, x2.dtype)
        if rows:
            _C.layer_norm_backward(g2, x2, self.w1, self.mean, self.rstd, dx, dw, db)
        else:
            dw.fill(0)
            db.fill(0)
        w, b = self.weight, self.bias
        gw = _param_grad(w, dw.reshape(w.shape)) if w is not None and w.requires_grad else None
        gb = _param_grad(b, db.reshape(b.shape)) if b is not None and b.requires_grad else None
        return (dx.reshape(self.shape) if self.need_x else None), gw, gb

    def release(self):
        self.x2 = self.mean = self.rstd = self.w1 = None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalises over the trailing normalized_shape dims."""
    name = "layer_norm"
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(normalized_shape)
    wa, ba = _w(weight), _w(bias)
    dtype = wa.dtype if wa is not None else (ba.dtype if ba is not None else None)
    x = _in(input, name, "input", dtype)
    k = len(normalized_shape)
    if x.ndim < k or x.shape[x.ndim - k:] != normalized_shape:
        raise ValueError(f"{name}: expected an input whose last dims are {normalized_shape}, got shape {x.shape}")
    cols = int(np.prod(normalized_shape))
    rows = x.size // cols if cols else 0
    w1 = wa.reshape(-1) if wa is not None else np.ones(cols, x.dtype)
    b0 = ba.reshape(-1) if ba is not None else np.zeros(cols, x.dtype)
    x2 = x.reshape(rows, cols)
    y = np.empty_like(x)
    mean = np.empty(rows, x.dtype)
    rstd = np.empty(rows, x.dtype)
    if rows:
        _C.layer_norm_forward(x2, w1, b0, float(eps), y.reshape(rows, cols), mean, rstd)
    if not needs_grad(input, weight, bias):
        return wrap(y)
    node = LayerNormBackward()
    node.x2, node.w1, node.mean, node.rstd = x2, w1, mean, rstd
    node.weight, node.bias = _t(weight), _t(bias)
    node.shape, node.need_x = x.shape, _rg(input)
    return record(node, (_t(input), node.weight, node.bias), y)


class BatchNormBackward(Node):
    __slots__ = ("x", "wa", "mean", "rstd", "batch", "weight", "bias", "need_x")
    name = "BatchNormBackward"

    def backward(self, g):
        x = self.x
        n, c = x.shape[0], x.shape[1]
        s = x.size // (n * c) if n * c else 0
        g = _contig(g)
        dx = np.empty_like(x)
        dw = np.empty(c, x.dtype)
        db = np.empty(c, x.dtype)
        _C.batch_norm_backward(g, x, n, c, s, self.wa, self.mean, self.rstd, self.batch, dx, dw, db)
        w, b = self.weight, self.bias
        gw = _param_grad(w, dw) if w is not None and w.requires_grad else None
        gb = _param_grad(b, db) if b is not None and b.requires_grad else None
        return (dx if self.need_x else None), gw, gb

    def release(self):
        self.x = self.mean = self.rstd = self.wa = None


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch norm over channel axis 1.  training=True normalises with the
    batch statistics and (when given) updates running_mean / running_var in
    place with factor momentum; otherwise it uses the running statistics."""
    name = "batch_norm"
    wa, ba = _w(weight), _w(bias)
    dtype = wa.dtype if wa is not None else (running_mean.dtype if running_mean is not None else None)
    x = _in(input, name, "input", dtype)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected an input of at least 2 dims (N, C, ...), got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    s = int(np.prod(x.shape[2:]))
    if training and n * s < 2:
        raise ValueError(f"{name}: expected more than 1 value per channel when training, got input of shape "
                         f"{x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{name}: eval mode needs running_mean and running_var")
    y = np.empty_like(x)
    mean = np.empty(c, x.dtype)
    rstd = np.empty(c, x.dtype)
    _C.batch_norm_forward(x, n, c, s, wa, ba, bool(training), float(momentum), float(eps), running_mean,
                          running_var, y, mean, rstd)
    if not needs_grad(input, weight, bias):
        return wrap(y)
    node = BatchNormBackward()
    node.x, node.wa, node.mean, node.rstd, node.batch = x, wa, mean, rstd, bool(training)
    node.weight, node.bias, node.need_x = _t(weight), _t(bias), _rg(input)
    return record(node, (_t(input), node.weight, node.bias), y)


# ---------------------------------------------------------------- dropout

class MaskBackward(Node):
    __slots__ = ("mask",)
    name = "DropoutBackward"

    def backward(self, g):
        return (g * self.mask,)

    def release(self):
        self.mask = None


def dropout(input, p=0.5, training=True):
    """Inverted dropout: in training, zero each element with probability p and
    scale the rest by 1 / (1 - p); identity otherwise.  Masks come from
    fastnn's generator (fastnn.manual_seed)."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input if isinstance(input, Tensor) else wrap(_in(input, "dropout"))
    x = _in(input, "dropout")
    return masked_dropout(input, x, x.shape, p)


def masked_dropout(input, x, mask_shape, p):
    """x times a mask of mask_shape (broadcast over x): each element zero
    with probability p, the others 1 / (1 - p); one node."""
    mask = np.empty(mask_shape, x.dtype)
    generator().random(out=mask, dtype=x.dtype)
    keep = mask >= p
    np.multiply(keep, x.dtype.type(0.0 if p == 1.0 else 1.0 / (1.0 - p)), out=mask)
    y = x * mask
    if not needs_grad(input):
        return wrap(y)
    node = MaskBackward()
    node.mask = mask
    return record(node, (input,), y)


# ---------------------------------------------------------------- embedding

class EmbeddingBackward(Node):
    __slots__ = ("idx", "weight", "padding_idx")
    name = "EmbeddingBackward"

    def backward(self, g):
        w = self.weight
        dim = w.data.shape[1]
        g2 = _contig(g).reshape(-1, dim)
        if w.grad_fn is None and (w.grad is None or _writable_grad(w)):
            if w.grad is None:
                w.grad = np.zeros(w.data.shape, w.data.dtype)
            _C.embedding_backward(self.idx.reshape(-1), g2, self.padding_idx, w.grad)  # adds into it
            return (DONE,)
        gw = np.zeros(w.data.shape, w.data.dtype)
        _C.embedding_backward(self.idx.reshape(-1), g2, self.padding_idx, gw)
        return (gw,)

    def release(self):
        self.idx = None


def embedding(input, weight, padding_idx=None):
    """weight[input] for integer indices of any shape -> input.shape + (dim,);
    padding_idx's row gets no gradient."""
    idx_raw = input.data if isinstance(input, Tensor) else input
    w = _w(weight)
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape {w.shape}")
    idx = ops.embedding_indices(idx_raw, w.shape[0], "embedding")
    out = np.empty(idx.shape + (w.shape[1],), w.dtype)
    if out.size:
        _C.embedding_forward(idx.reshape(-1), w, out.reshape(-1, w.shape[1]))
    if not needs_grad(weight):
        return wrap(out)
    node = EmbeddingBackward()
    node.idx, node.weight = idx, weight
    node.padding_idx = -1 if padding_idx is None else int(padding_idx) % w.shape[0]
    return record(node, (weight,), out)


# ---------------------------------------------------------------- convolution and pooling

class Conv2dBackward(Node):
    __slots__ = ("x", "w", "weight", "bias", "geom", "need_x")
    name = "ConvolutionBackward"

    def backward(self, g):
        x, w = self.x, self.w
        stride, padding, dilation, groups = self.geom
        g = _contig(g)
        weight, bias = self.weight, self.bias
        need_w = weight is not None and weight.requires_grad
        need_b = bias is not None and bias.requires_grad
        gx = np.empty_like(x) if self.need_x else None
        gw = np.empty_like(w) if need_w else None
        gb = np.empty(w.shape[0], w.dtype) if need_b else None
        if x.shape[0] == 0 or g.size == 0:
            for a in (gx, gw, gb):
                if a is not None:
                    a.fill(0)
        else:
            # the weight gradient straight into a fresh leaf .grad (no copy)
            if need_w and weight.grad_fn is None and weight.grad is None:
                weight.grad = gw
                need_w = None
            if need_b and bias.grad_fn is None and bias.grad is None:
                bias.grad = gb
                need_b = None
            _C.conv2d_backward(g, x, w, gx, gw, gb, stride, padding, dilation, groups)
        rw = DONE if need_w is None else (_param_grad(weight, gw) if need_w else None)
        rb = DONE if need_b is None else (_param_grad(bias, gb) if need_b else None)
        return gx, rw, rb

    def release(self):
        self.x = self.w = None


_pair = ops._pair


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over NCHW input, weight (K, C/groups, kH, kW);
    padding a pair, or "same" (stride 1) or "valid"."""
    if isinstance(padding, str):
        return _functional_extra.conv2d_str_padding(input, weight, bias, stride, padding, dilation, groups)
    name = "conv2d"
    w = _w(weight)
    x = _in(input, name, "input", w.dtype)
    b = _w(bias)
    x, w, stride, padding, dilation, groups, shape = ops._conv_check(x, w, stride, padding, dilation, groups, name)
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"{name}: bias has shape {b.shape}; expected ({w.shape[0]},)")
    y = np.empty(shape, x.dtype)
    if y.size:
        _C.conv2d_forward(x, w, b, y, stride, padding, dilation, int(groups))
    if not needs_grad(input, weight, bias):
        return wrap(y)
    node = Conv2dBackward()
    node.x, node.w, node.geom = x, w, (stride, padding, dilation, int(groups))
    node.weight, node.bias, node.need_x = _t(weight), _t(bias), _rg(input)
    return record(node, (_t(input), node.weight, node.bias), y)


def _pool_geom(x, kernel_size, stride, padding, name):
    kernel = _pair(kernel_size, name, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, name, "stride", 1)
    padding = _pair(padding, name, "padding", 0)
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{name}: padding {padding} must be at most half of kernel_size {kernel}")
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    n, c, h, w = x.shape
    if h + 2 * padding[0] < kernel[0] or w + 2 * padding[1] < kernel[1]:
        raise ValueError(f"{name}: kernel_size {kernel} is larger than the padded input "
                         f"{h + 2 * padding[0]}x{w + 2 * padding[1]} of input shape {x.shape}")
    shape = (n, c, (h + 2 * padding[0] - kernel[0]) // stride[0] + 1, (w + 2 * padding[1] - kernel[1]) // stride[1] + 1)
    return kernel, stride, padding, shape


class MaxPoolBackward(Node):
    __slots__ = ("argmax", "xshape", "dtype")
    name = "MaxPool2DBackward"

    def backward(self, g):
        gx = np.empty(self.xshape, self.dtype)
        if g.size:
            _C.max_pool2d_backward(_contig(g), self.argmax, gx)
        else:
            gx.fill(0)
        return (gx,)

    def release(self):
        self.argmax = None


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """Max pooling (stride defaults to kernel_size); padding never wins."""
    x = _in(input, "max_pool2d")
    kernel, stride, padding, shape = _pool_geom(x, kernel_size, stride, padding, "max_pool2d")
    y = np.empty(shape, x.dtype)
    argmax = np.empty(shape, np.int32)
    if y.size:
        _C.max_pool2d_forward(x, y, argmax, kernel, stride, padding)
    if not needs_grad(input):
        return wrap(y)
    node = MaxPoolBackward()
    node.argmax, node.xshape, node.dtype = argmax, x.shape, x.dtype
    return record(node, (input,), y)


class AvgPoolBackward(Node):
    __slots__ = ("geom", "xshape", "dtype")
    name = "AvgPool2DBackward"

    def backward(self, g):
        gx = np.empty(self.xshape, self.dtype)
        if g.size:
            _C.avg_pool2d_backward(_contig(g), gx, *self.geom)
        else:
            gx.fill(0)
        return (gx,)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Average pooling, padding counted as zeros (count_include_pad=True)."""
    x = _in(input, "avg_pool2d")
    kernel, stride, padding, shape = _pool_geom(x, kernel_size, stride, padding, "avg_pool2d")
    y = np.empty(shape, x.dtype)
    if y.size:
        _C.avg_pool2d_forward(x, y, kernel, stride, padding)
    if not needs_grad(input):
        return wrap(y)
    node = AvgPoolBackward()
    node.geom, node.xshape, node.dtype = (kernel, stride, padding), x.shape, x.dtype
    return record(node, (input,), y)


# ---------------------------------------------------------------- attention

class AttentionBackward(Node):
    __slots__ = ("q", "k", "v", "o", "lse", "scale", "causal", "mask", "key_mask")
    name = "ScaledDotProductAttentionBackward"

    def backward(self, g):
        q, k, v = self.q, self.k, self.v
        dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
        _C.attention_backward(q, k, v, self.o, _contig(g), self.lse, self.scale, self.causal, dq, dk, dv, self.mask,
                              self.key_mask)
        return dq, dk, dv

    def release(self):
        self.q = self.k = self.v = self.o = self.lse = self.mask = self.key_mask = None


def _mask_array(m, name, what):
    """A mask (Tensor or array) as an array: masks are constants here."""
    if isinstance(m, Tensor):
        if m.requires_grad:
            raise NotImplementedError(f"{name}: a gradient with respect to {what} is not supported")
        return m.data
    return m


def _attention_qkv(query, key, value, name):
    q = _in(query, name, "query")
    k = _in(key, name, "key", q.dtype)
    v = _in(value, name, "value", q.dtype)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"{name}: query, key and value must be 4-D (B, H, S, D), got shapes {q.shape}, "
                         f"{k.shape}, {v.shape}")
    b, h, sq, d = q.shape
    sk = k.shape[2]
    if k.shape != (b, h, sk, d) or v.shape != k.shape:
        raise ValueError(f"{name}: key {k.shape} and value {v.shape} must be (B, H, Sk, D) matching query "
                         f"{q.shape}")
    if sq and not sk:
        raise ValueError(f"{name}: no keys (key has shape {k.shape})")
    return q, k, v


def fused_attention(query, key, value, mask, key_mask, causal, scale, name="scaled_dot_product_attention"):
    """The blocked kernel on (B, H, S, D) queries, keys and values with
    additive masks as ops.attention_masks gives them (or None): one node,
    no Sq x Sk array."""
    q, k, v = _attention_qkv(query, key, value, name)
    b, h, sq, d = q.shape
    sc = ops._attn_scale(scale, d, name)
    o = np.empty_like(q)
    lse = np.empty((b, h, sq), q.dtype)
    _C.attention_forward(q, k, v, sc, bool(causal), o, lse, mask, key_mask)
    if not needs_grad(query, key, value):
        return wrap(o)
    node = AttentionBackward()
    node.q, node.k, node.v, node.o, node.lse, node.scale, node.causal = q, k, v, o, lse, sc, bool(causal)
    node.mask, node.key_mask = mask, key_mask
    return record(node, (_t(query), _t(key), _t(value)), o)


def _parts_heads(a, heads, parts):
    """The view (parts, N, H, S, D) of the heads in the rows of a (N, S,
    parts * H * D)."""
    n, s, pe = a.shape
    return a.reshape(n, s, parts, heads, pe // parts // heads).transpose(2, 0, 3, 1, 4)


def _heads(a, heads, parts=1):
    """Views (N, H, S, D) of the heads in the rows of a (N, S, parts * H * D):
    a tuple of `parts`, no copy (attention reads and writes them in place)."""
    return tuple(_parts_heads(a, heads, parts))


class HeadsAttentionBackward(Node):
    __slots__ = ("q", "k", "v", "o", "lse", "scale", "causal", "mask", "key_mask", "heads")
    name = "MultiheadAttentionBackward"

    def backward(self, g):
        h, q, k, v = self.heads, self.q, self.k, self.v
        go = _heads(_contig(g), h)[0]
        if k is None:  # q, k and v are the three parts of one (N, L, 3 E) projection
            dqkv = np.empty(q.shape, q.dtype)
            (q, k, v), (dq, dk, dv) = _heads(q, h, 3), _heads(dqkv, h, 3)
            grads = (dqkv,)
        else:
            grads = (np.empty_like(q), np.empty_like(k), np.empty_like(v))
            (q,), (k,), (v,) = _heads(q, h), _heads(k, h), _heads(v, h)
            (dq,), (dk,), (dv,) = (_heads(x, h) for x in grads)
        _C.attention_backward(q, k, v, _heads(self.o, h)[0], go, self.lse, self.scale, self.causal, dq, dk, dv,
                              self.mask, self.key_mask)
        return grads

    def release(self):
        self.q = self.k = self.v = self.o = self.lse = self.mask = self.key_mask = None


def heads_attention(query, key, value, heads, mask, key_mask, causal, name="MultiheadAttention"):
    """Multi-head attention on projection rows, with no copy of the heads:
    query (N, L, E), key and value (N, S, E) -> (N, L, E), head h the columns
    [h D, (h + 1) D) of every row; or key and value None and query the
    packed (N, L, 3 E) rows of a self-attention's q, k and v projection.
    Masks as ops.attention_masks gives them for queries (N, H, L, D)."""
    packed = key is None
    qa = _in(query, name, "query")
    if packed:
        n, l, e3 = qa.shape
        if e3 % (3 * heads):
            raise ValueError(f"{name}: packed projection of shape {qa.shape} is not 3 x {heads} heads")
        q, k, v = _heads(qa, heads, 3)
    else:
        ka, va = _in(key, name, "key", qa.dtype), _in(value, name, "value", qa.dtype)
        if ka.shape != va.shape or ka.shape[0] != qa.shape[0] or ka.shape[2] != qa.shape[2] or qa.shape[2] % heads:
            raise ValueError(f"{name}: query {qa.shape}, key {ka.shape} and value {va.shape} are not (N, L, E), "
                             f"(N, S, E), (N, S, E) with E divisible by {heads} heads")
        (q,), (k,), (v,) = _heads(qa, heads), _heads(ka, heads), _heads(va, heads)
    n, h, l, d = q.shape
    if l and not k.shape[2]:
        raise ValueError(f"{name}: no keys (key has shape {k.shape})")
    out = np.empty((n, l, h * d), qa.dtype)
    lse = np.empty((n, h, l), qa.dtype)
    sc = ops._attn_scale(None, d, name)
    _C.attention_forward(q, k, v, sc, bool(causal), _heads(out, h)[0], lse, mask, key_mask)
    inputs = (query,) if packed else (query, key, value)
    if not needs_grad(*inputs):
        return wrap(out)
    node = HeadsAttentionBackward()
    node.q, node.k, node.v = (qa, None, None) if packed else (qa, ka, va)
    node.o, node.lse, node.scale, node.causal, node.heads = out, lse, sc, bool(causal), h
    node.mask, node.key_mask = mask, key_mask
    return record(node, tuple(_t(x) for x in inputs), out)


def explicit_attention(query, key, value, mask, key_mask, causal, scale, dropout_p=0.0,
                       name="scaled_dot_product_attention"):
    """-> (output, probabilities (B, H, Sq, Sk)): the same attention as
    fused_attention, but through autograd's matmul and softmax so that the
    probabilities exist (for attention weights and attention dropout, which
    is applied to them, as in torch)."""
    q, k, _ = _attention_qkv(query, key, value, name)
    b, h, sq, d = q.shape
    sk = k.shape[2]
    sc = ops._attn_scale(scale, d, name)
    qt, kt, vt = (x if isinstance(x, Tensor) else wrap(_in(x, name)) for x in (query, key, value))
    s = (qt @ kt.transpose(0, 1, 3, 2)) * float(sc)
    if causal or mask is not None or key_mask is not None:
        add = np.zeros((sq, sk), q.dtype)
        if causal:
            add[np.triu(np.ones((sq, sk), bool), 1)] = -np.inf
        if mask is not None:
            add = add + (mask if mask.ndim == 2 else mask.reshape(b, h, sq, sk))
        if key_mask is not None:
            add = add + key_mask[:, None, None, :]
        s = s + add
    p = softmax(s, -1)
    if dropout_p:
        p = dropout(p, dropout_p, True)
    return p @ vt, p


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(scale q k^T + attn_mask [causal mask]) v for q (B, H, Sq, D)
    and k, v (B, H, Sk, D), as torch: scale defaults to 1/sqrt(D); is_causal
    hides key j from query i when j > i; attn_mask is boolean (True =
    attend) or additive float, of shape (Sq, Sk), (B*H, Sq, Sk) or
    broadcastable to (B, H, Sq, Sk).  Without dropout it runs block by block
    with an online softmax, the mask read tile by tile: no Sq x Sk array is
    formed.  dropout_p > 0 (applied to the probabilities, always, as torch)
    forms them."""
    name = "scaled_dot_product_attention"
    if enable_gqa:
        raise NotImplementedError(f"{name}: enable_gqa=True (grouped-query attention) is not supported")
    if not 0.0 <= float(dropout_p) <= 1.0:
        raise ValueError(f"{name}: dropout_p must be in [0, 1], got {dropout_p}")
    q, k, _ = _attention_qkv(query, key, value, name)
    mask, _ = ops.attention_masks(_mask_array(attn_mask, name, "attn_mask"), None, q.shape, k.shape[2], q.dtype,
                                  name)
    if dropout_p:
        return explicit_attention(query, key, value, mask, None, is_causal, scale, float(dropout_p), name)[0]
    return fused_attention(query, key, value, mask, None, is_causal, scale, name)


class SplitHeadsBackward(Node):
    __slots__ = ("shape", "heads", "parts")
    name = "SplitHeadsBackward"

    def backward(self, grads):
        n, l, pe = self.shape
        h, parts = self.heads, self.parts
        if parts == 1:
            grads = (grads,)
        d = pe // parts // h
        out = np.empty(self.shape, grads[0].dtype if grads[0] is not None else
                       next(g for g in grads if g is not None).dtype)
        o5 = out.reshape(n, l, parts, h, d)
        for i, g in enumerate(grads):
            if g is None:
                o5[:, :, i] = 0
            else:
                _C.relayout(g.transpose(0, 2, 1, 3), o5[:, :, i])
        return (out,)


def split_heads(x, num_heads, parts=1):
    """(N, L, parts * H * D) -> parts arrays (N, H, L, D), contiguous (one
    tuple for parts > 1)."""
    a = _in(x, "split_heads")
    # one threaded copy into (parts, N, H, L, D): each part is a contiguous view
    outs = tuple(_C.relayout(_parts_heads(a, num_heads, parts)))
    if not needs_grad(x):
        res = tuple(wrap(o) for o in outs)
        return res if parts > 1 else res[0]
    node = SplitHeadsBackward()
    node.shape, node.heads, node.parts = a.shape, num_heads, parts
    res = record(node, (x,), outs)
    return res if parts > 1 else res[0]


class MergeHeadsBackward(Node):
    __slots__ = ("heads",)
    name = "MergeHeadsBackward"

    def backward(self, g):
        n, l, e = g.shape
        h = self.heads
        return (_C.relayout(g.reshape(n, l, h, e // h).transpose(0, 2, 1, 3)),)


def merge_heads(x):
    """(N, H, L, D) -> (N, L, H * D), contiguous."""
    a = _in(x, "merge_heads")
    n, h, l, d = a.shape
    out = _C.relayout(a.transpose(0, 2, 1, 3)).reshape(n, l, h * d)
    if not needs_grad(x):
        return wrap(out)
    node = MergeHeadsBackward()
    node.heads = h
    return record(node, (x,), out)


# ---------------------------------------------------------------- recurrent layers

# the cells of rnn_layer, by PyTorch's names ("RNN_TANH", "LSTM", "GRU", "RNN_RELU")
RNN_MODES = _C.RNN_MODES
_LSTM, _GRU = _C.RNN_MODE_LSTM, _C.RNN_MODE_GRU
_RNN_NAMES = {_C.RNN_MODE_TANH: "rnn", _LSTM: "lstm", _GRU: "gru", _C.RNN_MODE_RELU: "rnn"}


class RNNLayerBackward(Node):
    __slots__ = ("mode", "reverse", "x", "w_ih", "w_hh", "h0", "c0", "y", "cells", "gates", "params", "need_x", "need_h0",
                 "need_c0")
    name = "RNNLayerBackward"

    def backward(self, grads):
        gy, ghn, gcn = grads
        x, y = self.x, self.y
        steps, n, _ = x.shape
        hid = self.w_hh.shape[1]
        dtype = x.dtype
        gy = None if gy is None else _contig(gy)
        ghn = None if ghn is None else _contig(ghn)
        gcn = None if gcn is None else _contig(gcn)
        gx = np.empty_like(x) if self.need_x else None
        w_ih, w_hh, b_ih, b_hh = self.params
        targets = []
        for p in (w_ih, w_hh, b_ih, b_hh):
            if p is None or not p.requires_grad:
                targets.append(None)
            elif p.grad_fn is None and p.grad is not None and _writable_grad(p):
                targets.append(p.grad)  # the kernel adds into it
            else:
                targets.append(np.zeros(p.data.shape, dtype))
        # the kernel needs somewhere to put the weight gradients even when none is wanted
        gwi = targets[0] if targets[0] is not None else np.zeros(self.w_ih.shape, dtype)
        gwh = targets[1] if targets[1] is not None else np.zeros(self.w_hh.shape, dtype)
        gh0 = np.empty((n, hid), dtype)
        gc0 = np.empty((n, hid), dtype) if self.mode == _LSTM else None
        if steps:
            _C.rnn_layer_backward(self.mode | (_C.RNN_REVERSE if self.reverse else 0), x, self.w_ih, self.w_hh, self.h0, self.c0, y, self.cells, self.gates,
                                  gy, ghn, gcn, gx, gwi, gwh, targets[2], targets[3], gh0, gc0)
        else:
            if gx is not None:
                gx.fill(0)
            gh0[...] = 0 if ghn is None else ghn
            if gc0 is not None:
                gc0[...] = 0 if gcn is None else gcn
        res = []
        for p, t in zip(self.params, (targets[0], targets[1], targets[2], targets[3])):
            if t is None:
                res.append(None)
            elif p.grad_fn is None and p.grad is t:
                res.append(DONE)
            else:
                res.append(_param_grad(p, t))
        return (gx, (gh0 if self.need_h0 else None),
                (gc0 if self.need_c0 else None), *res)

    def release(self):
        self.x = self.y = self.cells = self.gates = self.h0 = self.c0 = self.w_ih = self.w_hh = None


def rnn_layer(mode, input, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, c0=None, reverse=False):
    """One recurrent layer over a time-major sequence (steps, batch, in), one
    node: mode one of RNN_MODES (PyTorch's gate orders).
    reverse runs it from the last step to the first (a bidirectional layer's
    reverse direction): y stays in time order and h_n is then y[0].
    Returns (y (steps, batch, hid), h_n, c_n (LSTM; else None))."""
    if mode not in RNN_MODES.values():
        raise ValueError(f"rnn_layer: unknown mode {mode!r}; expected one of {sorted(RNN_MODES.values())}")
    name = _RNN_NAMES[mode]
    wi, wh = _w(w_ih), _w(w_hh)
    x = _in(input, name, "input", wi.dtype)
    bi, bh = _w(b_ih), _w(b_hh)
    h0a = None if h0 is None else _in(h0, name, "h0", wi.dtype)
    c0a = None if c0 is None else _in(c0, name, "c0", wi.dtype)
    steps, n, _ = x.shape
    hid = wh.shape[1]
    y = np.empty((steps, n, hid), x.dtype)
    cells = np.empty((steps, n, hid), x.dtype) if mode == _LSTM else None
    gates = np.empty((steps, n, 4 * hid), x.dtype) if mode in (_LSTM, _GRU) else None
    reverse = bool(reverse)
    if steps:
        _C.rnn_layer_forward(mode | (_C.RNN_REVERSE if reverse else 0), x, wi, wh, bi, bh, h0a, c0a, y, cells, gates)
        last = 0 if reverse else -1
        h_n = y[last].copy()
        c_n = cells[last].copy() if mode == _LSTM else None
    else:
        h_n = h0a.copy() if h0a is not None else np.zeros((n, hid), x.dtype)
        c_n = (c0a.copy() if c0a is not None else np.zeros((n, hid), x.dtype)) if mode == _LSTM else None
    if not needs_grad(input, w_ih, w_hh, b_ih, b_hh, h0, c0):
        return wrap(y), wrap(h_n), (wrap(c_n) if c_n is not None else None)
    node = RNNLayerBackward()
    node.mode, node.reverse, node.x, node.w_ih, node.w_hh, node.h0, node.c0 = mode, reverse, x, wi, wh, h0a, c0a
    node.y, node.cells, node.gates = y, cells, gates
    node.params = (_t(w_ih), _t(w_hh), _t(b_ih), _t(b_hh))
    node.need_x, node.need_h0, node.need_c0 = _rg(input), _rg(h0), _rg(c0)
    outs = record(node, (_t(input), _t(h0), _t(c0)) + node.params,
                  (y, h_n, c_n if c_n is not None else np.zeros((0,), x.dtype)))
    return outs[0], outs[1], (outs[2] if mode == _LSTM else None)


# ---------------------------------------------------------------- more layers and losses

def _ce_needs_options(input, target, weight, ignore_index, label_smoothing):
    """Whether cross_entropy needs the NumPy path: class weights, label
    smoothing, an input that is not (N, C), or an ignore_index that is a
    class.  (An ignore_index outside the classes is found in the fused path
    only when a target is out of range, so the common call pays nothing.)"""
    if weight is not None or label_smoothing:
        return True
    x = input.data if isinstance(input, Tensor) else input
    if not isinstance(x, np.ndarray):
        return False
    return x.ndim != 2 or 0 <= ignore_index < x.shape[1]


from . import _functional_extra  # noqa: E402  (it imports the helpers above)
from ._functional_extra import *  # noqa: E402,F401,F403

__all__ += _functional_extra.__all__
