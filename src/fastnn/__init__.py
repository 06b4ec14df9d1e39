"""fastnn: fast neural-network kernels for the CPU, with a PyTorch-shaped API (Tensors with autograd) over NumPy arrays."""
import os as _os

# libgomp reads its wait policy once, when it loads (with _C, just below).
# Its default spins its threads for milliseconds after each parallel region
# and at each join: on a machine whose cores other work needs (another
# process, NumPy's BLAS threads) that core is then held from them.  Unless
# the user chose a policy, fastnn asks for a shorter spin: GOMP_SPINCOUNT
# pause instructions (~30-120 ns each), about 0.3-1 ms, which still covers
# the gaps between the kernel calls of a training step (2000 did not: the
# MLP step ran 20% slower, its worker asleep at many forks), and a worker
# that then sleeps hands its core over.  While workers are found late
# kernels run serially anyway (cpu/threads.h), so no worker spins then.
# The variable is removed again so child processes see the user's
# environment.  config()['omp_wait'] says which policy holds.
_SPIN_DEFAULT = "10000"


def _libgomp_loaded():
    try:
        with open("/proc/self/maps") as f:
            return "/libgomp.so" in f.read()  # the one _C links (not a bundled copy)
    except OSError:
        return False


if _os.environ.get("OMP_WAIT_POLICY") or _os.environ.get("GOMP_SPINCOUNT"):
    _omp_wait = "user"
elif _libgomp_loaded():
    _omp_wait = "libgomp"  # loaded by another library first: its policy stays
else:
    _omp_wait = "short"
    _os.environ["GOMP_SPINCOUNT"] = _SPIN_DEFAULT
try:
    from . import _C
finally:
    if _omp_wait == "short":
        del _os.environ["GOMP_SPINCOUNT"]

__version__ = "0.1.0"


def _pick_isa_at_import():
    forced = _os.environ.get("FASTNN_ISA", "").strip()
    if not forced:
        _C.set_isa(_C.isa_available()[-1])
        return
    if forced not in _C.ISA_NAMES:
        raise ImportError(f"FASTNN_ISA={forced!r} is not an ISA; choose one of {_C.ISA_NAMES}")
    if forced not in _C.isa_available():
        raise ImportError(f"FASTNN_ISA={forced!r}, but this CPU (or build) offers only {_C.isa_available()}")
    _C.set_isa(forced)


_pick_isa_at_import()

from ._config import config, show_config, get_num_threads, set_num_threads, set_isa, get_isa, get_include  # noqa: E402
from . import ops  # noqa: E402
from ._random import manual_seed  # noqa: E402
from .io import save, load  # noqa: E402
from . import autograd  # noqa: E402
from .autograd import Tensor, tensor, as_tensor, no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: E402
from ._tensor_ops import cat, stack  # noqa: E402
from . import nn, optim, data, datasets, distributed  # noqa: E402

__all__ = ["__version__", "config", "show_config", "get_num_threads", "set_num_threads",
           "set_isa", "get_isa", "get_include", "ops", "manual_seed", "save", "load",
           "nn", "optim", "data", "datasets", "autograd", "Tensor", "tensor", "as_tensor", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "cat", "stack", "distributed"]
