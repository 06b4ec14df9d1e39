"""all_reduce / broadcast / barrier across the ranks; prints OK from every rank."""
import numpy as np

import fastnn
from fastnn import distributed as dist

fastnn.set_num_threads(1)
dist.init()
dist.init()  # idempotent
assert dist.is_initialized()
rank, n = dist.get_rank(), dist.get_world_size()
comm = dist._World.comm


def everyone(a):
    return comm.allgather(np.array(a, copy=True))


for dtype in (np.float32, np.float64):
    for size in (0, 1, n - 1, n + 1, 1000, 12345):
        rng = np.random.default_rng([rank, size])
        x = rng.standard_normal(size).astype(dtype) * 10.0 ** rng.integers(-3, 4, size)
        parts = everyone(x)
        want = parts[0].copy()
        for p in parts[1:]:
            want += p
        general = x.copy()
        red = dist._OrderedAllreduce(comm, dist._World.comm_b, general, "sum", general=True)
        red.start()
        red.wait()
        got = dist.all_reduce(x)
        assert got is x and np.array_equal(x, want), (dtype, size, np.max(np.abs(x - want)))
        assert general.tobytes() == x.tobytes()  # on 2 ranks MPI's sum: the same bits
        back = everyone(x)
        assert all(b.tobytes() == x.tobytes() for b in back), "ranks differ after all_reduce"
        y = np.stack(parts).copy()[rank]
        dist.all_reduce(y, op="avg")
        assert np.array_equal(y, want / n)
        z = parts[rank].copy()
        dist.all_reduce(z, op="max")
        assert np.array_equal(z, np.max(np.stack(parts), axis=0) if size else z)

# integers go through MPI's own reduction (exact); a non-contiguous view is reduced in place
k = np.arange(10, dtype=np.int64) * (rank + 1)
dist.all_reduce(k)
assert np.array_equal(k, np.arange(10) * sum(range(1, n + 1)))
m = np.zeros((4, 6))
m[:, ::2] = rank + 1
dist.all_reduce(m[:, ::2], op="prod")
assert np.all(m[:, ::2] == np.prod(np.arange(1, n + 1))) and np.all(m[:, 1::2] == 0)

# Tensors: their data, in place
t = fastnn.Tensor(np.full(4, rank + 1.0))
assert dist.all_reduce(t, op="avg") is t and np.all(t.data == sum(range(1, n + 1)) / n)
w = fastnn.nn.Parameter(np.full(3, float(rank), dtype=np.float32))
assert dist.broadcast(w, root=0) is w and np.all(w.data == 0) and w.requires_grad

b = np.full((3, 5), float(rank), dtype=np.float32)
assert dist.broadcast(b, root=n - 1) is b and np.all(b == n - 1)
try:
    dist.all_reduce(np.zeros(3), op="mean")
except ValueError as e:
    assert "op must be one of" in str(e)
else:
    raise AssertionError("a bad op was accepted")
dist.barrier()
# one line from rank 0 (lines of several ranks may interleave mid-line)
done = dist._World.comm.gather(rank, root=0)
if rank == 0:
    print("OK from", len(done), "ranks", flush=True)
