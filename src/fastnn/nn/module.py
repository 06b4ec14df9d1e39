"""Parameter, Module and Sequential: the layer protocol of fastnn.nn.

A Module computes `forward(*inputs)` (also `__call__`) on Tensors or
ndarrays and returns Tensors; the graph that autograd records from it gives
the gradients (`loss.backward()`), so a module keeps nothing from one call to
the next and may be called any number of times before a backward.
"""
from collections import OrderedDict

import numpy as np

from ..autograd import Tensor

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Parameter(Tensor):
    """A trainable Tensor: requires a grad; `.grad` is None until a backward
    writes it (and again after `zero_grad()`)."""
    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        data = np.array(data, dtype=dtype, order="C", copy=True)
        if data.dtype not in _FLOAT_DTYPES:
            data = data.astype(data.dtype.newbyteorder("=") if data.dtype.kind == "f" and
                               data.dtype.newbyteorder("=") in _FLOAT_DTYPES else np.float32)
        super().__init__(data, requires_grad=requires_grad)

    def zero_grad(self, set_to_none=True):
        if set_to_none:
            self.grad = None
        elif self.grad is not None:
            self.grad.fill(0)

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def _named(e, module):
    """e with the innermost layer's name in front of its message (once)."""
    if getattr(e, "_fnn_layer", False):
        return e
    try:
        err = type(e)(f"{module._name()}: {e}")
    except Exception:
        return e
    err._fnn_layer = True
    return err


class Module:
    """Base class of layers and containers (PyTorch's naming of parameters and
    state: `weight`, `bias`, `running_mean`, children joined by dots)."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before assigning attributes")
        if isinstance(value, (Parameter, Module)):
            for d in (self._parameters, self._buffers, self._modules):
                d.pop(name, None)
            (self._parameters if isinstance(value, Parameter) else self._modules)[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array):
        """State that is saved and loaded but not trained (running statistics)."""
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    def _set_buffer(self, name, array):
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    # ------------------------------------------------------------ calling
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def __call__(self, *args, **kwargs):
        try:
            return self.forward(*args, **kwargs)
        except (TypeError, ValueError, IndexError) as e:
            raise _named(e, self) from None

    def _error(self, msg, exc=ValueError):
        e = exc(f"{self._name()}: {msg}")
        e._fnn_layer = True
        return e

    def _name(self):
        extra = self.extra_repr()
        return f"{type(self).__name__}({extra})"

    def _check_input(self, x, *, ndims=None, dtype=None):
        """x (a Tensor or an ndarray) checked for dtype and rank, or an
        exception naming this layer; returned as it came."""
        a = x.data if isinstance(x, Tensor) else x
        if not isinstance(a, np.ndarray):
            raise self._error(f"expected a fastnn.Tensor or numpy.ndarray input, got {type(x).__name__}", TypeError)
        dt = a.dtype if a.dtype.isnative else a.dtype.newbyteorder("=")
        if dt not in _FLOAT_DTYPES:
            raise self._error(f"input has dtype {a.dtype}; expected float32 or float64", TypeError)
        if dtype is not None and dt != dtype:
            raise self._error(f"input has dtype {a.dtype} but the layer's parameters are {dtype}", TypeError)
        if ndims is not None and a.ndim not in ndims:
            want = " or ".join(f"{d}-D" for d in ndims)
            raise self._error(f"expected a {want} input, got shape {a.shape}")
        return x

    # ------------------------------------------------------------ modes
    def train(self, mode=True):
        object.__setattr__(self, "training", bool(mode))
        for m in self._modules.values():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    # ------------------------------------------------------------ parameters
    def children(self):
        return list(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix=""):
        for mname, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                yield (f"{mname}.{name}" if mname else name), p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        for mname, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{name}" if mname else name), b

    def zero_grad(self, set_to_none=True):
        """Gradients to None (set_to_none=True, PyTorch's default: the next
        backward writes them fresh) or to zeros."""
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def to(self, dtype):
        """Convert every parameter and floating buffer to dtype (float32 or float64), in place."""
        dtype = np.dtype(dtype)
        if dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{self._name()}.to: dtype must be float32 or float64, got {dtype}")
        for _, m in self.named_modules():
            for p in m._parameters.values():
                p.data = p.data.astype(dtype)
                p.grad = None if p.grad is None else p.grad.astype(dtype)
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.kind == "f":
                    m._set_buffer(name, b.astype(dtype))
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ------------------------------------------------------------ state
    def state_dict(self):
        """Parameters and buffers by dotted name, copied (PyTorch's order:
        module by module, its parameters, then its buffers)."""
        out = OrderedDict()
        for name, (kind, target) in self._state_targets().items():
            out[name] = target.data.copy() if kind == "param" else np.array(getattr(*target), copy=True)
        return out

    def _state_targets(self):
        t = OrderedDict()
        for mname, m in self.named_modules():
            for pname, p in m._parameters.items():
                t[f"{mname}.{pname}" if mname else pname] = ("param", p)
            for bname, b in m._buffers.items():
                if b is not None:
                    t[f"{mname}.{bname}" if mname else bname] = ("buffer", (m, bname))
        return t

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays from state_dict into the parameters and buffers.  Every
        key and shape is checked first: on any error (missing or unexpected
        keys with strict=True, a wrong shape, a non-array) nothing changes."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"{self._name()}.load_state_dict: expected a dict, got {type(state_dict).__name__}")
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        staged = []
        for key, (kind, target) in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, (np.ndarray, np.generic, int, float)):
                problems.append(f"{key}: expected an array, got {type(value).__name__}")
                continue
            value = np.asarray(value)
            current = target.data if kind == "param" else getattr(target[0], target[1])
            if value.shape != current.shape:
                problems.append(f"{key}: shape {value.shape} in the state dict, {current.shape} in the model")
                continue
            if value.dtype.kind not in "fiub" or (current.dtype.kind == "f") != (value.dtype.kind == "f"):
                problems.append(f"{key}: dtype {value.dtype} cannot be loaded into {current.dtype}")
                continue
            staged.append((kind, target, value.astype(current.dtype, copy=True)))
        if problems:
            raise ValueError(f"{self._name()}.load_state_dict: " + "; ".join(problems))
        for kind, target, value in staged:
            if kind == "param":
                np.copyto(target.data, value)
            else:
                m, bname = target
                np.copyto(getattr(m, bname), value)
        return missing, unexpected

    # ------------------------------------------------------------ printing
    def extra_repr(self):
        return ""

    def __repr__(self):
        if not self._modules:
            return self._name()
        lines = [f"{type(self).__name__}("]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied in order.  A Linear directly followed by a ReLU, Tanh
    or Sigmoid runs as one fused GEMM (the activation in its epilogue)."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: element {name} is a {type(m).__name__}, not a Module")
            setattr(self, name, m)

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __iter__(self):
        return iter(self._modules.values())

    def _plan(self):
        """(module, fused activation or None, skip-next) for each step, cached
        while the children stay the same."""
        mods = tuple(self._modules.values())
        cached = self.__dict__.get("_plan_cache")
        if cached is not None and cached[0] == mods:
            return cached[1]
        from .linear import Linear
        from .activation import ReLU, Sigmoid, Tanh
        from .conv import MaxPool2d
        fusable = {ReLU: "relu", Tanh: "tanh", Sigmoid: "sigmoid"}
        plan, i = [], 0
        while i < len(mods):
            m = mods[i]
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if type(m) is Linear and type(nxt) in fusable:
                plan.append((m, fusable[type(nxt)]))
                i += 2
            elif type(m) is ReLU and type(nxt) is MaxPool2d:
                # max(0, x) and a window's max commute (both monotone; only
                # the sign of a zero can differ), and the gradient reaches the
                # same element (where the window's max is positive, ReLU
                # changes no candidate for it; elsewhere ReLU's gradient is
                # 0): pooling first runs the ReLU on a quarter of the
                # elements of a 2x2 pool
                plan += [(nxt, None), (m, None)]
                i += 2
            else:
                plan.append((m, None))
                i += 1
        object.__setattr__(self, "_plan_cache", (mods, plan))
        return plan

    def forward(self, x):
        for m, act in self._plan():
            x = m(x) if act is None else m.forward(x, activation=act)
        return x
