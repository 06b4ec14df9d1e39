"""Build configuration, ISA selection, threads, the `fastnn info` command, fork."""
import json
import multiprocessing as mp
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import ops


def run_py(code, **env):
    e = dict(os.environ)
    for k in ("FASTNN_ISA", "FASTNN_NUM_THREADS", "OMP_NUM_THREADS"):
        e.pop(k, None)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120)


def test_config_contents():
    c = fastnn.config()
    assert c["version"] == fastnn.__version__
    assert c["isa"] in c["isa_available"] and c["isa_available"][0] == "generic"
    assert c["isa"] == c["isa_available"][-1], "import picks the best ISA"
    assert c["num_threads"] >= 1 and c["openmp"] > 0 and c["compiler"]
    assert all(k.endswith("__" + c["isa"]) for k in c["kernels"])
    assert "fnn_f32_sigmoid_fwd__" + c["isa"] in c["kernels"]


def test_show_config_prints(capsys):
    fastnn.show_config()
    out = capsys.readouterr().out
    assert "isa" in out and "num_threads" in out and fastnn.get_isa() in out


def test_set_isa_switches_kernels_and_rejects_bad_names():
    before = fastnn.get_isa()
    try:
        for isa in fastnn.config()["isa_available"]:
            fastnn.set_isa(isa)
            assert fastnn.get_isa() == isa
            assert all(k.endswith("__" + isa) for k in fastnn.config()["kernels"])
    finally:
        fastnn.set_isa(before)
    with pytest.raises(ValueError, match="unknown ISA"):
        fastnn.set_isa("sse9")
    with pytest.raises(TypeError):
        fastnn.set_isa(2)


def test_fastnn_isa_env_forces_lower_isa():
    r = run_py("import fastnn; print(fastnn.get_isa())", FASTNN_ISA="generic")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "generic"
    r = run_py("import fastnn", FASTNN_ISA="sse9")
    assert r.returncode != 0 and "FASTNN_ISA" in r.stderr and "ImportError" in r.stderr


@pytest.mark.skipif("avx512" in fastnn.config()["isa_available"], reason="this CPU has every ISA")
def test_fastnn_isa_env_rejects_missing_isa():
    r = run_py("import fastnn", FASTNN_ISA="avx512")
    assert r.returncode != 0 and "offers only" in r.stderr


def test_thread_env_defaults():
    code = "import fastnn; print(fastnn.get_num_threads())"
    assert run_py(code, FASTNN_NUM_THREADS="1").stdout.strip() == "1"
    assert run_py(code, OMP_NUM_THREADS="1").stdout.strip() == "1"
    # FASTNN_NUM_THREADS wins over OMP_NUM_THREADS
    assert run_py(code, OMP_NUM_THREADS="1", FASTNN_NUM_THREADS="2").stdout.strip() == "2"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert int(run_py(code).stdout.strip()) == cores


def test_set_num_threads(restore_threads):
    fastnn.set_num_threads(1)
    assert fastnn.get_num_threads() == 1
    with pytest.raises(ValueError):
        fastnn.set_num_threads(0)
    with pytest.raises(TypeError):
        fastnn.set_num_threads(1.5)


def test_threadpoolctl_sees_and_limits_the_pool(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastnn.set_num_threads(2)
    # in a fresh process (other packages, e.g. scikit-learn, bring their own
    # libgomp): fastnn loads exactly one OpenMP runtime and threadpoolctl sees it
    r = run_py("import fastnn, threadpoolctl, json; "
               "print(json.dumps([i['filepath'] for i in threadpoolctl.threadpool_info() "
               "if i['user_api'] == 'openmp']))")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 1, r.stdout
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastnn.get_num_threads() == 1
        # and a kernel called now still gives the same bits
        x = np.linspace(-5, 5, 2_000_000, dtype=np.float32)
        y1 = ops.tanh(x)
    y2 = ops.tanh(x)
    assert np.array_equal(y1, y2)
    if (os.cpu_count() or 1) >= 2:
        assert fastnn.get_num_threads() == 2


def test_info_command():
    r = subprocess.run([sys.executable, "-m", "fastnn.cli", "info"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "isa:" in r.stdout and fastnn.get_isa() in r.stdout and "num_threads:" in r.stdout


def test_cli_bad_arguments_exit_2():
    r = subprocess.run([sys.executable, "-m", "fastnn.cli", "frobnicate"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _child_work(q):
    x = np.linspace(-3, 3, 2_000_003, dtype=np.float32)
    from fastnn import _C
    q.put((float(ops.sigmoid(x).sum()), _C.in_forked_child()))


def test_fork_after_pool_use_does_not_hang(restore_threads):
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    fastnn.set_num_threads(2)
    x = np.linspace(-3, 3, 2_000_003, dtype=np.float32)
    expect = float(ops.sigmoid(x).sum())  # the parent's pool is now alive
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_work, args=(q,))
    p.start()
    p.join(60)
    assert not p.is_alive(), "child hung after fork"
    got, in_child = q.get(timeout=5)
    assert in_child and got == expect


def test_bench_quick_runs(tmp_path):
    out = tmp_path / "b.json"
    r = subprocess.run([sys.executable, "-m", "fastnn.cli", "bench", "--quick", "--group", "memory",
                        "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())
    assert rows and all(r["ratio_vs_numpy"] > 0 for r in rows)
