"""Losses: `loss_fn(pred, target)` returns the loss as a Python float
(an array for reduction='none') and `loss_fn.backward()` the gradient w.r.t.
pred (for reduction='none': of the summed losses).  The gradient array is
reused from call to call."""
import numpy as np

from .. import _C
from ..ops import class_indices, is_class_index_target
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction
        self._grad = None

    def extra_repr(self):
        return f"reduction={self.reduction!r}"

    def backward(self, grad_out=None):
        """The gradient of the last loss w.r.t. pred (times grad_out when given)."""
        if self._grad is None:
            raise self._error("backward called before the loss was computed", RuntimeError)
        if grad_out is None:
            return self._grad
        return self._grad * np.asarray(grad_out, self._grad.dtype)

    def _reduce(self, per_element, rows):
        if self.reduction == "none":
            return per_element
        total = float(np.sum(per_element, dtype=np.float64))
        return total / rows if self.reduction == "mean" else total

    def _pred_target(self, pred, target):
        pred = self._check_input(pred)
        if not isinstance(target, np.ndarray):
            raise self._error(f"target must be a numpy.ndarray, got {type(target).__name__}", TypeError)
        if target.shape != pred.shape:
            raise self._error(f"target has shape {target.shape} but input has shape {pred.shape}")
        if target.dtype.kind not in "fiub":
            raise self._error(f"target has dtype {target.dtype}", TypeError)
        return pred, np.ascontiguousarray(target, dtype=pred.dtype)


class CrossEntropyLoss(_Loss):
    """Fused log-softmax + NLL on logits (N, C); target class indices (N,)
    (any integer dtype) or class probabilities (N, C)."""

    def forward(self, pred, target):
        x = self._check_input(pred, ndims=(2,))
        rows, classes = x.shape
        grad = self._buffer("grad", x.shape, x.dtype)
        row_loss = self._buffer("row_loss", (rows,), np.float64)
        if is_class_index_target(target):
            t = class_indices(target, rows, classes, self._name())
            loss = _C.cross_entropy_index(x, t, grad, self.reduction, row_loss)
        elif isinstance(target, np.ndarray) and target.dtype.kind == "f":
            if target.shape != x.shape:
                raise self._error(f"probability target has shape {target.shape} but input has shape {x.shape}; "
                                  f"class-index targets must be an integer array of shape ({rows},)")
            t = np.ascontiguousarray(target, dtype=x.dtype)
            loss = _C.cross_entropy_prob(x, t, grad, self.reduction, row_loss)
        else:
            what = type(target).__name__ if not isinstance(target, np.ndarray) else f"dtype {target.dtype}"
            raise self._error(f"target must be integer class indices or float probabilities, got {what}",
                              TypeError)
        self._grad = grad
        if self.reduction == "none":
            return row_loss.astype(x.dtype)
        return float(loss)


class MSELoss(_Loss):
    """mean (or sum) of (pred - target)^2."""

    def forward(self, pred, target):
        pred, target = self._pred_target(pred, target)
        diff = self._buffer("diff", pred.shape, pred.dtype)
        np.subtract(pred, target, out=diff)
        sq = self._buffer("sq", pred.shape, pred.dtype)
        np.multiply(diff, diff, out=sq)
        grad = self._buffer("grad", pred.shape, pred.dtype)
        scale = 2.0 / pred.size if self.reduction == "mean" and pred.size else 2.0
        np.multiply(diff, pred.dtype.type(scale), out=grad)
        self._grad = grad
        if self.reduction == "none":
            return sq.copy()
        return self._reduce(sq, pred.size)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, in the stable form
    max(x, 0) - x t + log1p(exp(-|x|)); gradient sigmoid(x) - t."""

    def __init__(self, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        if pos_weight is not None:
            raise NotImplementedError("BCEWithLogitsLoss: pos_weight is not supported")

    def forward(self, pred, target):
        x, t = self._pred_target(pred, target)
        loss = self._buffer("loss", x.shape, x.dtype)
        tmp = self._buffer("tmp", x.shape, x.dtype)
        np.abs(x, out=tmp)
        np.negative(tmp, out=tmp)
        np.exp(tmp, out=tmp)
        np.log1p(tmp, out=tmp)
        grad = self._buffer("grad", x.shape, x.dtype)
        np.maximum(x, 0, out=loss)
        np.multiply(x, t, out=grad)
        loss -= grad
        loss += tmp
        _C.act_forward(2, x, grad, 0.0)  # sigmoid (FNN_ACT_SIGMOID)
        grad -= t
        if self.reduction == "mean" and x.size:
            grad *= x.dtype.type(1.0 / x.size)
        self._grad = grad
        if self.reduction == "none":
            return loss.copy()
        return self._reduce(loss, x.size)
