"""The fastnn command: train (save, resume bit-identically, plot), bad
arguments (one line, exit code 2), the pieces of `fastnn demo`."""
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import train


def fastnn_cmd(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "fastnn.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_resume_continues_bit_identically(model, tmp_path):
    straight = train.Run(model, epochs=2, seed=3)
    straight.fit(progress=False)
    first = train.Run(model, epochs=2, seed=3)
    first.fit(progress=False, until=1)  # interrupted after one epoch
    ck = tmp_path / "ck.safetensors"
    first.save(ck)
    resumed = train.Run.resume(ck)
    resumed.fit(progress=False)
    a, b = straight.net.state_dict(), resumed.net.state_dict()
    assert a.keys() == b.keys()
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    assert [h["loss"] for h in straight.history] == [h["loss"] for h in resumed.history]


def test_train_command_saves_resumes_and_plots(tmp_path):
    ck, png = tmp_path / "cnn.safetensors", tmp_path / "cnn.png"
    r = fastnn_cmd("train", "--model", "cnn", "--epochs", "1", "--save", str(ck), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "test acc" in r.stdout and ck.exists()
    r = fastnn_cmd("train", "--resume", str(ck), "--epochs", "2", "--plot", str(png), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "epoch   2" in r.stdout and "epoch   1 " not in r.stdout
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg
    img = mpimg.imread(str(png))
    assert img.ndim == 3 and img.shape[0] > 500 and img.shape[1] > 500
    assert img[..., :3].std() > 0.05  # not a blank canvas
    del matplotlib


@pytest.mark.parametrize("args,needle", [
    (["train", "--model", "resnet"], "invalid choice"),
    (["train", "--epochs", "-1"], "non-negative"),
    (["train", "--epochs", "x"], "non-negative"),
    (["train", "--lr", "0"], "positive"),
    (["train", "--resume", "/nonexistent/ck.safetensors"], "ck.safetensors"),
    (["train", "--model", "mlp", "--plot", "x.png"], "--model cnn"),
    (["bench", "--group", "nope"], "no benchmark"),
])
def test_bad_arguments_one_line_exit_2(args, needle):
    r = fastnn_cmd(*args, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and needle in lines[0], r.stderr


def test_unreadable_checkpoint_is_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    r = fastnn_cmd("train", "--resume", str(bad), timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    other = tmp_path / "other.safetensors"
    fastnn.save({"w": np.zeros(3, np.float32)}, other)
    r = fastnn_cmd("train", "--resume", str(other), timeout=120)
    assert r.returncode == 2 and "checkpoint" in r.stderr and "Traceback" not in r.stderr


def test_python_dash_m_fastnn_runs_the_command():
    r = subprocess.run([sys.executable, "-m", "fastnn", "info"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert fastnn.get_isa() in r.stdout and "num_threads" in r.stdout
    r = subprocess.run([sys.executable, "-m", "fastnn", "nosuchcmd"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def _fake_results():
    return [
        {"id": "gemm/square_f32[256]", "group": "gemm", "name": "square_f32", "size": 256,
         "median_s": {"fastnn": 2e-4, "numpy": 3e-4, "torch": 2.5e-4}, "ratio_vs_numpy": 1.5, "ratio_vs_torch": 1.25,
         "gflops": {"fastnn": 160.0, "numpy": 110.0, "torch": 130.0}, "peak_gflops": 200.0,
         "fraction_of_peak": {"fastnn": 0.8, "numpy": 0.55, "torch": 0.65}},
        {"id": "activations/relu[1e+06]", "group": "activations", "name": "relu", "size": 1e6,
         "median_s": {"fastnn": 7e-5, "numpy": 4e-4}, "ratio_vs_numpy": 4e-4 / 7e-5, "gbytes_per_s": {"fastnn": 110.0}},
    ]


def test_bench_markdown_names_the_command_the_machine_and_every_row():
    from fastnn import bench
    md = bench.markdown(_fake_results(), command="fastnn bench --quick --markdown R.md", quick=True,
                        info={"cpu": "Test CPU", "cores": 2})
    lines = md.splitlines()
    assert lines[0] == "# Benchmark results"
    assert "`fastnn bench --quick --markdown R.md`" in md and "quick" in md and "Test CPU" in md
    assert "## gemm" in md and "## activations" in md
    row = next(line for line in lines if line.startswith("| square_f32[256] |"))
    assert row.split(" | ")[1:6] == ["0.200", "0.300", "1.50", "0.250", "1.25"] and "80% (55%)" in row
    relu = next(line for line in lines if line.startswith("| relu[1e+06] |"))
    assert "5.71" in relu and "110.0" in relu


def test_bench_and_demo_time_with_one_protocol(monkeypatch, tmp_path, capsys):
    """`fastnn bench --markdown` writes what it measured; `fastnn demo`'s
    table goes through the same bench.measure as `fastnn bench --quick`."""
    from fastnn import bench, cli
    calls = []

    def fake_measure(rows, *, quick=False, progress=None):
        calls.append(([w.id for w in rows], quick))
        results = _fake_results()
        for r in results:
            progress(r)
        return results
    monkeypatch.setattr(bench, "measure", fake_measure)
    out = tmp_path / "R.md"
    assert cli.main(["bench", "--quick", "--group", "gemm", "--markdown", str(out)]) == 0
    text = out.read_text()
    assert "`fastnn bench --quick --group gemm --markdown " in text and "| square_f32[256] |" in text
    monkeypatch.setattr(train, "MODELS", [])
    assert cli.main(["demo", "--no-progress"]) == 0
    demo_rows, demo_quick = calls[-1]
    assert demo_quick and demo_rows == [w.id for w in bench.select(quick=True) if w.name in bench.DEMO_WORKLOADS]
    assert len(demo_rows) == 8
    printed = capsys.readouterr().out
    assert "square_f32[256]" in printed
    assert ("and torch" in printed) == (bench.torch_or_none() is not None)


def test_bench_threads_sets_every_contender_and_restores_them(monkeypatch, tmp_path, capsys):
    """`fastnn bench --threads 1` times fastnn, NumPy's BLAS and torch on one
    thread each, says so, and leaves every setting as it was."""
    from threadpoolctl import threadpool_info

    from fastnn import bench, cli
    seen = []
    torch = bench.torch_or_none()

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]

    def fake_measure(rows, *, quick=False, progress=None):
        seen.append((fastnn.get_num_threads(), blas_threads(), torch.get_num_threads() if torch else None))
        return _fake_results()
    monkeypatch.setattr(bench, "measure", fake_measure)
    before = (fastnn.get_num_threads(), blas_threads(), torch.get_num_threads() if torch else None)
    out = tmp_path / "R.md"
    assert cli.main(["bench", "--quick", "--threads", "1", "--group", "gemm", "--markdown", str(out)]) == 0
    got_fastnn, got_blas, got_torch = seen[-1]
    assert got_fastnn == 1 and all(n == 1 for n in got_blas) and got_torch in (None, 1)
    assert "1 thread each" in capsys.readouterr().out
    assert "--threads 1" in out.read_text() and "threads 1" in out.read_text()
    assert (fastnn.get_num_threads(), blas_threads(), torch.get_num_threads() if torch else None) == before
    assert cli.main(["bench", "--quick", "--group", "gemm"]) == 0
    assert seen[-1][0] == before[0] and "default threads" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["bench", "--threads", "0"])


def test_bench_markdown_takes_a_row_without_numpy():
    from fastnn import bench
    row = {"id": "train/step", "group": "train", "name": "step", "size": None,
           "median_s": {"fastnn": 0.01, "torch": 0.02}, "ratio_vs_torch": 2.0,
           "gflops": {"fastnn": 100.0, "torch": 50.0}, "fraction_of_peak": {"fastnn": 0.5, "torch": 0.25}}
    text = bench.markdown([row], command="fastnn bench", quick=True, info={})
    assert "| step | 10.000 |  |  | 20.000 | 2.00 | 100.0 | 50% |" in text
    assert "numpy" in bench.format_row(row) and "x  2.00" in bench.format_row(row)
