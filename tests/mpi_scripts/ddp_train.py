"""DistributedDataParallel against one process: 20 SGD steps on every rank
with batch B (its slice of a global batch of N*B), and on rank 0 a plain model
trained on the whole global batch.  After every step every rank must hold the
same bits; prints the largest relative difference from the plain model.

    mpiexec -n N python ddp_train.py float32|float64 mlp|cnn
"""
import sys

import numpy as np

import fastnn
from fastnn import distributed as dist
from fastnn import nn, optim

fastnn.set_num_threads(1)
dist.init()
rank, n = dist.get_rank(), dist.get_world_size()
comm = dist._World.comm
dtype, kind = np.dtype(sys.argv[1]), sys.argv[2]
B, STEPS = 8, 20


def build(seed):
    fastnn.manual_seed(seed)
    if kind == "mlp":
        m = nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5))
    else:
        m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 3 * 3, 5))
    return m.to(dtype)


shape = (12,) if kind == "mlp" else (1, 6, 6)
data = np.random.default_rng(0)
X = data.standard_normal((STEPS, n * B) + shape).astype(dtype)
Y = data.integers(0, 5, (STEPS, n * B))

# ranks start apart; buckets of a few hundred bytes, so that there are several
model = dist.DistributedDataParallel(build(1 + rank), bucket_cap_mb=(2000 if kind == "mlp" else 300) / 2 ** 20)
assert len(model._buckets) >= 2
opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
if rank == 0:
    ref = build(1)
    ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)

# how many buckets had started their reduction when the backward ended
finish, started = model._finish, []
model._finish = lambda: (started.append(model._launched), finish())

worst = 0.0
for step in range(STEPS):
    lo = rank * B
    loss = loss_fn(model(X[step, lo:lo + B]), Y[step, lo:lo + B])
    opt.zero_grad()
    loss.backward()
    opt.step()
    mine = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert all(m.tobytes() == mine.tobytes() for m in comm.allgather(mine)), f"ranks differ after step {step}"
    if rank == 0:
        ref_loss = loss_fn(ref(X[step]), Y[step])
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        for p, q in zip(model.parameters(), ref.parameters()):
            worst = max(worst, float(np.max(np.abs(p.data - q.data)) / np.max(np.abs(q.data))))
assert len(started) == STEPS and min(started) >= 1, started  # overlap: not all left for the end
if rank == 0:
    moved = max(float(np.max(np.abs(p.data - q.data))) for p, q in zip(ref.parameters(), build(1).parameters()))
    print(f"max relative difference {worst:.3e}  (parameters moved by up to {moved:.3f})", flush=True)
# one line from rank 0 (lines of several ranks may interleave mid-line)
done = dist._World.comm.gather(rank, root=0)
if rank == 0:
    print("OK from", len(done), "ranks", flush=True)
