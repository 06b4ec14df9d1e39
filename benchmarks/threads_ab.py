"""Quiet-machine A/B of two builds on the workloads the team-size judge
touches most: GEMM squares and whole training steps.

    python benchmarks/threads_ab.py OLD_SRC NEW_SRC [--rounds R]

(SRC:VAR=VALUE,... runs that build with those environment variables.)

Each round runs one process per build (alternated, so a slow phase of a
shared machine hits both alike); a process times each workload's fastnn
call (median of several timings) at the default thread count.  Prints the
median over rounds for each build and new/old (< 1: the new build is
faster).  Run it when nobody else uses the machine.
"""
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
from fastnn import bench
names = json.loads(sys.argv[1])
out = {}
for w in bench.WORKLOADS:
    if w.id not in names:
        continue
    f = w.make()["fastnn"]
    for _ in range(3):
        f()
    t0 = time.perf_counter(); f(); one = time.perf_counter() - t0
    number = max(1, int(0.03 / max(one, 1e-7)))
    ts = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(number):
            f()
        ts.append((time.perf_counter() - t0) / number)
    out[w.id] = float(np.median(ts))
from fastnn import _C
if hasattr(_C, "team_stats"):  # builds with the team-size judge: how often it ran serially
    out["team_stats"] = _C.team_stats()
print(json.dumps(out))
"""

WORKLOADS = ["gemm/square_f32[256]", "gemm/square_f32[512]", "gemm/square_f32[1024]", "gemm/square_f32[2048]",
             "gemm/square_f64[512]", "gemm/square_f64[1024]", "gemm/net_f32_AB_128x784x512",
             "train/mlp_784_512_512_10_step[128]", "train/lenet5_step[64]"]


def run_one(src):
    src, _, extra = src.partition(":")  # SRC:VAR=VALUE,VAR=VALUE adds to the environment
    env = {"PYTHONPATH": src, "FASTNN_BENCH_TORCH": "0", "PATH": "/usr/bin:/bin"}
    env.update(kv.split("=", 1) for kv in extra.split(",") if kv)
    r = subprocess.run([sys.executable, "-c", CHILD, json.dumps(WORKLOADS)], env=env, capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout)


def main(argv):
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 4
    builds = [a for i, a in enumerate(argv) if a != "--rounds" and (i == 0 or argv[i - 1] != "--rounds")]
    old, others = builds[0], builds[1:]
    res = {b: [] for b in builds}
    for r in range(rounds):
        for src in (builds if r % 2 == 0 else builds[::-1]):
            res[src].append(run_one(src))
    print(f"medians of {rounds} alternated processes; old = {old}")
    for i, b in enumerate(others):
        print(f"  new{i + 1} = {b}")
    head = "".join(f" {'new%d ms' % (i + 1):>9} {'/old':>6}" for i in range(len(others)))
    print(f"{'workload':<40} {'old ms':>9}{head}")
    for w in WORKLOADS:
        o = statistics.median(d[w] for d in res[old])
        cols = ""
        for b in others:
            n = statistics.median(d[w] for d in res[b])
            cols += f" {n * 1e3:9.3f} {n / o:6.3f}"
        print(f"{w:<40} {o * 1e3:9.3f}{cols}")
    for b in builds:
        stats = [d.get("team_stats") for d in res[b] if d.get("team_stats")]
        if stats:
            print(f"{b}: late regions per process {[s['late'] for s in stats]}, serial calls "
                  f"{[s['serial_calls'] for s in stats]}, regions {[s['regions'] for s in stats]}")


if __name__ == "__main__":
    main(sys.argv[1:])
