"""DistributedDataParallel's buckets, driven by hand: stand-in parameters whose
post-accumulate-grad hooks this script fires in a different order on every
rank, some parameters without a gradient on some ranks, then the end-of-backward
callback.  Checks the averages against an ordered sum of every rank's gradients."""
import numpy as np

import fastnn
from fastnn import distributed as dist

fastnn.set_num_threads(1)
dist.init()
rank, n = dist.get_rank(), dist.get_world_size()
comm = dist._World.comm


class Handle:
    def __init__(self, hooks, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self):
        self.hooks.remove(self.fn)


class Param:
    requires_grad = True

    def __init__(self, data):
        self.data, self.grad, self.hooks = data, None, []

    def register_post_accumulate_grad_hook(self, fn):
        self.hooks.append(fn)
        return Handle(self.hooks, fn)


class Module:
    training = True

    def __init__(self, params, buffers):
        self.params, self.buffers = params, buffers

    def parameters(self):
        return list(self.params.values())

    def named_parameters(self):
        return iter(self.params.items())

    def named_buffers(self):
        return iter(self.buffers.items())

    def __call__(self, x):
        return x


shapes = [(7, 5), (300,), (64, 64), (3,), (50, 20), (1,), (129,), (10, 10)]
dtypes = [np.float32, np.float32, np.float32, np.float64, np.float64, np.float32, np.float32, np.float32]
rng = np.random.default_rng(100 + rank)  # a different start on every rank
params = {f"p{k}": Param(rng.standard_normal(s).astype(d)) for k, (s, d) in enumerate(zip(shapes, dtypes))}
buffers = {"running": rng.standard_normal(4), "count": np.array(rank, dtype=np.int64)}
module = Module(params, buffers)

callbacks = []
dist._queue_callback = callbacks.append
ddp = dist.DistributedDataParallel(module, bucket_cap_mb=4096 / 2 ** 20)  # 4 KB: several buckets
assert len(ddp._buckets) >= 4, len(ddp._buckets)
assert all(len({p.data.dtype for p in b.params}) == 1 for b in ddp._buckets)

# construction copied rank 0's parameters and buffers
for name, p in params.items():
    assert all(x.tobytes() == p.data.tobytes() for x in comm.allgather(p.data)), name
assert int(buffers["count"]) == 0
assert all(x.tobytes() == buffers["running"].tobytes() for x in comm.allgather(buffers["running"]))

names = list(params)
never = "p5"                       # no gradient on any rank: .grad stays None
for step in range(3):
    grng = np.random.default_rng([step, rank])
    order = [names[i] for i in grng.permutation(len(names)) if names[i] != never]
    skipped = order[-1] if rank == 1 else None   # rank 1 gives one parameter no gradient
    order = [k for k in order if k != skipped]
    local = {}
    for k in order:
        p = params[k]
        p.grad = (grng.standard_normal(p.data.shape) * 10.0 ** grng.integers(-4, 4)).astype(p.data.dtype)
        local[k] = p.grad.copy()
    for k in names:
        if k not in local:
            params[k].grad = None
    everyone = comm.allgather(local)
    for k in order:
        for h in params[k].hooks:
            h(params[k])
    assert len(callbacks) == 1, "one end-of-backward callback per backward"
    callbacks.pop()()
    for k in names:
        contribs = [e.get(k) for e in everyone]
        if all(c is None for c in contribs):
            assert params[k].grad is None, k
            continue
        want = np.zeros(params[k].data.shape, params[k].data.dtype)
        want = contribs[0].copy() if contribs[0] is not None else want
        for c in contribs[1:]:
            want += c if c is not None else 0
        want /= n
        got = params[k].grad
        assert got is not None and got.dtype == params[k].data.dtype, k
        assert np.array_equal(got, want), (k, np.max(np.abs(got - want)))
        assert all(x.tobytes() == got.tobytes() for x in comm.allgather(got)), k

# gradients arriving in reverse parameter order start each bucket's reduction before the backward ends
for p in params.values():
    p.grad = None
launched = []
for k in reversed(names):
    params[k].grad = np.ones(params[k].data.shape, params[k].data.dtype) * (rank + 1)
    for h in params[k].hooks:
        h(params[k])
    launched.append(ddp._launched)
assert launched[-1] == len(ddp._buckets), launched
assert launched[len(launched) // 2] >= 1, launched
callbacks.pop()()
assert all(np.all(p.grad == sum(range(1, n + 1)) / n) for p in params.values())

# no_sync: hooks do nothing, no callback is queued
with ddp.no_sync():
    for k in names:
        for h in params[k].hooks:
            h(params[k])
assert not callbacks
ddp.remove_hooks()
assert all(not p.hooks for p in params.values())
# one line from rank 0 (lines of several ranks may interleave mid-line)
done = dist._World.comm.gather(rank, root=0)
if rank == 0:
    print("OK from", len(done), "ranks", flush=True)
