"""fastnn.data.DataLoader: mini-batches of (X, y) arrays."""
import numpy as np

from . import _random


class DataLoader:
    """Iterate over (X[batch], y[batch]) in batches of batch_size along axis 0.

    shuffle=True draws a new permutation every epoch (every iteration over
    the loader) from np.random.default_rng(seed), or from fastnn's generator
    (fastnn.manual_seed) when seed is None.  drop_last drops a final batch
    shorter than batch_size.  Without shuffling, batches are views of X and y.
    """

    def __init__(self, X, y, batch_size, shuffle=False, seed=None, drop_last=False):
        X, y = np.asarray(X), np.asarray(y)
        if X.ndim == 0 or y.ndim == 0:
            raise ValueError("DataLoader: X and y must have a sample axis (axis 0)")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"DataLoader: X has {X.shape[0]} samples (shape {X.shape}) but y has "
                             f"{y.shape[0]} (shape {y.shape})")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.X, self.y = X, y
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self):
        n = self.X.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n, bs = self.X.shape[0], self.batch_size
        if self.shuffle:
            rng = self._rng if self._rng is not None else _random.generator()
            order = rng.permutation(n)
        for k in range(len(self)):
            lo, hi = k * bs, min(n, (k + 1) * bs)
            if self.shuffle:
                idx = order[lo:hi]
                yield self.X[idx], self.y[idx]
            else:
                yield self.X[lo:hi], self.y[lo:hi]
