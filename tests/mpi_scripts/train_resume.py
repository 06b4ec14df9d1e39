"""fastnn.train.Run(distributed=True): every rank holds the same bits, a run
stopped after one epoch and resumed from rank 0's checkpoint ends as the
uninterrupted one, and (without dropout) it follows the one-process run.

    mpiexec -n N python train_resume.py MODEL CHECKPOINT
"""
import sys

import numpy as np

import fastnn
from fastnn import distributed as dist
from fastnn import train

fastnn.set_num_threads(1)
dist.init()
rank, comm = dist.get_rank(), dist._World.comm
model, ck = sys.argv[1], sys.argv[2]
kw = dict(epochs=2, seed=3) if model in ("mlp", "cnn") else dict(epochs=2, seed=3, batch_size=8)
if model in ("lstm", "transformer"):
    train.STEPS_PER_EPOCH = 5

straight = train.Run(model, distributed=True, **kw)
straight.fit(progress=False)
first = train.Run(model, distributed=True, **kw)
first.fit(progress=False, until=1)
if rank == 0:
    first.save(ck)
dist.barrier()
resumed = train.Run.resume(ck, distributed=True)
resumed.fit(progress=False)

a, b = straight.net.state_dict(), resumed.net.state_dict()
assert all(a[k].tobytes() == b[k].tobytes() for k in a), "the resumed run differs"
assert [h["loss"] for h in straight.history] == [h["loss"] for h in resumed.history]
flat = np.concatenate([v.ravel().astype(np.float64) for v in a.values()])
assert all(x.tobytes() == flat.tobytes() for x in comm.allgather(flat)), "ranks differ"
if rank == 0 and model == "mlp":
    single = train.Run(model, **kw)
    single.fit(progress=False)
    s = single.net.state_dict()
    rel = max(float(np.max(np.abs(a[k] - s[k])) / np.max(np.abs(s[k]))) for k in s)
    print(f"{model}: relative difference from one process after 2 epochs {rel:.2e}; "
          f"test acc {straight.history[-1]['metric']:.4f} vs {single.history[-1]['metric']:.4f}", flush=True)
    assert rel < 1e-3, rel
# one line from rank 0 (lines of several ranks may interleave mid-line)
done = dist._World.comm.gather(rank, root=0)
if rank == 0:
    print("OK from", len(done), "ranks", flush=True)
