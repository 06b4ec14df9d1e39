"""DistributedDataParallel and BatchNorm's buffers: rank 0's at construction
and before every training forward (broadcast_buffers), batch statistics per rank."""
import numpy as np

import fastnn
from fastnn import distributed as dist
from fastnn import nn

fastnn.set_num_threads(1)
dist.init()
rank, comm = dist.get_rank(), dist._World.comm


def same(a):
    return all(x.tobytes() == a.tobytes() for x in comm.allgather(a))


fastnn.manual_seed(rank)
bn = nn.BatchNorm1d(8, momentum=0.0)  # momentum 0: a forward leaves the running statistics as they are
net = nn.Sequential(nn.Linear(6, 8), bn, nn.ReLU(), nn.Linear(8, 3))
bn.running_mean[:] = rank + 1.0
model = dist.DistributedDataParallel(net)
assert np.all(bn.running_mean == 1.0) and all(same(b) for _, b in net.named_buffers())

bn.running_mean[:] = rank + 5.0            # the ranks drift apart ...
model.eval()
x = np.random.default_rng(rank).standard_normal((16, 6)).astype(np.float32) + rank
model(x)
assert not same(bn.running_mean)           # ... and an eval forward leaves them so
model.train()
out = model(x)                             # a training forward starts from rank 0's
assert np.all(bn.running_mean == 5.0) and same(bn.running_var)
# the batch statistics are each rank's own: rank 1's inputs are shifted, its outputs are not
h = net[0](x).data
mean = h.mean(axis=0)
ref = (h - mean) / np.sqrt(h.var(axis=0) + bn.eps) * bn.weight.data + bn.bias.data
got = bn(net[0](x)).data
assert np.allclose(got, ref, atol=1e-5), np.max(np.abs(got - ref))
# one line from rank 0 (lines of several ranks may interleave mid-line)
done = dist._World.comm.gather(rank, root=0)
if rank == 0:
    print("OK from", len(done), "ranks", flush=True)
