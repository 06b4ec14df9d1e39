"""Losses: `loss_fn(input, target)` returns the loss as a 0-d Tensor (per
element for reduction='none'); `loss.backward()` starts the backward."""
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


class CrossEntropyLoss(_Loss):
    """Fused log-softmax + NLL on logits (N, C); target class indices (N,)
    (any integer dtype) or class probabilities (N, C)."""

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction)


class MSELoss(_Loss):
    """mean (or sum) of (input - target)^2."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, in the stable form
    max(x, 0) - x t + log1p(exp(-|x|)); gradient sigmoid(x) - t."""

    def __init__(self, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        if pos_weight is not None:
            raise NotImplementedError("BCEWithLogitsLoss: pos_weight is not supported")

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)
