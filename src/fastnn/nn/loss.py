"""Losses: `loss_fn(input, target)` returns the loss as a 0-d Tensor (per
element for reduction='none'); `loss.backward()` starts the backward."""
import numpy as np

from ..autograd import Tensor
from . import functional as F
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"



def _legacy_args(layer, first, size_average, reduce, reduction):
    """torch's deprecated size_average / reduce are refused; a string in the
    first place is the reduction (fastnn's positional form)."""
    if size_average is not None or reduce is not None:
        raise NotImplementedError(f"{layer}: size_average and reduce are deprecated in torch and not supported; "
                                  f"use reduction=")
    if isinstance(first, str):
        return None, first
    return first, reduction


def _weight_buffer(loss, name, value):
    """An optional loss weight, kept as a buffer (in the state dict, as torch's)."""
    if value is not None:
        value = np.array(value.data if isinstance(value, Tensor) else value, copy=True)
        if value.dtype.kind != "f":
            value = value.astype(np.float32)
    loss.register_buffer(name, value)


def _reduction_only(layer, size_average, reduce, reduction):
    """The reduction of a loss whose torch signature starts with size_average."""
    if isinstance(size_average, str):
        return size_average
    return _legacy_args(layer, None, size_average, reduce, reduction)[1]


class CrossEntropyLoss(_Loss):
    """Fused log-softmax + NLL on logits (N, C); target class indices (N,)
    (any integer dtype) or class probabilities (N, C).  torch's options:
    weight (C,) (a buffer), ignore_index, label_smoothing; also inputs (C,)
    and (N, C, d1, ...) with targets (,) and (N, d1, ...)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        weight, reduction = _legacy_args("CrossEntropyLoss", weight, size_average, reduce, reduction)
        super().__init__(reduction)
        if not 0.0 <= float(label_smoothing) <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        _weight_buffer(self, "weight", weight)
        self.ignore_index, self.label_smoothing = int(ignore_index), float(label_smoothing)

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction, weight=self.weight, ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing)


class MSELoss(_Loss):
    """mean (or sum) of (input - target)^2."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, in the stable form
    max(x, 0) - x t + log1p(exp(-|x|)); gradient sigmoid(x) - t.  torch's
    weight (per element, broadcast) and pos_weight (per class, broadcast
    over the last dim) are buffers."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        weight, reduction = _legacy_args("BCEWithLogitsLoss", weight, size_average, reduce, reduction)
        super().__init__(reduction)
        _weight_buffer(self, "weight", weight)
        _weight_buffer(self, "pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.reduction, pos_weight=self.pos_weight,
                                                  weight=self.weight)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C), (N, C, d1, ...)
    or (C,) at class indices; torch's weight (C,) (a buffer) and
    ignore_index; 'mean' divides by the summed weights of the kept targets."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        weight, reduction = _legacy_args("NLLLoss", weight, size_average, reduce, reduction)
        super().__init__(reduction)
        _weight_buffer(self, "weight", weight)
        self.ignore_index = int(ignore_index)

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class L1Loss(_Loss):
    """mean (or sum) of |input - target|."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(_reduction_only("L1Loss", size_average, reduce, reduction))

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """0.5 d^2 where |d| < delta, delta (|d| - delta / 2) elsewhere."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        if not float(delta) > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = float(delta)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, delta={self.delta}"

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere (L1 for beta 0)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(_reduction_only("SmoothL1Loss", size_average, reduce, reduction))
        if float(beta) < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = float(beta)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, beta={self.beta}"

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)
