"""valgrind's memcheck over a kernel smoke run: no definite leak and no
invalid read or write whose stack passes through fastnn's extension.
Python and NumPy's own reports are not ours and are ignored."""
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_no_definite_leak_or_invalid_access_in_fastnn():
    import fastnn
    env = dict(os.environ, PYTHONMALLOC="malloc")
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(fastnn.__file__))] +
                                        env.get("PYTHONPATH", "").split(os.pathsep))
    r = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=definite", "--num-callers=40",
                        sys.executable, os.path.join(HERE, "kernel_smoke.py")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]
    assert "LEAK SUMMARY" in r.stderr or "All heap blocks were freed" in r.stderr, "valgrind did not run"
    # one record per blank-line separated block of "==pid== " lines
    records = re.split(r"\n==\d+== \n", r.stderr)
    ours = re.compile(r"fnn_|fastnn/_C|_C\.cpython")
    bad = [rec for rec in records
           if ("definitely lost in" in rec or "Invalid read" in rec or "Invalid write" in rec) and ours.search(rec)]
    assert not bad, "\n\n".join(bad[:3])
