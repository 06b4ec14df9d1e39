"""Tensor arithmetic, reductions and shape operations, each one node with
its backward (NumPy computes these; the heavy kernels live in
fastnn.nn.functional).  Broadcasting follows NumPy's rules, and a gradient
is summed back to each input's shape."""
import numpy as np

from . import _C, ops
from .autograd import Node, Tensor, needs_grad, record, wrap

def _t(x):
    return x if isinstance(x, Tensor) else None


def _arr(x):
    """The operand as an ndarray (a non-native byte order converted)."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray) and not x.dtype.isnative:
        return x.astype(x.dtype.newbyteorder("="))
    return x


def unbroadcast(g, shape):
    """g summed over the axes that broadcasting added to an input of shape."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead:
        g = g.reshape(shape)
    return g


def _shape_of(x):
    return x.data.shape if isinstance(x, Tensor) else np.shape(x)


def _grad_if(x):
    return isinstance(x, Tensor) and x.requires_grad


# ---------------------------------------------------------------- arithmetic

class AddBackward(Node):
    __slots__ = ("sa", "sb", "sign")
    name = "AddBackward"

    def backward(self, g):
        ga = None if self.sa is None else unbroadcast(g, self.sa)
        gb = None
        if self.sb is not None:
            gb = unbroadcast(g, self.sb)
            if self.sign < 0:
                gb = -gb
        return ga, gb


def _add_sub(a, b, sign):
    ad, bd = _arr(a), _arr(b)
    out = _C.sum_arrays(ad, bd, sign)
    if not needs_grad(_t(a), _t(b)):
        return wrap(np.asarray(out))
    n = AddBackward()
    n.sa = _shape_of(a) if _grad_if(a) else None
    n.sb = _shape_of(b) if _grad_if(b) else None
    n.sign = sign
    return record(n, (_t(a), _t(b)), np.asarray(out))


def add(a, b):
    return _add_sub(a, b, 1)


def sub(a, b):
    return _add_sub(a, b, -1)


class MulBackward(Node):
    __slots__ = ("a", "b", "ga", "gb")
    name = "MulBackward"

    def backward(self, g):
        ga = unbroadcast(g * self.b, np.shape(self.a)) if self.ga else None
        gb = unbroadcast(g * self.a, np.shape(self.b)) if self.gb else None
        return ga, gb

    def release(self):
        self.a = self.b = None


def mul(a, b):
    ad, bd = _arr(a), _arr(b)
    out = np.asarray(ad * bd)
    if not needs_grad(_t(a), _t(b)):
        return wrap(out)
    n = MulBackward()
    n.a, n.b, n.ga, n.gb = ad, bd, _grad_if(a), _grad_if(b)
    return record(n, (_t(a), _t(b)), out)


class DivBackward(Node):
    __slots__ = ("a", "b", "ga", "gb")
    name = "DivBackward"

    def backward(self, g):
        ga = unbroadcast(g / self.b, np.shape(self.a)) if self.ga else None
        gb = unbroadcast(-g * self.a / (self.b * self.b), np.shape(self.b)) if self.gb else None
        return ga, gb

    def release(self):
        self.a = self.b = None


def div(a, b):
    ad, bd = _arr(a), _arr(b)
    out = np.asarray(ad / bd)
    if not needs_grad(_t(a), _t(b)):
        return wrap(out)
    n = DivBackward()
    n.a, n.b, n.ga, n.gb = ad, bd, _grad_if(a), _grad_if(b)
    return record(n, (_t(a), _t(b)), out)


class NegBackward(Node):
    __slots__ = ()
    name = "NegBackward"

    def backward(self, g):
        return (-g,)


def neg(a):
    out = -a.data
    if not needs_grad(a):
        return wrap(out)
    return record(NegBackward(), (a,), out)


class PowBackward(Node):
    __slots__ = ("x", "p")
    name = "PowBackward"

    def backward(self, g):
        return (g * (self.p * self.x ** (self.p - 1)),)

    def release(self):
        self.x = None


def pow(a, exponent):
    if isinstance(exponent, Tensor):
        raise TypeError(f"Tensor ** Tensor is not supported; the exponent must be a Python number, "
                        f"got a Tensor of shape {exponent.shape}")
    if not isinstance(exponent, (int, float, np.integer, np.floating)):
        raise TypeError(f"Tensor ** x: the exponent must be a number, got {type(exponent).__name__}")
    x = a.data
    out = np.asarray(x ** exponent)
    if not needs_grad(a):
        return wrap(out)
    n = PowBackward()
    n.x, n.p = x, x.dtype.type(exponent) if x.dtype.kind == "f" else exponent
    return record(n, (a,), out)


class ExpBackward(Node):
    __slots__ = ("y",)
    name = "ExpBackward"

    def backward(self, g):
        return (g * self.y,)

    def release(self):
        self.y = None


def exp(a):
    out = np.exp(a.data)
    if not needs_grad(a):
        return wrap(out)
    n = ExpBackward()
    n.y = out
    return record(n, (a,), out)


class LogBackward(Node):
    __slots__ = ("x",)
    name = "LogBackward"

    def backward(self, g):
        return (g / self.x,)

    def release(self):
        self.x = None


def log(a):
    out = np.log(a.data)
    if not needs_grad(a):
        return wrap(out)
    n = LogBackward()
    n.x = a.data
    return record(n, (a,), out)


class AbsBackward(Node):
    __slots__ = ("x",)
    name = "AbsBackward"

    def backward(self, g):
        return (g * np.sign(self.x),)

    def release(self):
        self.x = None


def abs(a):
    out = np.abs(a.data)
    if not needs_grad(a):
        return wrap(out)
    n = AbsBackward()
    n.x = a.data
    return record(n, (a,), out)


# ---------------------------------------------------------------- matmul

class MatmulBackward(Node):
    __slots__ = ("a", "b", "ga", "gb")
    name = "MatmulBackward"

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if self.ga else None), (g * a if self.gb else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if self.ga:
            ga = _mm(g2, np.swapaxes(b2, -1, -2))
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if self.gb:
            gb = _mm(np.swapaxes(a2, -1, -2), g2)
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb

    def release(self):
        self.a = self.b = None


def _mm(a, b):
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype.kind == "f":
        return ops.matmul(a, b)
    return np.matmul(a, b)


def matmul(a, b):
    ad, bd = np.asarray(_arr(a)), np.asarray(_arr(b))
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {ad.shape} and {bd.shape}")
    if ad.shape[-1] != bd.shape[0 if bd.ndim == 1 else -2]:
        raise ValueError(f"matmul: shapes {ad.shape} and {bd.shape} do not match (inner dimensions "
                         f"{ad.shape[-1]} and {bd.shape[0 if bd.ndim == 1 else -2]})")
    if ad.dtype != bd.dtype and ad.dtype.kind == "f" and bd.dtype.kind == "f":
        raise TypeError(f"matmul: operands have dtypes {ad.dtype} and {bd.dtype}; convert one first")
    out = np.asarray(_mm(ad, bd))
    if not needs_grad(_t(a), _t(b)):
        return wrap(out)
    n = MatmulBackward()
    n.a, n.b, n.ga, n.gb = ad, bd, _grad_if(a), _grad_if(b)
    return record(n, (_t(a), _t(b)), out)


# ---------------------------------------------------------------- reductions

def _norm_axes(axis, ndim, op):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"{op}: axis {ax} is out of range for a {ndim}-D tensor")
        out.append(int(ax) % max(ndim, 1))
    return tuple(out)


class SumBackward(Node):
    __slots__ = ("shape", "axes", "keepdims", "scale")
    name = "SumBackward"

    def backward(self, g):
        if not self.keepdims and self.axes:
            g = np.expand_dims(g, self.axes)
        if self.scale != 1:
            g = g * g.dtype.type(self.scale)
        return (np.broadcast_to(g, self.shape),)


def _sum_mean(a, axis, keepdims, mean):
    x = a.data
    axes = _norm_axes(axis, x.ndim, "mean" if mean else "sum")
    out = np.asarray(x.mean(axis=axes, keepdims=keepdims) if mean else x.sum(axis=axes, keepdims=keepdims))
    if not needs_grad(a):
        return wrap(out)
    n = SumBackward()
    n.shape, n.axes, n.keepdims = x.shape, axes, keepdims
    cnt = 1
    for ax in axes:
        cnt *= x.shape[ax]
    n.scale = 1.0 / cnt if mean and cnt else 1
    return record(n, (a,), out)


def sum(a, axis=None, keepdims=False):
    return _sum_mean(a, axis, keepdims, False)


def mean(a, axis=None, keepdims=False):
    return _sum_mean(a, axis, keepdims, True)


class AmaxBackward(Node):
    __slots__ = ("x", "y", "axes", "keepdims")
    name = "MaxBackward"

    def backward(self, g):
        y = self.y
        if not self.keepdims and self.axes:
            g = np.expand_dims(g, self.axes)
            y = np.expand_dims(y, self.axes)
        mask = self.x == y
        cnt = mask.sum(axis=self.axes, keepdims=True)
        return (mask * (g / cnt),)

    def release(self):
        self.x = self.y = None


def amax(a, axis=None, keepdims=False):
    x = a.data
    axes = _norm_axes(axis, x.ndim, "max")
    out = np.asarray(x.max(axis=axes, keepdims=keepdims))
    if not needs_grad(a):
        return wrap(out)
    n = AmaxBackward()
    n.x, n.y, n.axes, n.keepdims = x, out, axes, keepdims
    return record(n, (a,), out)


# ---------------------------------------------------------------- shapes

class ReshapeBackward(Node):
    __slots__ = ("shape",)
    name = "ReshapeBackward"

    def backward(self, g):
        return (g.reshape(self.shape),)


def reshape(a, shape):
    x = a.data
    try:
        out = x.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                         f"into {tuple(shape)}") from None
    if not needs_grad(a):
        return wrap(out)
    n = ReshapeBackward()
    n.shape = x.shape
    return record(n, (a,), out)


class TransposeBackward(Node):
    __slots__ = ("inv",)
    name = "TransposeBackward"

    def backward(self, g):
        return (g.transpose(self.inv),)


def transpose(a, axes=None):
    x = a.data
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(int(ax) % max(x.ndim, 1) for ax in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: {axes} is not a permutation of the {x.ndim} dims of shape {x.shape}")
    out = x.transpose(axes)
    if not needs_grad(a):
        return wrap(out)
    n = TransposeBackward()
    n.inv = tuple(np.argsort(axes))
    return record(n, (a,), out)


class GetitemBackward(Node):
    __slots__ = ("shape", "dtype", "index")
    name = "IndexBackward"

    def backward(self, g):
        out = np.zeros(self.shape, self.dtype)
        np.add.at(out, self.index, g) if _advanced(self.index) else out.__setitem__(self.index, g)
        return (out,)


def _advanced(index):
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if isinstance(i, (list, np.ndarray, Tensor)):
            return True
    return False


def getitem(a, index):
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    x = a.data
    out = x[index]
    if not isinstance(out, np.ndarray):
        out = np.asarray(out)
    if not needs_grad(a):
        return wrap(out)
    n = GetitemBackward()
    n.shape, n.dtype, n.index = x.shape, x.dtype, index
    return record(n, (a,), out)


class CastBackward(Node):
    __slots__ = ("dtype",)
    name = "CastBackward"

    def backward(self, g):
        return (g.astype(self.dtype),)


def astype(a, dtype, copy=False):
    x = a.data
    out = x.astype(dtype, copy=copy or x.dtype != dtype)
    if not needs_grad(a) or out.dtype.kind != "f":
        return wrap(out)
    n = CastBackward()
    n.dtype = x.dtype
    return record(n, (a,), out)


class CatBackward(Node):
    __slots__ = ("axis", "bounds", "stack")
    name = "CatBackward"

    def backward(self, g):
        res = []
        for lo, hi, need in self.bounds:
            if not need:
                res.append(None)
                continue
            if self.stack:
                res.append(np.take(g, lo, axis=self.axis))
            else:
                sl = [slice(None)] * g.ndim
                sl[self.axis] = slice(lo, hi)
                res.append(g[tuple(sl)])
        return tuple(res)


def _join(tensors, axis, stack):
    op = "stack" if stack else "cat"
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    arrays = [np.asarray(_arr(t)) for t in tensors]
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: tensors have different dtypes {sorted(str(d) for d in dtypes)}")
    try:
        out = np.stack(arrays, axis=axis) if stack else np.concatenate(arrays, axis=axis)
    except ValueError as e:
        raise ValueError(f"{op}: shapes {[a.shape for a in arrays]} do not join along axis {axis}: {e}") from None
    ts = [_t(t) for t in tensors]
    if not needs_grad(*ts):
        return wrap(out)
    n = CatBackward()
    n.axis = int(axis) % out.ndim
    n.stack = stack
    bounds, lo = [], 0
    for i, a in enumerate(arrays):
        need = _grad_if(tensors[i])
        if stack:
            bounds.append((i, i + 1, need))
        else:
            hi = lo + a.shape[n.axis]
            bounds.append((lo, hi, need))
            lo = hi
    n.bounds = bounds
    return record(n, ts, out)


def cat(tensors, dim=0, axis=None):
    """Join tensors along an existing axis (torch.cat)."""
    return _join(tensors, dim if axis is None else axis, False)


def stack(tensors, dim=0, axis=None):
    """Join tensors along a new axis (torch.stack)."""
    return _join(tensors, dim if axis is None else axis, True)


# ---------------------------------------------------------------- activations

def relu(a):
    from .nn import functional as F
    return F.relu(a)


def sigmoid(a):
    from .nn import functional as F
    return F.sigmoid(a)


def tanh(a):
    from .nn import functional as F
    return F.tanh(a)
