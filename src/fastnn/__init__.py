"""fastnn: fast neural-network kernels for the CPU, with a PyTorch-shaped API (Tensors with autograd) over NumPy arrays."""
import os as _os

from . import _C

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
