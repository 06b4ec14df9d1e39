"""fastnn.distributed on MPI ranks of this machine (mpiexec on loopback), and in one process."""
import sys

import numpy as np
import pytest

import fastnn

from mpi_run import require_mpi, run, run_ok


def test_collectives_two_ranks():
    out = run_ok(2, "collectives.py")
    assert "OK from 2 ranks" in out


def test_collectives_three_ranks():
    # three ranks: the ordered sum is no longer a+b, which commutes bit for bit
    out = run_ok(3, "collectives.py")
    assert "OK from 3 ranks" in out


@pytest.mark.parametrize("nprocs", [2, 3])
def test_ddp_buckets_by_hand(nprocs):
    out = run_ok(nprocs, "ddp_hooks.py")
    assert f"OK from {nprocs} ranks" in out


def test_a_raising_rank_ends_the_run():
    # rank 0 waits in a barrier that rank 1 never reaches; MPI_Abort from rank 1's
    # exception hook must end both, well before the timeout
    rc, out, err, secs = run(2, "abort.py", "abort", timeout=60)
    assert rc is not None, f"the run hung (killed after {secs:.0f} s)\n{out}\n{err}"
    assert rc != 0
    # the traceback reached the user (the launcher may drop the last line it
    # was forwarding when the abort ends the job)
    assert "rank 1 fails on purpose" in err
    assert "passed the barrier" not in out


def test_init_in_one_process(monkeypatch):
    require_mpi()
    from fastnn import distributed as dist
    hook = sys.excepthook
    dist.init()
    dist.init()
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    assert sys.excepthook is hook  # one process: nothing to abort
    a = np.arange(5.0)
    assert dist.all_reduce(a) is a and np.array_equal(a, np.arange(5.0))
    assert dist.broadcast(a) is a
    t = fastnn.Tensor(np.ones(3))
    assert dist.all_reduce(t) is t and np.array_equal(t.data, np.ones(3))
    dist.barrier()
    with pytest.raises(ValueError, match="root must be a rank"):
        dist.broadcast(a, root=1)
    with pytest.raises(TypeError, match="expected a numpy.ndarray or a fastnn Tensor"):
        dist.all_reduce([1.0, 2.0])


def test_abort_hook_on_and_off(monkeypatch):
    require_mpi()
    from fastnn import distributed as dist
    dist.init()
    # pretend to be one of two ranks, to see the hook installed and removed
    monkeypatch.setattr(dist._World, "comm", _Sized(dist._World.comm, 2))
    before = sys.excepthook
    try:
        dist.init()
        assert sys.excepthook is not before and sys.excepthook.previous is before
        dist.init(abort_on_exception=False)
        assert sys.excepthook is before
    finally:
        sys.excepthook = before
        dist._World.abort_hook = None


class _Sized:
    def __init__(self, comm, size):
        self.comm, self.size = comm, size

    def Get_size(self):
        return self.size


def test_not_initialized_is_a_clear_error(monkeypatch):
    from fastnn import distributed as dist
    monkeypatch.setattr(dist._World, "comm", None)
    with pytest.raises(RuntimeError, match="call fastnn.distributed.init"):
        dist.get_rank()


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_ddp_two_ranks_match_one_process(kind, dtype, tol):
    # 20 SGD steps: 2 ranks x batch 8 against 1 process x batch 16 on the same data;
    # the script checks that the ranks hold the same bits after every step
    out = run_ok(2, "ddp_train.py", dtype, kind)
    assert "OK from 2 ranks" in out
    rel = float(out.split("max relative difference ")[1].split()[0])
    assert rel <= tol, rel


def test_ddp_three_ranks_match_one_process():
    # three ranks take the ordered reduction (two take MPI's, whose a + b is b + a)
    out = run_ok(3, "ddp_train.py", "float64", "mlp")
    rel = float(out.split("max relative difference ")[1].split()[0])
    assert "OK from 3 ranks" in out and rel <= 1e-12, rel


def test_ddp_batchnorm_buffers():
    assert "OK from 2 ranks" in run_ok(2, "ddp_buffers.py")


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm", "transformer"])
def test_distributed_training_run_resumes(model, tmp_path):
    out = run_ok(2, "train_resume.py", model, tmp_path / "ck.safetensors", timeout=300)
    assert "OK from 2 ranks" in out


def test_train_command_distributed(tmp_path):
    ck = tmp_path / "ck.safetensors"
    out = run_ok(2, "-m", "fastnn", "train", "--distributed", "--model", "mlp", "--epochs", "1",
                 "--save", ck, timeout=300)
    assert out.count("training mlp") == 1 and "2 ranks" in out and out.count("epoch   1") == 1, out
    assert ck.exists()
    out = run_ok(2, "-m", "fastnn", "train", "--distributed", "--resume", ck, "--epochs", "2",
                 "--no-progress", timeout=300)
    assert out.count("epoch   2") == 1 and "epoch   1 " not in out, out
    rc, out, err, _ = run(2, "-m", "fastnn", "train", "--distributed", "--batch-size", "33", timeout=120)
    assert rc not in (0, None) and "does not split evenly over 2 ranks" in err


def test_docs_example_runs_on_two_ranks(tmp_path):
    import os
    import re
    doc = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "DISTRIBUTED.md")
    if not os.path.exists(doc):
        pytest.skip("docs/DISTRIBUTED.md not beside the tests")
    blocks = re.findall(r"```python\n(.*?)```", open(doc, encoding="utf-8").read(), flags=re.S)
    assert blocks and "DistributedDataParallel" in blocks[0]
    script = tmp_path / "docs_ddp.py"
    script.write_text(blocks[0])
    out = run_ok(2, str(script))
    assert out.count("loss ") == 1
    assert float(out.split("loss ")[1].split()[0]) < 0.5
