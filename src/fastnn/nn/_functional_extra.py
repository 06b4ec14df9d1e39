"""More of fastnn.nn.functional (re-exported there): the activations, the
1-D, transposed and "same"-padded convolutions, adaptive pooling, channel
dropout, group norm and the losses that PyTorch models commonly use, each
one graph node.

The convolutions run on the conv2d kernels (a 1-D convolution is a 2-D one
of height 1; a transposed convolution's forward is conv2d's grad-input
kernel and its backward conv2d's forward and grad-weight kernels); group
norm runs the layer-norm kernel on one row per (sample, group); SiLU and
ELU run on the activation kernels.  Softplus, adaptive pooling and the
losses with options (class weights, ignored targets, label smoothing,
positive weights) are computed with NumPy: memory-bound passes over one
array, or (adaptive pooling) two small matrix products.
"""
import numpy as np

from .. import _C
from ..autograd import Node, Tensor, needs_grad, record, wrap
from .functional import (_LOG_SOFTMAX, _SIGMOID, _act, masked_dropout, _contig, _in, _param_grad, _pred_target, _rg, _t,
                         _w, _reduction, _pair)

__all__ = ["silu", "elu", "softplus", "conv1d", "conv_transpose2d", "adaptive_avg_pool2d", "dropout2d",
           "group_norm", "nll_loss", "l1_loss", "huber_loss", "smooth_l1_loss"]


# ---------------------------------------------------------------- activations

class PointwiseBackward(Node):
    """g * f'(x) for an elementwise f whose derivative `deriv(x, *args)` is
    computed from the saved input."""
    __slots__ = ("x", "deriv", "args", "name")

    def backward(self, g):
        return (g * self.deriv(self.x, *self.args),)

    def release(self):
        self.x = None


def _pointwise(input, y, deriv, args, name, x):
    if not needs_grad(input):
        return wrap(y)
    node = PointwiseBackward()
    node.x, node.deriv, node.args, node.name = x, deriv, args, name
    return record(node, (input,), y)


def _sigmoid(x):
    s = np.empty_like(x)
    _C.act_forward(_SIGMOID, x, s, 0.0)
    return s


_SILU, _ELU = _C.ACT_SILU, _C.ACT_ELU


def silu(input):
    """x * sigmoid(x)."""
    return _act(_SILU, input, 0.0, False, "silu")


def elu(input, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _act(_ELU, input, float(alpha), False, "elu")


def _softplus_deriv(x, beta, threshold):
    bx = x * beta
    return np.where(bx > threshold, x.dtype.type(1), _sigmoid(bx))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as torch)."""
    x = _in(input, "softplus")
    b, th = x.dtype.type(beta), x.dtype.type(threshold)
    bx = x * b
    y = np.where(bx > th, x, np.logaddexp(x.dtype.type(0), bx) / b)
    return _pointwise(input, y, _softplus_deriv, (b, th), "SoftplusBackward", x)


# ---------------------------------------------------------------- convolutions

def _same_pads(kernel, dilation):
    """torch's padding="same" for stride 1: the total d (k - 1), the smaller half first."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def _conv_padding(padding, kernel, dilation, stride, name):
    """(per-dim (before, after) pads) for an int, a tuple, "same" or "valid"."""
    nd = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding != "same":
            raise ValueError(f"{name}: padding must be an int, a tuple of ints, 'same' or 'valid', got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{name}: padding='same' needs stride 1 (as torch), got stride {stride}")
        return [_same_pads(k, d) for k, d in zip(kernel, dilation)]
    vals = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * nd
    if len(vals) != nd or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in vals):
        raise ValueError(f"{name}: padding must be a non-negative int or {nd} of them, got {padding!r}")
    return [(int(v), int(v)) for v in vals]


def _ints(v, nd, name, what, minimum):
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd
    if len(vals) != nd or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in vals):
        raise TypeError(f"{name}: {what} must be an int or {nd} ints, got {v!r}")
    if min(vals) < minimum:
        raise ValueError(f"{name}: {what} must be {'positive' if minimum else 'non-negative'}, got {v!r}")
    return tuple(int(a) for a in vals)


class ConvNdBackward(Node):
    """Backward of a convolution run on the conv2d kernel over 4-D views: the
    input possibly padded beforehand (asymmetric "same" padding), whose
    gradient is cropped back, and weight / output of another rank reshaped."""
    __slots__ = ("x4", "w4", "weight", "bias", "geom", "need_x", "crop", "xshape", "yshape4")
    name = "ConvolutionBackward"

    def backward(self, g):
        x4, w4 = self.x4, self.w4
        stride, padding, dilation, groups = self.geom
        g4 = _contig(g).reshape(self.yshape4)
        weight, bias = self.weight, self.bias
        need_w = weight is not None and weight.requires_grad
        need_b = bias is not None and bias.requires_grad
        gx = np.empty_like(x4) if self.need_x else None
        gw = np.empty_like(w4) if need_w else None
        gb = np.empty(w4.shape[0], w4.dtype) if need_b else None
        if g4.size == 0 or x4.shape[0] == 0:
            for a in (gx, gw, gb):
                if a is not None:
                    a.fill(0)
        elif gx is not None or gw is not None or gb is not None:
            _C.conv2d_backward(g4, x4, w4, gx, gw, gb, stride, padding, dilation, groups)
        if gx is not None:
            if self.crop is not None:
                gx = np.ascontiguousarray(gx[self.crop])
            gx = gx.reshape(self.xshape)
        rw = _param_grad(weight, gw.reshape(weight.data.shape)) if need_w else None
        rb = _param_grad(bias, gb) if need_b else None
        return gx, rw, rb

    def release(self):
        self.x4 = self.w4 = None


def _conv_on_2d(name, input, weight, bias, x4, w4, b, stride, pads, dilation, groups, xshape, squeeze):
    """The convolution of the 4-D views x4 (N, C, H, W), w4 (K, C/g, R, S)
    with per-dim (before, after) pads: symmetric pads go to the kernel, others
    are applied to a padded copy of the input."""
    n, c, h, wd = x4.shape
    k, cg, r, s = w4.shape
    if groups < 1 or c % groups or k % groups or cg * groups != c:
        raise ValueError(f"{name}: input of shape {xshape} has {c} channels but weight "
                         f"{tuple(weight.shape)} with groups={groups} expects {cg * groups} (and groups must "
                         f"divide the {k} output channels)")
    if b is not None and b.shape != (k,):
        raise ValueError(f"{name}: bias has shape {b.shape}; expected ({k},)")
    crop = None
    if pads[0][0] == pads[0][1] and pads[1][0] == pads[1][1]:
        padding = (pads[0][0], pads[1][0])
    else:
        padding = (0, 0)
        x4 = np.pad(x4, ((0, 0), (0, 0), pads[0], pads[1]))
        crop = (slice(None), slice(None), slice(pads[0][0], pads[0][0] + h), slice(pads[1][0], pads[1][0] + wd))
    hp, wp = x4.shape[2] + 2 * padding[0], x4.shape[3] + 2 * padding[1]
    er, es = dilation[0] * (r - 1) + 1, dilation[1] * (s - 1) + 1
    if hp < er or wp < es:
        size = f"{wp}" if squeeze else f"{hp}x{wp}"
        kern = f"{s} (dilated {es})" if squeeze else f"{r}x{s} (dilated {er}x{es})"
        raise ValueError(f"{name}: kernel {kern} is larger than the padded input {size} of input shape {xshape}")
    p = (hp - er) // stride[0] + 1
    q = (wp - es) // stride[1] + 1
    y4 = np.empty((n, k, p, q), x4.dtype)
    if y4.size:
        _C.conv2d_forward(x4, w4, b, y4, stride, padding, dilation, int(groups))
    y = y4.reshape((n, k, q) if squeeze else (n, k, p, q))
    if len(xshape) == (2 if squeeze else 3):
        y = y[0]
    if not needs_grad(input, weight, bias):
        return wrap(y)
    node = ConvNdBackward()
    node.x4, node.w4, node.geom = x4, w4, (stride, padding, dilation, int(groups))
    node.weight, node.bias, node.need_x = _t(weight), _t(bias), _rg(input)
    node.crop, node.xshape, node.yshape4 = crop, xshape, y4.shape
    return record(node, (_t(input), node.weight, node.bias), y)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) (or unbatched (C, L)) input, weight
    (K, C/groups, k); padding an int, "valid" or "same" (stride 1)."""
    name = "conv1d"
    w = _w(weight)
    x = _in(input, name, "input", w.dtype)
    if x.ndim not in (2, 3) or w.ndim != 3:
        raise ValueError(f"{name}: expected a 3-D input (N, C, L) or 2-D (C, L) and a 3-D weight (K, C/groups, k), "
                         f"got shapes {x.shape} and {w.shape}")
    stride = (1,) + _ints(stride, 1, name, "stride", 1)
    dilation = (1,) + _ints(dilation, 1, name, "dilation", 1)
    pads = [(0, 0)] + _conv_padding(padding, (w.shape[2],), dilation[1:], stride[1:], name)
    x3 = x if x.ndim == 3 else x[None]
    x4 = x3.reshape(x3.shape[0], x3.shape[1], 1, x3.shape[2])
    w4 = w.reshape(w.shape[0], w.shape[1], 1, w.shape[2])
    return _conv_on_2d(name, input, weight, bias, x4, w4, _w(bias), stride, pads, dilation, groups, x.shape, True)


def conv2d_str_padding(input, weight, bias, stride, padding, dilation, groups):
    """conv2d with padding "same" (stride 1, possibly asymmetric) or "valid"."""
    name = "conv2d"
    w = _w(weight)
    x = _in(input, name, "input", w.dtype)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W) and weight (K, C/groups, kH, kW), got "
                         f"shapes {x.shape} and {w.shape}")
    stride, dilation = _pair(stride, name, "stride", 1), _pair(dilation, name, "dilation", 1)
    pads = _conv_padding(padding, w.shape[2:], dilation, stride, name)
    return _conv_on_2d(name, input, weight, bias, x, w, _w(bias), stride, pads, dilation, groups, x.shape, False)


class ConvTranspose2dBackward(Node):
    __slots__ = ("x", "w", "weight", "bias", "geom", "need_x", "core")
    name = "ConvolutionBackward"

    def backward(self, g):
        x, w = self.x, self.w
        stride, padding, dilation, groups = self.geom
        hc, wc = self.core
        g = _contig(g)
        gc = g if g.shape[2:] == (hc, wc) else np.ascontiguousarray(g[:, :, :hc, :wc])
        weight, bias = self.weight, self.bias
        gx = np.empty_like(x) if self.need_x else None
        gw = np.empty_like(w) if weight is not None and weight.requires_grad else None
        empty = x.size == 0 or gc.size == 0
        if gx is not None:
            if empty:
                gx.fill(0)
            else:
                _C.conv2d_forward(gc, w, None, gx, stride, padding, dilation, groups)
        if gw is not None:
            if empty:
                gw.fill(0)
            else:
                # y is linear in w: its weight gradient is conv2d's, with x as
                # the output gradient and g as the input
                _C.conv2d_backward(x, gc, w, None, gw, None, stride, padding, dilation, groups)
        rw = _param_grad(weight, gw) if gw is not None else None
        rb = _param_grad(bias, g.sum(axis=(0, 2, 3))) if bias is not None and bias.requires_grad else None
        return gx, rw, rb

    def release(self):
        self.x = self.w = None


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the gradient of conv2d w.r.t. its input)
    over (N, C_in, H, W) (or unbatched (C_in, H, W)), weight
    (C_in, C_out/groups, kH, kW) as torch; output size
    (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1."""
    name = "conv_transpose2d"
    w = _w(weight)
    x = _in(input, name, "input", w.dtype)
    b = _w(bias)
    if x.ndim not in (3, 4) or w.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C_in, H, W) or 3-D (C_in, H, W) and a 4-D weight "
                         f"(C_in, C_out/groups, kH, kW), got shapes {x.shape} and {w.shape}")
    stride, padding = _pair(stride, name, "stride", 1), _pair(padding, name, "padding", 0)
    dilation, opad = _pair(dilation, name, "dilation", 1), _pair(output_padding, name, "output_padding", 0)
    x4 = x if x.ndim == 4 else x[None]
    n, cin, h, wd = x4.shape
    k, cog, r, s = w.shape
    if groups < 1 or k != cin or cin % groups:
        raise ValueError(f"{name}: input of shape {x.shape} has {cin} channels but weight {w.shape} expects "
                         f"{k} (groups={groups} must divide them)")
    cout = cog * groups
    if b is not None and b.shape != (cout,):
        raise ValueError(f"{name}: bias has shape {b.shape}; expected ({cout},)")
    for o, st, d in zip(opad, stride, dilation):
        if o >= max(st, d):
            raise ValueError(f"{name}: output_padding {opad} must be smaller than stride {stride} or dilation "
                             f"{dilation}")
    out = [(i - 1) * st - 2 * p + d * (kk - 1) + o + 1
           for i, st, p, d, kk, o in zip((h, wd), stride, padding, dilation, (r, s), opad)]
    if min(out) < 1:
        raise ValueError(f"{name}: input of shape {x.shape} with kernel {r}x{s}, stride {stride}, padding "
                         f"{padding} gives an empty output {out[0]}x{out[1]}")
    # rows the kernel reaches; output_padding beyond stride - 1 adds rows no input reaches
    core = tuple(o - max(0, op - (st - 1)) for o, op, st in zip(out, opad, stride))
    yc = np.empty((n, cout, core[0], core[1]), x.dtype)
    if yc.size and x4.size:
        shape_only = np.empty(yc.shape, x.dtype)  # conv2d's input, read only for its shape
        _C.conv2d_backward(np.ascontiguousarray(x4), shape_only, w, yc, None, None, stride, padding, dilation,
                           int(groups))
    else:
        yc.fill(0)
    y = yc
    if tuple(out) != core:
        y = np.zeros((n, cout, out[0], out[1]), x.dtype)
        y[:, :, :core[0], :core[1]] = yc
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    if x.ndim == 3:
        y = y[0]
    if not needs_grad(input, weight, bias):
        return wrap(y)
    node = ConvTranspose2dBackward()
    node.x, node.w, node.geom, node.core = np.ascontiguousarray(x4), w, (stride, padding, dilation, int(groups)), core
    node.weight, node.bias, node.need_x = _t(weight), _t(bias), _rg(input)
    if x.ndim == 3:
        return _unbatched(node, input, y)
    return record(node, (_t(input), node.weight, node.bias), y)


class _UnbatchedBackward(Node):
    """Adds and removes the batch dim around a node computed on a batch of one."""
    __slots__ = ("inner",)
    name = "ConvolutionBackward"

    def backward(self, g):
        gx, gw, gb = self.inner.backward(g[None])
        return (None if gx is None else gx[0]), gw, gb

    def release(self):
        self.inner.release()


def _unbatched(inner, input, y):
    node = _UnbatchedBackward()
    node.inner = inner
    return record(node, (_t(input), inner.weight, inner.bias), y)


# ---------------------------------------------------------------- pooling

def _adaptive_matrix(n_in, n_out, dtype):
    """(n_out, n_in): row i averages the inputs floor(i n_in / n_out) ..
    ceil((i + 1) n_in / n_out) - 1 (torch's bins)."""
    i = np.arange(n_out)
    start = (i * n_in) // n_out
    end = -((-(i + 1) * n_in) // n_out)
    cols = np.arange(n_in)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPoolBackward(Node):
    __slots__ = ("ph", "pw")
    name = "AdaptiveAvgPool2DBackward"

    def backward(self, g):
        return (np.matmul(np.matmul(self.ph.T, g), self.pw),)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to output_size (an int, or (H, W) where None keeps
    that input size) over (N, C, H, W) or (C, H, W): output (i, j)
    averages torch's bins of rows and columns."""
    name = "adaptive_avg_pool2d"
    x = _in(input, name)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W) or 3-D (C, H, W), got shape {x.shape}")
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(sizes) != 2:
        raise ValueError(f"{name}: output_size must be an int or a pair, got {output_size!r}")
    sizes = tuple(x.shape[-2 + i] if v is None else v for i, v in enumerate(sizes))
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in sizes):
        raise ValueError(f"{name}: output_size must be positive ints (or None), got {output_size!r}")
    h, w = x.shape[-2:]
    if h < 1 or w < 1:
        raise ValueError(f"{name}: input of shape {x.shape} has an empty plane")
    ph = _adaptive_matrix(h, int(sizes[0]), x.dtype)
    pw = _adaptive_matrix(w, int(sizes[1]), x.dtype)
    y = np.matmul(np.matmul(ph, x), pw.T)
    if not needs_grad(input):
        return wrap(y)
    node = AdaptiveAvgPoolBackward()
    node.ph, node.pw = ph, pw
    return record(node, (input,), y)


# ---------------------------------------------------------------- dropout

def dropout2d(input, p=0.5, training=True):
    """Channel dropout: in training, zero each whole channel of (N, C, H, W)
    (or of (N, C, L), as torch treats a 3-D input) with probability p and
    scale the rest by 1 / (1 - p); identity otherwise."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    x = _in(input, "dropout2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W) or 3-D (N, C, L), got shape {x.shape}")
    if not training or p == 0.0:
        return input if isinstance(input, Tensor) else wrap(x)
    return masked_dropout(input, x, x.shape[:2] + (1,) * (x.ndim - 2), p)


# ---------------------------------------------------------------- group norm

class GroupNormBackward(Node):
    __slots__ = ("x2", "xhat", "mean", "rstd", "w", "weight", "bias", "shape", "need_x")
    name = "NativeGroupNormBackward"

    def backward(self, g):
        n, c = self.shape[0], self.shape[1]
        g3 = _contig(g).reshape(n, c, -1)
        xh3 = self.xhat.reshape(n, c, -1)
        w, b = self.weight, self.bias
        gw = _param_grad(w, (g3 * xh3).sum(axis=(0, 2))) if w is not None and w.requires_grad else None
        gb = _param_grad(b, g3.sum(axis=(0, 2))) if b is not None and b.requires_grad else None
        dx = None
        if self.need_x:
            x2 = self.x2
            gxh = g3 if self.w is None else g3 * self.w[:, None]
            dx = np.empty_like(x2)
            cols = x2.shape[1]
            ones = np.ones(cols, x2.dtype)
            scratch_w, scratch_b = np.empty(cols, x2.dtype), np.empty(cols, x2.dtype)
            if x2.size:
                _C.layer_norm_backward(np.ascontiguousarray(gxh).reshape(x2.shape), x2, ones, self.mean, self.rstd,
                                       dx, scratch_w, scratch_b)
            dx = dx.reshape(self.shape)
        return dx, gw, gb

    def release(self):
        self.x2 = self.xhat = self.mean = self.rstd = self.w = None


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalises (N, C, *) over each group of C / num_groups channels (and
    all the positions), then scales and shifts per channel."""
    name = "group_norm"
    wa, ba = _w(weight), _w(bias)
    dtype = wa.dtype if wa is not None else (ba.dtype if ba is not None else None)
    x = _in(input, name, "input", dtype)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected an input of at least 2 dims (N, C, ...), got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups < 1 \
            or c % num_groups:
        raise ValueError(f"{name}: num_groups={num_groups!r} must be a positive divisor of the {c} channels of "
                         f"input shape {x.shape}")
    for a, what in ((wa, "weight"), (ba, "bias")):
        if a is not None and a.shape != (c,):
            raise ValueError(f"{name}: {what} has shape {a.shape}; expected ({c},) for input shape {x.shape}")
    rows = n * int(num_groups)
    cols = x.size // rows if rows else 0
    x2 = x.reshape(rows, cols)
    xhat = np.empty_like(x2)
    mean = np.empty(rows, x.dtype)
    rstd = np.empty(rows, x.dtype)
    if x2.size:
        _C.layer_norm_forward(x2, np.ones(cols, x.dtype), np.zeros(cols, x.dtype), float(eps), xhat, mean, rstd)
    y3 = xhat.reshape(n, c, -1)
    if wa is not None:
        y3 = y3 * wa[:, None]
    if ba is not None:
        y3 = y3 + ba[:, None]
    y = y3.reshape(x.shape)
    if not needs_grad(input, weight, bias):
        return wrap(y)
    node = GroupNormBackward()
    node.x2, node.xhat, node.mean, node.rstd, node.w = x2, xhat, mean, rstd, wa
    node.weight, node.bias, node.shape, node.need_x = _t(weight), _t(bias), x.shape, _rg(input)
    return record(node, (_t(input), node.weight, node.bias), y)


# ---------------------------------------------------------------- elementwise losses

class PairLossBackward(Node):
    """The gradient of an elementwise loss of (input, target): d (its
    derivative in the input, computed in the forward) times the incoming
    gradient and the reduction's scale; the target gets the negative."""
    __slots__ = ("d", "scale", "ng", "name")

    def backward(self, g):
        gx = self.d * (g * self.d.dtype.type(self.scale))
        return gx, (-gx if self.ng else None)

    def release(self):
        self.d = None


def _pair_loss(input, target, reduction, name, node_name, fn):
    _reduction(reduction, name)
    x, t = _pred_target(input, target, name)
    loss, d = fn(x - t)
    if reduction == "none":
        out, scale = loss, 1.0
    else:
        total = np.sum(loss, dtype=np.float64)
        mean = reduction == "mean" and x.size
        out = np.array(total / x.size if mean else total, x.dtype)
        scale = 1.0 / x.size if mean else 1.0
    tt = target if _rg(target) else None
    if not needs_grad(input, tt):
        return wrap(out)
    node = PairLossBackward()
    node.d, node.scale, node.ng, node.name = d, scale, tt is not None, node_name
    return record(node, (_t(input), tt), out)


def l1_loss(input, target, reduction="mean"):
    """mean (or sum, or per element) of |input - target|."""
    return _pair_loss(input, target, reduction, "l1_loss", "L1LossBackward", lambda diff: (np.abs(diff), np.sign(diff)))


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, delta (|d| - delta / 2) elsewhere, d = input - target."""
    name = "huber_loss"
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"{name}: delta must be positive, got {delta}")

    def fn(diff):
        dl = diff.dtype.type(delta)
        ad = np.abs(diff)
        small = ad < dl
        return np.where(small, 0.5 * diff * diff, dl * (ad - 0.5 * dl)), np.clip(diff, -dl, dl)
    return _pair_loss(input, target, reduction, name, "HuberLossBackward", fn)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere (|d| for beta 0)."""
    name = "smooth_l1_loss"
    beta = float(beta)
    if beta < 0:
        raise ValueError(f"{name}: beta must be non-negative, got {beta}")
    if beta == 0:
        return _pair_loss(input, target, reduction, name, "SmoothL1LossBackward",
                          lambda diff: (np.abs(diff), np.sign(diff)))

    def fn(diff):
        b = diff.dtype.type(beta)
        ad = np.abs(diff)
        return np.where(ad < b, 0.5 * diff * diff / b, ad - 0.5 * b), np.clip(diff / b, -1, 1)
    return _pair_loss(input, target, reduction, name, "SmoothL1LossBackward", fn)


# ---------------------------------------------------------------- class losses (NumPy path)

class ClassLossBackward(Node):
    """The gradient of a loss over class scores moved to rows (M, C): the
    saved row gradient times the incoming gradient (one value per row for
    reduction='none'), moved back to the input's layout."""
    __slots__ = ("grad", "per_row", "layout", "name")

    def backward(self, g):
        grad = self.grad
        if self.per_row:
            gr = grad * np.reshape(g, (-1, 1))
        else:
            s = g.item()
            gr = grad if s == 1 else grad * grad.dtype.type(s)
        return (_from_rows(gr, self.layout),)

    def release(self):
        self.grad = None


def _to_rows(x, name):
    """x (N, C), (N, C, d1, ...) or (C,) as rows (M, C) with classes last,
    and the layout to move a gradient back."""
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have shape (N, C), (N, C, d1, ...) or (C,), got a 0-d input")
    if x.ndim == 1:
        return x.reshape(1, -1), ("1d", x.shape)
    if x.ndim == 2:
        return x, ("2d", x.shape)
    moved = np.moveaxis(x, 1, -1)
    return np.ascontiguousarray(moved).reshape(-1, x.shape[1]), ("nd", moved.shape)


def _from_rows(rows, layout):
    kind, shape = layout
    if kind != "nd":
        return rows.reshape(shape)
    return np.ascontiguousarray(np.moveaxis(rows.reshape(shape), -1, 1))


def _target_shape(xshape):
    if len(xshape) == 1:
        return ()
    return (xshape[0],) + tuple(xshape[2:])


def _index_target(t, xshape, classes, ignore_index, name):
    want = _target_shape(xshape)
    if t.shape != want:
        hint = " (a 2-D input (N, C) takes class indices of shape (N,))" if len(xshape) != 2 else ""
        raise ValueError(f"{name}: input of shape {xshape} needs a class-index target of shape {want}, got "
                         f"{t.shape}{hint}")
    flat = t.reshape(-1).astype(np.int64)
    valid = flat != ignore_index
    bad = valid & ((flat < 0) | (flat >= classes))
    if bad.any():
        raise ValueError(f"{name}: target holds class index {int(flat[bad][0])}, outside the valid range "
                         f"[0, {classes - 1}] for {classes} classes (ignore_index={ignore_index})")
    return np.where(valid, flat, 0), valid


def _class_weight(weight, classes, dtype, name):
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.shape != (classes,) or w.dtype.kind not in "fiu":
        raise ValueError(f"{name}: weight must be a float array of shape ({classes},) (one per class), got "
                         f"shape {w.shape} and dtype {w.dtype}")
    return w.astype(dtype)


def _class_loss(x, layout, coeff, logp, denom, reduction, input, name, node_name):
    """loss_i = -sum_c coeff_ic logp_ic over rows, reduced; gradient of the
    log-softmax (p * sum_c coeff_ic - coeff) or, with logp the input itself
    (NLL), -coeff."""
    row_loss = -np.einsum("ij,ij->i", coeff, logp)
    if reduction == "none":
        kind, shape = layout
        value = row_loss.reshape(shape[:-1] if kind == "nd" else _target_shape(shape))
        out, scale = np.asarray(value, x.dtype), 1.0
    else:
        total = np.sum(row_loss, dtype=np.float64)
        # every target ignored: torch's mean is 0 / 0, NaN, but its gradient
        # is 0 (every coefficient is 0)
        scale = (1.0 / denom if denom else 0.0) if reduction == "mean" else 1.0
        out = np.array((total * scale if denom else np.nan) if reduction == "mean" else total, x.dtype)
    if not needs_grad(input):
        return wrap(out)
    if logp is x:
        grad = -coeff
    else:
        grad = np.exp(logp) * coeff.sum(axis=1, keepdims=True) - coeff
    if scale != 1.0:
        grad *= grad.dtype.type(scale)
    node = ClassLossBackward()
    node.grad, node.per_row, node.layout, node.name = grad, reduction == "none", layout, node_name
    return record(node, (_t(input),), out)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C), (N, C, d1, ...)
    or (C,) at class indices: -weight[t] input[t]; 'mean' divides by the
    summed weights of the targets that are not ignore_index (as torch)."""
    name = "nll_loss"
    _reduction(reduction, name)
    x = _in(input, name)
    xr, layout = _to_rows(x, name)
    classes = xr.shape[1]
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {t.dtype}")
    ti, valid = _index_target(t, x.shape, classes, int(ignore_index), name)
    w = _class_weight(weight, classes, x.dtype, name)
    wt = valid.astype(x.dtype) if w is None else w[ti] * valid
    coeff = np.zeros_like(xr)
    coeff[np.arange(xr.shape[0]), ti] = wt
    return _class_loss(xr, layout, coeff, xr, np.sum(wt, dtype=np.float64), reduction, input, name, "NllLossBackward")


def cross_entropy_options(input, target, weight, ignore_index, reduction, label_smoothing):
    """cross_entropy with torch's class weights, ignore_index and
    label_smoothing (and inputs of any of torch's layouts), on NumPy."""
    name = "cross_entropy"
    _reduction(reduction, name)
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _in(input, name)
    xr, layout = _to_rows(x, name)
    rows, classes = xr.shape
    logp = np.empty_like(xr)
    if xr.size:
        _C.row_forward(_LOG_SOFTMAX, np.ascontiguousarray(xr), logp, classes)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    w = _class_weight(weight, classes, x.dtype, name)
    wrow = np.ones(classes, x.dtype) if w is None else w
    if t.dtype.kind in "iu":
        ti, valid = _index_target(t, x.shape, classes, int(ignore_index), name)
        wt = valid.astype(x.dtype) if w is None else w[ti] * valid
        coeff = (eps / classes) * (wrow[None, :] * valid[:, None].astype(x.dtype))
        coeff[np.arange(rows), ti] += (1.0 - eps) * wt
        denom = np.sum(wt, dtype=np.float64)
    elif t.dtype.kind == "f":
        if t.shape != x.shape:
            raise ValueError(f"{name}: probability target has shape {t.shape} but input has shape {x.shape}")
        tr, _ = _to_rows(np.asarray(t, x.dtype), name)
        coeff = (tr * (1.0 - eps) + eps / classes) * wrow[None, :]
        denom = float(rows)
    else:
        raise TypeError(f"{name}: target must be integer class indices or float probabilities, got dtype {t.dtype}")
    return _class_loss(xr, layout, coeff.astype(x.dtype, copy=False), logp, denom, reduction, input, name,
                       "CrossEntropyLossBackward")


class BCEWeightedBackward(Node):
    __slots__ = ("grad", "per_elem")
    name = "BinaryCrossEntropyWithLogitsBackward"

    def backward(self, g):
        return (self.grad * (g if self.per_elem else self.grad.dtype.type(g.item())),)

    def release(self):
        self.grad = None


def bce_with_logits_weighted(input, target, weight, pos_weight, reduction):
    """Binary cross-entropy on logits with torch's per-element weight and
    per-class pos_weight (broadcast over the last dims):
    weight ((1 - t) x + (1 + (pos_weight - 1) t) softplus(-x))."""
    name = "binary_cross_entropy_with_logits"
    x, t = _pred_target(input, target, name)

    def arr(v, what):
        if v is None:
            return None
        a = np.asarray(v.data if isinstance(v, Tensor) else v)
        try:
            np.broadcast_shapes(a.shape, x.shape)
        except ValueError:
            raise ValueError(f"{name}: {what} of shape {a.shape} does not broadcast to input shape {x.shape}") \
                from None
        return a.astype(x.dtype)
    w, pw = arr(weight, "weight"), arr(pos_weight, "pos_weight")
    sp = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)  # softplus(-x), stable
    lw = 1 + (pw - 1) * t if pw is not None else None
    loss = (1 - t) * x + (sp if lw is None else lw * sp)
    grad = (1 - t) - (1 - _sigmoid(x)) * (1 if lw is None else lw)
    if w is not None:
        loss = loss * w
        grad = grad * w
    loss = np.broadcast_to(loss, x.shape)
    grad = np.array(np.broadcast_to(grad, x.shape), x.dtype)  # a writable array this node owns
    if reduction == "none":
        out = np.array(loss, x.dtype)
    else:
        total = np.sum(loss, dtype=np.float64)
        mean = reduction == "mean" and x.size
        out = np.array(total / x.size if mean else total, x.dtype)
        if mean:
            grad *= x.dtype.type(1.0 / x.size)
    if not needs_grad(input):
        return wrap(out)
    node = BCEWeightedBackward()
    node.grad, node.per_elem = grad, reduction == "none"
    return record(node, (_t(input),), out)
