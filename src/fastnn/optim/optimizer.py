"""Optimizers: the update of each parameter runs in one fused C kernel
(fastnn._C.*_step) with PyTorch's reference arithmetic.

State layout follows PyTorch's: `state_dict()` is
{"state": {index: {"step": int, <buffer name>: array}}, "param_groups":
[{hyper-parameters..., "params": [indices]}]}, so it saves with fastnn.save
and loads back with load_state_dict()."""
import copy

import numpy as np

from .. import _C
from ..autograd import Tensor


class Optimizer:
    defaults = {}

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        seen = set()
        for g in groups:
            g = dict(g)
            ps = list(g["params"])
            for p in ps:
                if not isinstance(p, Tensor) or not p.requires_grad or p.grad_fn is not None:
                    raise TypeError(f"{type(self).__name__}: expected fastnn.nn.Parameter (a leaf Tensor that "
                                    f"requires a grad), got {type(p).__name__}")
                if id(p) in seen:
                    raise ValueError(f"{type(self).__name__}: a parameter appears in more than one group")
                seen.add(id(p))
            g["params"] = ps
            for k, v in self.defaults.items():
                g.setdefault(k, v)
            self._check_group(g)
            self.param_groups.append(g)
        self.state = {}  # id(param) -> dict

    def _check_group(self, g):
        if g["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {g['lr']}")

    def zero_grad(self, set_to_none=True):
        """Gradients to None (PyTorch's default: the next backward writes them
        fresh, with no pass of zeros) or, with set_to_none=False, to zeros."""
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.fill(0)

    def step(self):
        """One update of every parameter that has a gradient (a parameter
        whose .grad is None is skipped, as in PyTorch).  The parameters of a
        group are updated by one C call (one pass per array, one parallel
        region for the whole group), as PyTorch's fused steps."""
        for g in self.param_groups:
            items = []
            for p in g["params"]:
                gr = p.grad
                if gr is None:
                    continue
                d = p.data
                if gr.__class__ is not np.ndarray or gr.dtype is not d.dtype:
                    gr = self._usable_grad(p)
                else:
                    f = gr.flags
                    if not (f.c_contiguous and f.aligned):
                        gr = self._usable_grad(p)
                if gr.shape != d.shape:
                    raise ValueError(f"{type(self).__name__}: a parameter of shape {d.shape} has a gradient "
                                     f"of shape {gr.shape}")
                st = self.state.get(id(p))
                if st is None:
                    st = self.state[id(p)] = self._init_state(p, g)
                items.append((p, st))
            if items:
                self._update_group(g, items)

    def _usable_grad(self, p):
        """p.grad as an array the C update can read (a byte-swapped, strided
        or unaligned float gradient is converted once), or a ValueError."""
        gr, d = np.asarray(p.grad), p.data
        if gr.dtype.kind == "f" and gr.dtype.newbyteorder("=") == d.dtype:
            if not (gr.dtype.isnative and gr.flags.c_contiguous and gr.flags.aligned):
                gr = p.grad = np.require(gr, d.dtype, ("C", "A"))
            return gr
        raise ValueError(f"{type(self).__name__}: a parameter of shape {d.shape} has a gradient "
                         f"of shape {gr.shape} and dtype {gr.dtype}")

    @staticmethod
    def _batches(items, key):
        """items (parameter, state) split so that each batch is one C call:
        by dtype and by key(state) (what the update's scalars depend on)."""
        batches = {}
        for p, st in items:
            batches.setdefault((p.data.dtype, key(st)), []).append((p, st))
        return batches.items()

    def _zeros(self, p):
        return np.zeros_like(p.data)

    # ------------------------------------------------------------ state
    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self):
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {}
        for pid, st in self.state.items():
            state[index[pid]] = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
        groups = []
        for g in self.param_groups:
            d = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            d["params"] = [index[id(p)] for p in g["params"]]
            groups.append(d)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and per-parameter state.  Everything is
        checked before anything changes."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups'")
        groups = state_dict["param_groups"]
        if isinstance(groups, dict):  # from fastnn.load: {"0": {...}, ...}
            groups = [groups[k] for k in sorted(groups, key=int)]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}: {len(groups)} parameter groups in the state dict, "
                             f"{len(self.param_groups)} in the optimizer")
        params = self._params()
        for g_new, g in zip(groups, self.param_groups):
            n_new = len(np.atleast_1d(np.asarray(g_new.get("params", []))))
            if n_new != len(g["params"]):
                raise ValueError(f"{name}: a group has {n_new} parameters in the state dict, "
                                 f"{len(g['params'])} in the optimizer")
        raw_state = state_dict.get("state", {}) or {}
        new_state = {}
        for key, st in raw_state.items():
            try:
                i = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: state key {key!r} is not a parameter index") from None
            if not 0 <= i < len(params):
                raise ValueError(f"{name}: state for parameter {i}, but there are {len(params)}")
            p = params[i]
            fixed = {}
            for k, v in st.items():
                if k == "step":
                    fixed[k] = int(np.asarray(v))
                    continue
                v = np.asarray(v)
                if v.shape != p.data.shape:
                    raise ValueError(f"{name}: state {k!r} of parameter {i} has shape {v.shape}, "
                                     f"the parameter {p.data.shape}")
                fixed[k] = v.astype(p.data.dtype, copy=True)
            new_state[id(p)] = fixed
        for g_new, g in zip(groups, self.param_groups):
            for k, v in g_new.items():
                if k != "params":
                    g[k] = tuple(np.asarray(v).tolist()) if k == "betas" else (
                        v.item() if isinstance(v, np.ndarray) else v)
        self.state = new_state


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov and weight decay (as torch.optim.SGD)."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _check_group(self, g):
        super()._check_group(g)
        if g["momentum"] < 0 or g["weight_decay"] < 0:
            raise ValueError(f"SGD: invalid momentum {g['momentum']} or weight_decay {g['weight_decay']}")
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _init_state(self, p, g):
        return {"step": 0}

    def _update_group(self, g, items):
        mom = g["momentum"]
        for (_, first), batch in self._batches(items, lambda st: "momentum_buffer" not in st):
            if mom != 0 and first:
                for p, st in batch:
                    st["momentum_buffer"] = self._zeros(p)
            _C.sgd_step([p.data for p, _ in batch], [p.grad for p, _ in batch],
                        [st["momentum_buffer"] for _, st in batch] if mom != 0 else None, g["lr"], mom,
                        g["dampening"], g["weight_decay"], g["nesterov"], first)
            for _, st in batch:
                st["step"] += 1


class Adam(Optimizer):
    """Adam (as torch.optim.Adam, amsgrad=False): L2 weight decay in the gradient."""
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _check_group(self, g):
        super()._check_group(g)
        b1, b2 = g["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1) or g["eps"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid betas {g['betas']} or eps {g['eps']}")

    def _init_state(self, p, g):
        return {"step": 0, "exp_avg": self._zeros(p), "exp_avg_sq": self._zeros(p)}

    def _update_group(self, g, items):
        b1, b2 = g["betas"]
        for (_, step), batch in self._batches(items, lambda st: st["step"] + 1):
            _C.adam_step([p.data for p, _ in batch], [p.grad for p, _ in batch], [st["exp_avg"] for _, st in batch],
                         [st["exp_avg_sq"] for _, st in batch], step, g["lr"], b1, b2, g["eps"], g["weight_decay"],
                         self._decoupled)
            for _, st in batch:
                st["step"] = step


class AdamW(Adam):
    """AdamW (as torch.optim.AdamW): decoupled weight decay p *= 1 - lr wd."""
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """RMSprop (as torch.optim.RMSprop)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _check_group(self, g):
        super()._check_group(g)
        if g["alpha"] < 0 or g["eps"] < 0 or g["momentum"] < 0:
            raise ValueError(f"RMSprop: invalid alpha {g['alpha']}, eps {g['eps']} or momentum {g['momentum']}")

    def _init_state(self, p, g):
        st = {"step": 0, "square_avg": self._zeros(p)}
        if g["momentum"] > 0:
            st["momentum_buffer"] = self._zeros(p)
        if g["centered"]:
            st["grad_avg"] = self._zeros(p)
        return st

    def _update_group(self, g, items):
        for p, st in items:
            st["step"] += 1
            if g["momentum"] > 0 and "momentum_buffer" not in st:
                st["momentum_buffer"] = self._zeros(p)
            if g["centered"] and "grad_avg" not in st:
                st["grad_avg"] = self._zeros(p)
        for _, batch in self._batches(items, lambda st: None):
            _C.rmsprop_step([p.data for p, _ in batch], [p.grad for p, _ in batch],
                            [st["square_avg"] for _, st in batch], [st.get("momentum_buffer") for _, st in batch],
                            [st.get("grad_avg") for _, st in batch], g["lr"], g["alpha"], g["eps"],
                            g["weight_decay"], g["momentum"], g["centered"])
