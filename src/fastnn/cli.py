"""The `fastnn` command: info, bench (and, as they land, train and demo)."""
import argparse
import json
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, no traceback
        sys.stderr.write(f"fastnn: error: {message}\n")
        sys.exit(2)


def cmd_info(args):
    import fastnn
    fastnn.show_config()
    return 0


def cmd_bench(args):
    from . import bench
    rows = bench.select(args.group or None, quick=args.quick)
    if not rows:
        sys.stderr.write("fastnn: error: no benchmark workload matches\n")
        return 2
    torch = bench.torch_or_none()
    print(f"fastnn vs numpy{' and torch' if torch else ''} (float32, default threads); "
          "x = their time / fastnn's time, medians of interleaved rounds")
    results = bench.run(rows, min_time=0.1 if args.quick else 0.3, progress=lambda r: print(bench.format_row(r), flush=True))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
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
    ax.barh(labels, [r["ratio_vs_numpy"] for r in results], label="vs numpy")
    if any("ratio_vs_torch" in r for r in results):
        ax.barh(labels, [r.get("ratio_vs_torch", 0) for r in results], alpha=0.5, label="vs torch")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("speed-up of fastnn (x)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    p = _Parser(prog="fastnn", description="fast neural networks on the CPU")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)
    sub.required = True
    sub.add_parser("info", help="ISA, threads, OpenMP, compiler").set_defaults(fn=cmd_info)
    b = sub.add_parser("bench", help="fastnn's kernels against NumPy (and torch)")
    b.add_argument("--quick", action="store_true", help="one size per workload")
    b.add_argument("--json", metavar="F", help="write the results as JSON")
    b.add_argument("--plot", metavar="F.png", help="draw the ratios (needs matplotlib)")
    b.add_argument("--group", action="append", help="only this group (repeatable)")
    b.set_defaults(fn=cmd_bench)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
