"""Data-parallel MLP training on MNIST-sized data: one process with 2 threads
against 2 MPI ranks with 1 thread each (DistributedDataParallel), examples
per second at the same global batch, and the gradient allreduce's share of a
step.  The two contenders alternate, a few rounds each:

    python benchmarks/distributed_mlp.py [--rounds 3] [--batch 128] [--bucket-mb 4]

(needs fastnn[mpi]: mpi4py and an mpiexec beside the interpreter or on PATH).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(args):
    import fastnn
    from fastnn import distributed as dist
    from fastnn import nn, optim
    fastnn.set_num_threads(args.threads)
    dist.init()
    rank, n = dist.get_rank(), dist.get_world_size()
    fastnn.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    model = dist.DistributedDataParallel(net, bucket_cap_mb=args.bucket_mb) if n > 1 else net
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    b = args.batch // n
    rng = np.random.default_rng(rank)
    X = rng.random((8, b, 784), dtype=np.float32)
    Y = rng.integers(0, 10, (8, b))
    waits = []
    if n > 1:
        finish = model._finish

        def timed():
            t0 = time.perf_counter()
            finish()
            waits.append(time.perf_counter() - t0)
        model._finish = timed

    def step(k):
        loss = loss_fn(model(X[k % 8]), Y[k % 8])
        opt.zero_grad()
        loss.backward()
        opt.step()
    for k in range(10):
        step(k)
    times = []
    for k in range(args.steps):
        t0 = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - t0)
    out = {"ranks": n, "threads": args.threads, "step_s": float(np.median(times)),
           "examples_per_s": args.batch / float(np.median(times))}
    if n > 1:
        grads = np.concatenate([p.grad.ravel() for p in net.parameters()])
        ar = []
        for _ in range(30):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(grads, op="avg")
            ar.append(time.perf_counter() - t0)
        out.update(grad_mb=grads.nbytes / 1e6, allreduce_s=float(np.median(ar)),
                   end_of_backward_s=float(np.median(waits[-args.steps:])), buckets=len(model._buckets))
    if rank == 0:
        print(json.dumps(out), flush=True)


def launch(ranks, threads, args):
    me = [sys.executable, os.path.abspath(__file__), "--worker", "--threads", str(threads),
          "--batch", str(args.batch), "--steps", str(args.steps), "--bucket-mb", str(args.bucket_mb)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
    if ranks > 1:
        sys.path.insert(0, os.path.join(HERE, "..", "tests"))
        from mpi_run import mpiexec
        exe, flavour = mpiexec()
        pre = [exe, "-launcher", "fork", "-iface", "lo"] if flavour == "mpich" else \
            [exe, "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo"]
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        me = pre + ["-n", str(ranks)] + me
    r = subprocess.run(me, capture_output=True, text=True, env=env, timeout=600)
    if r.returncode:
        raise SystemExit(f"{' '.join(me)} failed:\n{r.stdout}\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=128, help="global batch (split over the ranks)")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--bucket-mb", type=float, default=4.0)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    one, two = [], []
    for _ in range(args.rounds):
        one.append(launch(1, 2, args))
        two.append(launch(2, 1, args))
    e1 = np.median([r["examples_per_s"] for r in one])
    e2 = np.median([r["examples_per_s"] for r in two])
    ar = np.median([r["allreduce_s"] for r in two])
    st = np.median([r["step_s"] for r in two])
    wait = np.median([r["end_of_backward_s"] for r in two])
    print(f"MLP 784-512-512-10 float32, global batch {args.batch}, {args.rounds} alternated rounds (medians)")
    print(f"  1 process x 2 threads: {e1:8.0f} examples/s")
    print(f"  2 ranks x 1 thread:    {e2:8.0f} examples/s  ({e2 / e1:.2f}x), {two[0]['buckets']} buckets "
          f"of <= {args.bucket_mb:g} MB")
    print(f"  allreduce of the {two[0]['grad_mb']:.2f} MB of gradients alone: {ar * 1e3:.2f} ms "
          f"= {ar / st * 100:.0f}% of a {st * 1e3:.2f} ms step; left to wait for at the end of the "
          f"backward: {wait * 1e3:.2f} ms ({wait / st * 100:.0f}%)")


if __name__ == "__main__":
    main()
