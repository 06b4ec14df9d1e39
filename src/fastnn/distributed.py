"""fastnn.distributed: data-parallel training over MPI, through mpi4py.

Launch one process per rank with `mpiexec -n N python script.py`; each calls
`init()`.  Without mpiexec, `init()` makes a world of one process.

Floating-point sums over three or more ranks do not use MPI's own reduction:
MPI does not promise that every rank gets the same bits (a tree or ring
reduction may add the contributions in a different order on different ranks,
and a different order again with another message size or process layout).
Instead each rank owns a slice of the array, receives every rank's copy of
that slice, adds them in rank order 0, 1, ..., N-1, and hands the sum back to
all (a reduce-scatter, then an allgather, with MPI moving bytes only).  Each
element is added by one rank in one fixed order, so every rank holds the same
bits and a run repeats bit for bit; it moves 2(N-1)/N of the array per rank,
as a ring allreduce does.  Over two ranks each element is a single a + b,
which equals b + a bit for bit, so MPI's allreduce gives those same bits.
"""
import sys
import time
from contextlib import contextmanager

import numpy as np

from .autograd import Tensor

__all__ = ["init", "is_initialized", "get_rank", "get_world_size", "barrier", "all_reduce",
           "broadcast", "DistributedDataParallel"]

_OPS = ("sum", "avg", "prod", "min", "max")


class _World:
    comm = None            # the communicator of the collectives below (a copy of COMM_WORLD)
    comm_b = None          # another copy, for the second phase of the ordered reduction
    ddp = None             # two more, for DistributedDataParallel's gradients (made when first needed)
    MPI = None
    abort_hook = None      # the sys.excepthook init() installed, if any


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("fastnn.distributed needs mpi4py and an MPI library: "
                          "pip install 'fastnn[mpi]'") from e
    return MPI


def init(abort_on_exception=True):
    """Join the MPI world (idempotent: later calls only adjust the exception hook).

    With abort_on_exception (the default) and more than one rank, an uncaught
    exception prints its traceback and then calls MPI_Abort, which ends every
    rank: the others would otherwise wait forever in their next collective.
    `python -m mpi4py` does the same.  abort_on_exception=False leaves
    sys.excepthook as it was."""
    if _World.comm is None:
        MPI = _import_mpi()
        if not MPI.Is_initialized():
            MPI.Init_thread()
        _World.MPI = MPI
        _World.comm = MPI.COMM_WORLD.Dup()
        _World.comm_b = MPI.COMM_WORLD.Dup()
    if abort_on_exception and _World.comm.Get_size() > 1:
        if sys.excepthook is not _World.abort_hook:
            _World.abort_hook = _make_abort_hook(sys.excepthook)
            sys.excepthook = _World.abort_hook
    elif _World.abort_hook is not None and sys.excepthook is _World.abort_hook:
        sys.excepthook = _World.abort_hook.previous
        _World.abort_hook = None


def _make_abort_hook(previous):
    def hook(exc_type, exc, tb):
        try:
            previous(exc_type, exc, tb)
            sys.stdout.flush()
            sys.stderr.flush()
            # the launcher forwards our output through a pipe, and the abort
            # ends it too: give it a moment to pass the traceback on, or the
            # user may see its first lines without the error
            time.sleep(0.5)
        finally:
            _World.MPI.COMM_WORLD.Abort(1)
    hook.previous = previous
    return hook


def is_initialized():
    return _World.comm is not None


def _comm(what):
    if _World.comm is None:
        raise RuntimeError(f"fastnn.distributed.{what}: call fastnn.distributed.init() first")
    return _World.comm


def get_rank():
    return _comm("get_rank").Get_rank()


def get_world_size():
    return _comm("get_world_size").Get_size()


def barrier():
    _comm("barrier").Barrier()


def _threads_per_rank():
    """fastnn's default thread count shared among the ranks on this node."""
    from . import get_num_threads
    node = _comm("_threads_per_rank").Split_type(_World.MPI.COMM_TYPE_SHARED)
    try:
        return max(1, get_num_threads() // node.Get_size())
    finally:
        node.Free()


def _array_of(x, what):
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, Tensor):
        return x.data
    raise TypeError(f"fastnn.distributed.{what}: expected a numpy.ndarray or a fastnn Tensor, "
                    f"got {type(x).__name__}")


def all_reduce(array, op="sum"):
    """Reduce `array` (an ndarray or a Tensor's data) over all ranks, in place,
    and return it.  op: "sum", "avg", "prod", "min" or "max".  Float sums,
    averages and products are added in rank order (see the module's doc), so
    every rank gets the same bits."""
    comm = _comm("all_reduce")
    a = _array_of(array, "all_reduce")
    if op not in _OPS:
        raise ValueError(f"fastnn.distributed.all_reduce: op must be one of {_OPS}, got {op!r}")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"fastnn.distributed.all_reduce: arrays of dtype {a.dtype} cannot be reduced")
    if op == "avg" and a.dtype.kind != "f":
        raise TypeError(f"fastnn.distributed.all_reduce: op='avg' needs a float array, got {a.dtype}")
    if comm.Get_size() == 1:
        return array
    buf = a if a.flags.c_contiguous and a.flags.writeable else np.ascontiguousarray(a)
    flat = buf.reshape(-1)
    if a.dtype.kind == "f" and op in ("sum", "avg", "prod"):
        red = _OrderedAllreduce(comm, _World.comm_b, flat, op)
        red.start()
        red.wait()
    else:
        MPI = _World.MPI
        mpi_op = {"sum": MPI.SUM, "prod": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX}[op]
        comm.Allreduce(MPI.IN_PLACE, flat, op=mpi_op)
    if buf is not a:
        np.copyto(a, buf)
    return array


def broadcast(array, root=0):
    """Copy rank `root`'s `array` (an ndarray or a Tensor's data) into every
    rank's, in place, and return it."""
    comm = _comm("broadcast")
    a = _array_of(array, "broadcast")
    n = comm.Get_size()
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < n:
        raise ValueError(f"fastnn.distributed.broadcast: root must be a rank in [0, {n}), got {root!r}")
    if n == 1:
        return array
    buf = a if a.flags.c_contiguous and a.flags.writeable else np.ascontiguousarray(a)
    comm.Bcast(buf.reshape(-1), root=int(root))
    if buf is not a:
        np.copyto(a, buf)
    return array


class _OrderedAllreduce:
    """A non-blocking sum (or average, or product) of a flat float array over
    all ranks, in fixed rank order: an Ialltoallv gives each rank every rank's
    copy of its own slice, the rank adds them in rank order, and an Iallgatherv
    returns the sums.  The two phases run on two communicators so that every
    communicator sees its operations in the same order on every rank however
    the phases of several reductions interleave.

    Two ranks are the exception: each element's result is then one addition
    (or multiplication) of two numbers, and a + b == b + a bit for bit, so
    MPI's own Iallreduce gives every rank the same bits as the ordered sum
    does, in one phase and with MPI's tuned algorithms."""

    def __init__(self, comm_a, comm_b, flat, op="sum", general=False):
        self.comm_a, self.comm_b, self.flat, self.op = comm_a, comm_b, flat, op
        p, me = comm_a.Get_size(), comm_a.Get_rank()
        self.req = None
        self.phase = 0   # 0 not started, 1 exchanging slices, 2 gathering sums, 3 done
        self.pair = p == 2 and not general  # general=True: the ordered path on two ranks too
        if self.pair:
            return
        counts = np.full(p, flat.size // p, dtype=np.int64)
        counts[:flat.size % p] += 1
        displs = np.zeros(p, dtype=np.int64)
        np.cumsum(counts[:-1], out=displs[1:])
        self.counts, self.displs = counts.tolist(), displs.tolist()
        m = self.counts[me]
        self.parts = np.empty((p, m), dtype=flat.dtype)
        self.mine = np.empty(m, dtype=flat.dtype)

    def start(self):
        if self.pair:
            MPI = _World.MPI
            self.req = self.comm_a.Iallreduce(MPI.IN_PLACE, self.flat, op=MPI.PROD if self.op == "prod" else MPI.SUM)
            self.phase = 1
            return
        p, m = len(self.counts), self.parts.shape[1]
        self.req = self.comm_a.Ialltoallv([self.flat, (self.counts, self.displs)],
                                          [self.parts, ([m] * p, [k * m for k in range(p)])])
        self.phase = 1

    def ready_to_gather(self):
        """True once the slices are here (tests the request, which also lets MPI progress)."""
        return self.phase == 1 and self.req.Test()

    def gather(self):
        """Add the slices in rank order and start returning the sums (the slices must be here)."""
        self.req.Wait()
        if self.pair:
            if self.op == "avg":
                np.divide(self.flat, 2, out=self.flat)
            self.phase = 3
            return
        parts, mine = self.parts, self.mine
        combine = np.multiply if self.op == "prod" else np.add
        np.copyto(mine, parts[0])
        for row in parts[1:]:
            combine(mine, row, out=mine)
        if self.op == "avg":
            np.divide(mine, len(parts), out=mine)
        self.req = self.comm_b.Iallgatherv(mine, [self.flat, (self.counts, self.displs)])
        self.phase = 2

    def wait(self):
        if self.phase == 1:
            self.gather()
        if self.phase == 2:
            self.req.Wait()
            self.phase = 3


def _queue_callback(fn):
    from . import autograd
    autograd.queue_callback(fn)


class _Bucket:
    """Gradients of some parameters of one dtype, flattened into one buffer,
    followed by one flag per parameter (1 where this rank has a gradient)."""

    def __init__(self, params, dtype):
        self.params = params
        self.dtype = dtype
        sizes = [int(np.prod(p.data.shape)) for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        total = self.offsets[-1]
        self.buffer = np.zeros(total + len(params), dtype=dtype)
        self.flags = self.buffer[total:]
        self.ready = 0
        self.reduction = None

    def view(self, k):
        p = self.params[k]
        return self.buffer[self.offsets[k]:self.offsets[k + 1]].reshape(p.data.shape)


class DistributedDataParallel:
    """Train `module` data-parallel: every rank runs it on its own shard of each
    batch, and after `loss.backward()` every parameter's .grad holds the
    average over the ranks of their gradients, the same bits on every rank.

    At construction rank 0's parameters and buffers are copied to all ranks.
    Gradients travel in buckets of about `bucket_cap_mb` megabytes (parameters
    in reverse order, as the backward pass usually produces them): a bucket's
    reduction starts, non-blocking, as soon as each of its parameters has its
    final gradient of this backward, so communication overlaps the rest of
    the backward pass; when the backward ends, the remaining buckets are
    reduced and the averages are written back into .grad.  A parameter that
    got no gradient on a rank counts as zeros there; one that got none on any
    rank keeps .grad as it was.

    broadcast_buffers (the default, as in PyTorch) copies rank 0's buffers
    (BatchNorm's running statistics) to all ranks before every forward in
    training mode; batch statistics themselves stay per rank.

    `no_sync()` is a context manager under which backward passes only
    accumulate local gradients (gradient accumulation); the first backward
    after it averages the accumulated gradients."""

    def __init__(self, module, bucket_cap_mb=4.0, broadcast_buffers=True):
        if not is_initialized():
            init()
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb!r}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = float(bucket_cap_mb)
        world = _World.comm
        # communicators of their own, so that the user's collectives never interleave with these
        if _World.ddp is None:
            _World.ddp = (world.Dup(), world.Dup())
        self._comm_a, self._comm_b = _World.ddp
        self.world_size = world.Get_size()
        params, seen = [], set()
        for p in module.parameters():
            if id(p) not in seen and getattr(p, "requires_grad", True):
                seen.add(id(p))
                params.append(p)
        self._params = params
        self._check_same_model(world)
        for p in params:
            broadcast(p.data, 0)
        self._sync_buffers()
        self._buckets, self._where = self._make_buckets(params, int(self.bucket_cap_mb * 2 ** 20))
        self._launched = 0        # buckets 0.._launched-1 have started their reduction this backward
        self._gathered = 0        # ...and 0.._gathered-1 their second phase
        self._in_backward = False
        self._sync = True
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params] \
            if self.world_size > 1 else []

    # ------------------------------------------------------------ set-up
    def _check_same_model(self, world):
        mine = [(name, tuple(p.data.shape), str(p.data.dtype)) for name, p in self.module.named_parameters()]
        mine += [(name, tuple(b.shape), str(b.dtype)) for name, b in self.module.named_buffers()]
        everyone = world.allgather(mine)
        for r, theirs in enumerate(everyone):
            if theirs != mine:
                diff = next((a, b) for a, b in zip(mine + [None] * len(theirs), theirs + [None] * len(mine))
                            if a != b)
                raise ValueError(f"DistributedDataParallel: rank {world.Get_rank()} and rank {r} hold different "
                                 f"models (parameters and buffers differ first at {diff[0]} vs {diff[1]})")

    @staticmethod
    def _make_buckets(params, cap_bytes):
        buckets, where, group = [], {}, []

        def close():
            if group:
                buckets.append(_Bucket(list(group), group[0].data.dtype))
                group.clear()
        size = 0
        for p in reversed(params):
            nbytes = p.data.nbytes
            if group and (p.data.dtype != group[0].data.dtype or size + nbytes > cap_bytes):
                close()
                size = 0
            group.append(p)
            size += nbytes
        close()
        for b, bucket in enumerate(buckets):
            for k, p in enumerate(bucket.params):
                where[id(p)] = (b, k)
        return buckets, where

    def _sync_buffers(self):
        if self.world_size > 1:
            for _, b in self.module.named_buffers():
                broadcast(b, 0)

    # ------------------------------------------------------------ the backward pass
    def _on_grad(self, p):
        if not self._sync:
            return
        if not self._in_backward:
            self._in_backward = True
            _queue_callback(self._finish)
        b, k = self._where[id(p)]
        bucket = self._buckets[b]
        np.copyto(bucket.view(k), p.grad, casting="same_kind")
        bucket.flags[k] = 1
        bucket.ready += 1
        self._advance()

    def _advance(self):
        # buckets start in index order on every rank, whatever order the
        # gradients arrive in, so the ranks' collectives always match
        buckets = self._buckets
        while self._launched < len(buckets) and buckets[self._launched].ready == len(buckets[self._launched].params):
            self._start(buckets[self._launched])
            self._launched += 1
        while self._gathered < self._launched and buckets[self._gathered].reduction.ready_to_gather():
            buckets[self._gathered].reduction.gather()
            self._gathered += 1

    def _start(self, bucket):
        bucket.reduction = _OrderedAllreduce(self._comm_a, self._comm_b, bucket.buffer, "avg")
        bucket.reduction.start()

    def _finish(self):
        """At the end of the backward: reduce what is left, write the averages back."""
        try:
            for bucket in self._buckets[self._launched:]:
                if bucket.ready < len(bucket.params):
                    for k, p in enumerate(bucket.params):
                        if not bucket.flags[k]:
                            has = p.grad is not None
                            if has:
                                np.copyto(bucket.view(k), p.grad, casting="same_kind")
                            else:
                                bucket.view(k).fill(0)
                            bucket.flags[k] = 1 if has else 0
                self._start(bucket)
            self._launched = len(self._buckets)
            for bucket in self._buckets:
                bucket.reduction.wait()
                for k, p in enumerate(bucket.params):
                    if bucket.flags[k] > 0:
                        if p.grad is None:
                            p.grad = bucket.view(k).copy()
                        else:
                            np.copyto(p.grad, bucket.view(k), casting="same_kind")
        finally:
            for bucket in self._buckets:
                bucket.ready = 0
                bucket.flags.fill(0)
                bucket.reduction = None
            self._launched = self._gathered = 0
            self._in_backward = False

    @contextmanager
    def no_sync(self):
        """Backward passes inside only accumulate this rank's gradients."""
        old, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = old

    # ------------------------------------------------------------ the module's face
    def forward(self, *args, **kwargs):
        if self.broadcast_buffers and getattr(self.module, "training", False):
            self._sync_buffers()
        return self.module(*args, **kwargs)

    __call__ = forward

    def parameters(self):
        return self.module.parameters()

    def named_parameters(self, *args, **kwargs):
        return self.module.named_parameters(*args, **kwargs)

    def named_buffers(self, *args, **kwargs):
        return self.module.named_buffers(*args, **kwargs)

    def state_dict(self):
        """The module's state dict, with the module's own names (no 'module.' prefix)."""
        return self.module.state_dict()

    def load_state_dict(self, state_dict, strict=True):
        return self.module.load_state_dict(state_dict, strict=strict)

    def train(self, mode=True):
        self.module.train(mode)
        return self

    def eval(self):
        self.module.eval()
        return self

    @property
    def training(self):
        return self.module.training

    def zero_grad(self, *args, **kwargs):
        return self.module.zero_grad(*args, **kwargs)

    def remove_hooks(self):
        """Stop averaging gradients (the module trains locally from now on)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __repr__(self):
        return (f"DistributedDataParallel(world_size={self.world_size}, buckets={len(self._buckets)}, "
                f"module={self.module!r})")
