"""fastnn: fast neural-network kernels for the CPU, with a PyTorch-shaped API (Tensors with autograd) over NumPy arrays."""
import os as _os

# libgomp's wait policy is the user's (OMP_WAIT_POLICY, GOMP_SPINCOUNT) or
# libgomp's default: fastnn sets none.  A short spin (10000 pauses) helped
# calls on a core shared with another process, but in a process that also
# runs another OpenMP runtime (PyTorch's) LeNet's training step ran 3.4x
# slower with it (10.2 ms against 2.6 ms with libgomp's default spin).
# Late workers are handled by the kernels themselves (cpu/threads.h).
# config()['omp_wait'] says which policy holds.
if _os.environ.get("OMP_WAIT_POLICY") or _os.environ.get("GOMP_SPINCOUNT"):
    _omp_wait = "user"
else:
    _omp_wait = "libgomp"
from . import _C  # noqa: E402

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


def _install_memory_cache():
    """Freed NumPy blocks of 128 KB and up are kept for reuse, up to
    FASTNN_MEMORY_CACHE_MB (default 512; 0 turns the cache off): a training
    step's large temporaries then come back without page faults."""
    raw = _os.environ.get("FASTNN_MEMORY_CACHE_MB", "").strip()
    try:
        mb = 512 if not raw else int(raw)
    except ValueError:
        raise ImportError(f"FASTNN_MEMORY_CACHE_MB={raw!r} is not a whole number of MiB") from None
    if mb < 0:
        raise ImportError(f"FASTNN_MEMORY_CACHE_MB={raw!r} must be 0 or more")
    if mb:
        _C.memory_cache_install(mb << 20)


_install_memory_cache()

from ._config import (config, show_config, get_num_threads, set_num_threads, set_isa, get_isa, get_include,  # noqa: E402
                      empty_cache)
from . import ops  # noqa: E402
from ._random import manual_seed  # noqa: E402
from .io import save, load  # noqa: E402
from . import autograd  # noqa: E402
from .autograd import Tensor, tensor, as_tensor, no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: E402
from ._tensor_ops import cat, stack  # noqa: E402
from . import nn, optim, data, datasets, distributed  # noqa: E402

__all__ = ["__version__", "config", "show_config", "get_num_threads", "set_num_threads",
           "set_isa", "get_isa", "get_include", "empty_cache", "ops", "manual_seed", "save", "load",
           "nn", "optim", "data", "datasets", "autograd", "Tensor", "tensor", "as_tensor", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "cat", "stack", "distributed"]
