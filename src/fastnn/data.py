"""fastnn.data: DataLoader (mini-batches of (X, y) arrays) and
DistributedSampler (each rank's shard of every epoch)."""
import numpy as np

from . import _random


def _index(value, what, low=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{what} must be an int >= {low}, got {value!r}")
    return int(value)


class DistributedSampler:
    """The indices of one rank's shard of a data set of n samples, as PyTorch's
    DistributedSampler gives them.

    Every epoch the n indices are shuffled (shuffle=True) by a permutation
    drawn from np.random.default_rng((seed, epoch)), the same on every rank;
    then either the tail is dropped so that they split evenly (drop_last), or
    they are padded by repeating indices from the start up to a multiple of
    num_replicas.  Rank r takes every num_replicas-th index from position r.
    So every rank gets len(self) indices, the shards are disjoint (apart from
    the padding), and together they cover the data once.  Call set_epoch(e)
    before each epoch for a new order.  n may be a count or a sized data set;
    num_replicas and rank default to fastnn.distributed's world."""

    def __init__(self, n, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            try:
                n = len(n)
            except TypeError:
                raise TypeError(f"DistributedSampler: n must be a sample count or a sized data set, "
                                f"got {type(n).__name__}") from None
        self.n = _index(n, "DistributedSampler: n")
        if num_replicas is None or rank is None:
            from . import distributed
            if not distributed.is_initialized():
                raise ValueError("DistributedSampler: pass num_replicas and rank, or call "
                                 "fastnn.distributed.init() first")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        self.num_replicas = _index(num_replicas, "DistributedSampler: num_replicas", 1)
        self.rank = _index(rank, "DistributedSampler: rank")
        if self.rank >= self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is not in [0, {self.num_replicas})")
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.seed = _index(seed, "DistributedSampler: seed")
        self.epoch = 0
        r = self.num_replicas
        self.num_samples = self.n // r if self.drop_last else -(-self.n // r)
        self.total_size = self.num_samples * r

    def set_epoch(self, epoch):
        self.epoch = _index(epoch, "DistributedSampler.set_epoch: epoch")

    def indices(self):
        """This rank's indices for the current epoch, as an int64 array."""
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > self.n:
            order = np.resize(order, self.total_size)  # repeats from the start, as often as needed
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples

    def __repr__(self):
        return (f"DistributedSampler(n={self.n}, num_replicas={self.num_replicas}, rank={self.rank}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")


class DataLoader:
    """Iterate over (X[batch], y[batch]) in batches of batch_size along axis 0.

    shuffle=True draws a new permutation every epoch (every iteration over
    the loader) from np.random.default_rng(seed), or from fastnn's generator
    (fastnn.manual_seed) when seed is None.  drop_last drops a final batch
    shorter than batch_size.  Without shuffling, batches are views of X and y.

    Data-parallel training: rank= and world_size= make the loader iterate
    over this rank's shard of every epoch (a DistributedSampler with this
    shuffle, drop_last and seed, 0 when None).  Each iteration over the loader
    is the next epoch; set_epoch(e) sets the epoch of the next one (to resume).
    Or pass sampler= (any sized iterable of sample indices, such as a
    DistributedSampler whose set_epoch you call, as in PyTorch); it replaces
    shuffle."""

    def __init__(self, X, y, batch_size, shuffle=False, seed=None, drop_last=False, *,
                 sampler=None, rank=None, world_size=None):
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
        self._own_sampler = False
        if (rank is None) != (world_size is None):
            raise ValueError("DataLoader: pass both rank= and world_size=, or neither")
        if sampler is not None:
            if rank is not None:
                raise ValueError("DataLoader: pass sampler= or rank=/world_size=, not both")
            if self.shuffle:
                raise ValueError("DataLoader: sampler= replaces shuffle=True; shuffle in the sampler")
            try:
                len(sampler)
            except TypeError:
                raise TypeError(f"DataLoader: sampler must have a length, got {type(sampler).__name__}") from None
        elif rank is not None:
            try:
                sampler = DistributedSampler(X.shape[0], world_size, rank, shuffle=self.shuffle,
                                             seed=0 if seed is None else seed, drop_last=self.drop_last)
            except ValueError as e:
                raise ValueError(f"DataLoader: {str(e).replace('DistributedSampler: ', '')}") from None
            self._own_sampler = True
        self.sampler = sampler

    def set_epoch(self, epoch):
        """The epoch of the next iteration (with rank=/world_size= or a sampler that has set_epoch)."""
        if self.sampler is None or not hasattr(self.sampler, "set_epoch"):
            raise ValueError("DataLoader.set_epoch: only a loader over a DistributedSampler has epochs")
        self.sampler.set_epoch(epoch)

    def __len__(self):
        n = self.X.shape[0] if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        if self.sampler is None:
            return self._iter_plain()
        s = self.sampler
        order = s.indices() if isinstance(s, DistributedSampler) else np.fromiter(s, dtype=np.int64)
        if self._own_sampler:
            s.set_epoch(s.epoch + 1)
        return self._iter_sampled(order)

    def _iter_sampled(self, order):
        n, bs = len(order), self.batch_size
        for k in range(len(self)):
            idx = order[k * bs:min(n, (k + 1) * bs)]
            yield self.X[idx], self.y[idx]

    def _iter_plain(self):
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
