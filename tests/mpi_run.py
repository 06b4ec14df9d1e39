"""Launching a test script on several MPI ranks of this machine (loopback only).

The ranks run this interpreter, with fastnn from the same place as the tests,
one kernel thread each.  Tests skip when mpi4py or mpiexec is missing."""
import os
import shutil
import signal
import subprocess
import sys

import pytest

import fastnn

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "mpi_scripts")


def mpiexec():
    """(path, flavour) of the mpiexec beside this interpreter or on PATH, or None."""
    for cand in (os.path.join(os.path.dirname(sys.executable), "mpiexec"), shutil.which("mpiexec")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            try:
                out = subprocess.run([cand, "--version"], capture_output=True, text=True, timeout=30).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            if "HYDRA" in out:
                return cand, "mpich"
            if "Open MPI" in out or "OpenRTE" in out:
                return cand, "openmpi"
    return None


def require_mpi():
    pytest.importorskip("mpi4py", reason="fastnn[mpi] is not installed")
    found = mpiexec()
    if found is None:
        pytest.skip("no mpiexec (MPICH or Open MPI) beside the interpreter or on PATH")
    return found


def run(nprocs, script, *args, timeout=120, env=None):
    """Run tests/mpi_scripts/<script> (or `python -m ...` when script is "-m")
    on nprocs ranks; (returncode, stdout, stderr, seconds).
    The whole process group is killed at the timeout (returncode None)."""
    import time
    exe, flavour = require_mpi()
    if flavour == "mpich":
        # fork the ranks here (no ssh), and let the TCP netmod use loopback only
        launch = [exe, "-launcher", "fork", "-iface", "lo", "-n", str(nprocs)]
    else:
        launch = [exe, "--oversubscribe", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo",
                  "-n", str(nprocs)]
    e = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    e["PYTHONPATH"] = src + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["OMP_NUM_THREADS"] = "1"
    e["OPENBLAS_NUM_THREADS"] = "1"
    e["OMPI_ALLOW_RUN_AS_ROOT"] = "1"          # CI runs as root; Open MPI refuses that otherwise
    e["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    e.update(env or {})
    target = [script] if script == "-m" else [os.path.join(SCRIPTS, script)]
    cmd = launch + [sys.executable, *target, *map(str, args)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = None
    return rc, out, err, time.monotonic() - t0


def run_ok(nprocs, script, *args, timeout=120):
    rc, out, err, _ = run(nprocs, script, *args, timeout=timeout)
    assert rc == 0, f"mpiexec -n {nprocs} {script} {' '.join(map(str, args))} -> {rc}\n{out}\n{err}"
    return out
