"""BatchNorm1d, BatchNorm2d and LayerNorm on the C normalisation kernels."""
import numpy as np

from . import functional as F
from .module import Module, Parameter


class _BatchNorm(Module):
    """Batch norm over channel axis 1.  Training mode normalises with the
    batch's mean and biased variance and updates the running statistics
    (PyTorch's momentum rule, unbiased variance; momentum=None gives the
    cumulative average); eval mode uses the running statistics."""
    _ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=np.float32):
        super().__init__()
        self.num_features = int(num_features)
        if self.num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        c = self.num_features
        if self.affine:
            self.weight = Parameter(np.ones(c, dtype))
            self.bias = Parameter(np.zeros(c, dtype))
        else:
            self.weight = None
            self.bias = None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, dtype))
            self.register_buffer("running_var", np.ones(c, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def _dtype(self):
        if self.affine:
            return self.weight.data.dtype
        return self.running_mean.dtype if self.track_running_stats else None

    def forward(self, x):
        self._check_input(x, ndims=self._ndims, dtype=self._dtype())
        shape = x.shape
        if shape[1] != self.num_features:
            raise self._error(f"expected {self.num_features} channels in dim 1, got input of shape {shape}")
        use_batch = self.training or not self.track_running_stats
        if use_batch and shape[0] * int(np.prod(shape[2:])) < 2:
            raise self._error(f"expected more than 1 value per channel when training, got input of shape {shape}")
        factor = 0.0
        update = self.training and self.track_running_stats
        if update:
            self.num_batches_tracked += 1
            factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None else float(self.momentum))
        stats = update or not use_batch
        return F.batch_norm(x, self.running_mean if stats else None, self.running_var if stats else None,
                            self.weight, self.bias, use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Input (N, C) or (N, C, L)."""
    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Input (N, C, H, W)."""
    _ndims = (4,)


class LayerNorm(Module):
    """Normalises over the trailing normalized_shape dimensions."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=np.float32):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(d) for d in normalized_shape)
        if not self.normalized_shape or min(self.normalized_shape) <= 0:
            raise ValueError(f"LayerNorm: normalized_shape must be positive dims, got {normalized_shape}")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if self.elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype)) if self.elementwise_affine and bias else None
        self._dt = np.dtype(dtype)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, x):
        dtype = self.weight.data.dtype if self.weight is not None else (
            self.bias.data.dtype if self.bias is not None else None)
        self._check_input(x, dtype=dtype)
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k:]) != self.normalized_shape:
            raise self._error(f"expected an input whose last dims are {self.normalized_shape}, got shape {x.shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class GroupNorm(Module):
    """Normalises (N, C, *) over groups of num_channels / num_groups channels
    (the layer-norm kernel on one row per sample and group), then applies a
    per-channel weight (ones) and bias (zeros) as torch."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=np.float32):
        super().__init__()
        for what, v in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"GroupNorm: {what} must be a positive int, got {v!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = float(eps), bool(affine)
        self.weight = Parameter(np.ones(self.num_channels, dtype)) if self.affine else None
        self.bias = Parameter(np.zeros(self.num_channels, dtype)) if self.affine else None

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def forward(self, x):
        self._check_input(x, dtype=self.weight.data.dtype if self.affine else None)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise self._error(f"expected an input (N, {self.num_channels}, ...), got shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
