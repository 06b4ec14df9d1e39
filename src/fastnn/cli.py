"""The `fastnn` command: info, bench, train, demo."""
import argparse
import json
import sys
import time


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, no traceback
        sys.stderr.write(f"fastnn: error: {message}\n")
        sys.exit(2)


def cmd_info(args):
    import fastnn
    fastnn.show_config()
    return 0


def _fail(msg):
    sys.stderr.write(f"fastnn: error: {msg}\n")
    return 2


def cmd_train(args):
    if not args.distributed:
        return _train(args, lead=True)
    from . import distributed as dist
    try:
        dist.init()  # an exception on one rank now ends them all
    except ImportError as e:
        return _fail(str(e))
    rc = _train(args, lead=dist.get_rank() == 0)
    if rc and dist.get_world_size() > 1:
        dist._World.MPI.COMM_WORLD.Abort(rc)  # the other ranks may wait in a collective
    return rc


def _train(args, lead):
    import fastnn
    from . import train
    if args.threads is not None:
        if args.threads < 1:
            return _fail(f"--threads must be >= 1, got {args.threads}")
        fastnn.set_num_threads(args.threads)
    elif args.distributed:
        from . import distributed
        fastnn.set_num_threads(distributed._threads_per_rank())
    try:
        if args.resume:
            run = train.Run.resume(args.resume, epochs=args.epochs, distributed=args.distributed)
        else:
            run = train.Run(args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                            distributed=args.distributed)
    except (OSError, ValueError) as e:
        return _fail(str(e).splitlines()[0])
    if args.plot and run.model_name != "cnn":
        return _fail("--plot draws the CNN's filters and feature maps: use it with --model cnn")

    def report(r, rec):
        if not lead:
            return
        print(f"epoch {rec['epoch']:3d}  loss {rec['loss']:.4f}  {r.metric_name} {rec['metric']:.4f}  "
              f"{rec['examples_per_s']:.0f} examples/s", flush=True)
        if args.save:
            r.save(args.save)
    ranks = f", {run.world} ranks" if args.distributed else ""
    if lead:
        print(f"training {run.model_name}: epochs {run.epoch}->{run.epochs}, batch {run.batch_size}, lr {run.lr}, "
              f"seed {run.seed}, threads {fastnn.get_num_threads()}{ranks}, isa {fastnn.get_isa()}", flush=True)
    run.fit(progress=lead and not args.no_progress, on_epoch=report)
    if not lead:
        return 0
    if run.history:
        print(f"final {run.metric_name}: {run.history[-1]['metric']:.4f}")
    if run.text:
        print("generated text:")
        print(run.generate())
    if args.save:
        run.save(args.save)
    if args.plot:
        from .plots import cnn_story
        cnn_story(run, args.plot)
        print(f"saved {args.plot}")
    return 0


def cmd_demo(args):
    import fastnn
    from . import bench, train
    t_start = time.perf_counter()
    print(f"fastnn {fastnn.__version__} demo: isa {fastnn.get_isa()}, threads {fastnn.get_num_threads()}")
    rows = []
    for model in train.MODELS:
        run = train.Run(model, defaults=train.DEMO)
        t0 = time.perf_counter()
        run.fit(progress=not args.no_progress)
        secs = time.perf_counter() - t0
        h = run.history[-1]
        eps = sum(r["examples_per_s"] * r["seconds"] for r in run.history) / sum(r["seconds"] for r in run.history)
        metric = f"test accuracy {h['metric'] * 100:.1f}%" if not run.text else f"{h['metric']:.2f} bits/char held out"
        line = f"{model:12s} {metric:32s} {secs:6.1f} s  {eps:8.0f} examples/s"
        print(line, flush=True)
        rows.append(line)
    # The table is timed exactly as `fastnn bench --quick` times these rows
    # (the same protocol), so the two agree: see bench.measure.
    picks = [w for w in bench.select(quick=True) if w.name in bench.DEMO_WORKLOADS]
    print("\nkernels, " + bench.header(bench.torch_or_none()) + ":", flush=True)
    bench.measure(picks, quick=True, progress=lambda r: print("  " + bench.format_row(r), flush=True))
    print(f"\ndemo finished in {time.perf_counter() - t_start:.0f} s")
    return 0


def cmd_bench(args):
    from . import bench
    groups = args.group or None
    if groups and "threads" in groups:
        # not a contender table: fastnn at 1 and 2 threads with a core kept
        # busy, and beside NumPy's BLAS (bench_threads); only on request,
        # since it loads a core on purpose
        from . import bench_threads
        report = bench_threads.main(out=lambda s: print(s, flush=True))
        groups = [g for g in groups if g != "threads"]
        if not groups:
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(report, f, indent=1)
            return 0
    rows = bench.select(groups, quick=args.quick)
    if not rows:
        sys.stderr.write("fastnn: error: no benchmark workload matches\n")
        return 2
    with bench.threads(args.threads):
        print(bench.header(bench.torch_or_none(), args.threads), flush=True)
        results = bench.measure(rows, quick=args.quick, progress=lambda r: print(bench.format_row(r), flush=True))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        if args.markdown:
            cmd = " ".join(["fastnn bench"] + (["--quick"] if args.quick else [])
                           + ([f"--threads {args.threads}"] if args.threads else [])
                           + [f"--group {g}" for g in (args.group or [])] + [f"--markdown {args.markdown}"])
            with open(args.markdown, "w") as f:
                f.write(bench.markdown(results, command=cmd, quick=args.quick))
    if args.plot:
        _plot(results, args.plot)
    return 0


def _plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.stderr.write("fastnn: error: --plot needs matplotlib (pip install 'fastnn[bench]')\n")
        raise SystemExit(2)
    labels = [r["id"] for r in results]
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(labels) + 1.5))
    ax.barh(labels, [r.get("ratio_vs_numpy", float("nan")) for r in results], label="vs numpy")
    if any("ratio_vs_torch" in r for r in results):
        ax.barh(labels, [r.get("ratio_vs_torch", 0) for r in results], alpha=0.5, label="vs torch")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("speed-up of fastnn (x)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _typed(conv, ok, what):
    def parse(s):
        try:
            v = conv(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}")
        return v
    return parse


_pos_int = _typed(int, lambda v: v >= 1, "a positive integer")
_nonneg_int = _typed(int, lambda v: v >= 0, "a non-negative integer")
_pos_float = _typed(float, lambda v: v > 0, "a positive number")


def main(argv=None):
    p = _Parser(prog="fastnn", description="fast neural networks on the CPU")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)
    sub.required = True
    sub.add_parser("info", help="ISA, threads, OpenMP, compiler").set_defaults(fn=cmd_info)
    b = sub.add_parser("bench", help="fastnn's kernels against NumPy (and torch)")
    b.add_argument("--quick", action="store_true", help="one size per workload")
    b.add_argument("--json", metavar="F", help="write the results as JSON")
    b.add_argument("--markdown", metavar="F", help="write the results as Markdown tables (benchmarks/RESULTS.md)")
    b.add_argument("--plot", metavar="F.png", help="draw the ratios (needs matplotlib)")
    b.add_argument("--group", action="append",
                   help="only this group (repeatable); 'threads' (never by default) times 1 vs 2 threads "
                        "with a core kept busy, and beside numpy @")
    b.add_argument("--threads", type=_pos_int, default=None,
                   help="every contender on this many threads (fastnn, NumPy's BLAS, torch); "
                        "default: each library's own default")
    b.set_defaults(fn=cmd_bench)
    t = sub.add_parser("train", help="train one of the four networks on bundled data")
    t.add_argument("--model", default="mlp", choices=["mlp", "cnn", "lstm", "transformer"])
    t.add_argument("--epochs", type=_nonneg_int, default=None)
    t.add_argument("--batch-size", type=_pos_int, default=None)
    t.add_argument("--lr", type=_pos_float, default=None)
    t.add_argument("--threads", type=_pos_int, default=None)
    t.add_argument("--seed", type=_nonneg_int, default=0)
    t.add_argument("--save", metavar="F", help="checkpoint after every epoch (safetensors)")
    t.add_argument("--resume", metavar="F", help="continue a run from its checkpoint")
    t.add_argument("--plot", metavar="F.png", help="CNN only: filters, feature maps and loss curve")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel over the MPI ranks of `mpiexec -n N fastnn train ...` (needs fastnn[mpi])")
    t.set_defaults(fn=cmd_train)
    d = sub.add_parser("demo", help="train the four networks briefly and compare kernels with NumPy")
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(fn=cmd_demo)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
