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
