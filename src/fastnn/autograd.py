"""Reverse-mode automatic differentiation over whole kernels.

A `Tensor` wraps an ndarray.  Every operation on Tensors that needs a
gradient records one `Node` (its `grad_fn`): a whole fused kernel (a Linear,
a convolution, an LSTM layer, an attention, a fused loss) is one node, never
a node per element, so the graph costs about a microsecond of Python per
kernel.  `loss.backward()` runs the nodes in reverse topological order.

Leaves that require a grad (parameters, inputs marked `requires_grad=True`)
get one `AccumulateGrad` node each, shared by every use of the leaf: it runs
once per backward, after the leaf's last contribution, so its hooks see the
final `.grad`.  A node may write a leaf's gradient itself (a weight-gradient
GEMM with beta=0 into a fresh `.grad`, or beta=1 onto an existing one) and
return `DONE` for that input instead of an array.
"""
import functools

import numpy as np

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# ---------------------------------------------------------------- grad mode
# The mode lives in the extension (the recording code reads it there).

from . import _C

is_grad_enabled = _C.grad_mode


class set_grad_enabled:
    """Context manager (and decorator) that sets grad mode on or off."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = _C.set_grad_mode(self._mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C.set_grad_mode(self._prev)
        return False


class _GradMode:
    _mode = False

    def __enter__(self):
        self._prev = _C.set_grad_mode(self._mode)
        return self

    def __exit__(self, *exc):
        _C.set_grad_mode(self._prev)
        return False

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _C.set_grad_mode(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _C.set_grad_mode(prev)
        return wrapper


class no_grad(_GradMode):
    """Nothing is recorded (and nothing saved) inside: `with fastnn.no_grad():`
    or `@fastnn.no_grad()`."""
    _mode = False


class enable_grad(_GradMode):
    """Turns recording back on inside a no_grad block."""
    _mode = True


# ---------------------------------------------------------------- nodes

DONE = object()  # a node's backward wrote this input's leaf gradient itself


class Node(_C.NodeBase):
    """One recorded operation.  `next` holds, per input, the node its
    gradient goes to (None for an input that needs none); `backward(grads)`
    takes the gradient of each output (an array, or None where no output
    gradient arrived; a plain array for single-output nodes) and returns one
    gradient per input (an array, None, or DONE).  Its fields are the
    extension's NodeBase."""
    __slots__ = ()
    name = "node"

    def backward(self, grads):
        raise NotImplementedError

    def release(self):
        """Drop what the backward saved (after a backward without retain_graph)."""

    def __repr__(self):
        return f"<{self.name}>"


class AccumulateGrad(Node):
    """Adds the summed gradient of a leaf into leaf.grad, then runs its hooks."""
    __slots__ = ("leaf",)
    name = "AccumulateGrad"

    def __init__(self, leaf):
        self.leaf = leaf
        self.next = ()
        self.n_out = 1
        self._deps = 0
        self._buf = None
        self._freed = False

    def backward(self, g):
        leaf = self.leaf
        if g is not None:
            if g.shape != leaf.data.shape:
                raise RuntimeError(f"backward: the gradient of a leaf of shape {leaf.data.shape} has shape "
                                   f"{g.shape}")
            if leaf.grad is None:
                # a fresh array the leaf owns: never an alias of another grad
                leaf.grad = np.array(g, dtype=leaf.data.dtype, order="C", copy=True)
            else:
                leaf.grad += g
        hooks = leaf._hooks
        if hooks:
            for h in list(hooks.values()):
                h(leaf)
        return ()


# ---------------------------------------------------------------- Tensor

class _Hook:
    __slots__ = ("_d", "_k")

    def __init__(self, d, k):
        self._d, self._k = d, k

    def remove(self):
        self._d.pop(self._k, None)


class Tensor(_C.TensorBase):
    """An ndarray (`.data`) with an optional gradient (`.grad`, an ndarray or
    None) and the node that made it (`.grad_fn`, None for a leaf).  Its
    fields are the extension's TensorBase."""
    __slots__ = ()
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        a = np.asarray(data, dtype=dtype)
        if a.dtype.kind in "fc" and not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        if requires_grad and a.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"only float32 and float64 tensors can require a grad, got dtype {a.dtype}")
        self.data = a
        self.requires_grad = bool(requires_grad)

    def __reduce_ex__(self, protocol):
        # copy.deepcopy (TransformerEncoder copies its layer) and pickle: a
        # leaf with its data, requires_grad and grad
        if self.grad_fn is not None:
            raise RuntimeError("only leaf tensors (parameters, inputs) can be copied or pickled; use .detach()")
        return _rebuild_tensor, (type(self), self.data, self.requires_grad, self.grad)

    # ------------------------------------------------------------ basics
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self):
        return self.grad_fn is None

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    def __len__(self):
        return len(self.data)

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        return Tensor(self.data)

    def clone(self):
        return _ops().astype(self, self.dtype, copy=True)

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad_: a non-leaf tensor always requires a grad; use .detach()")
        if requires_grad and self.data.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"only float32 and float64 tensors can require a grad, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def zero_(self):
        self.data[...] = 0
        return self

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.grad_fn is not None:
            extra = f", grad_fn=<{self.grad_fn.name}>"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.data.dtype != np.float32:
            extra = f", dtype={self.data.dtype}" + extra
        return f"tensor({body}{extra})"

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor), called on a leaf once per backward, after its .grad
        has received the last contribution of that backward."""
        if self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors have one")
        if self._hooks is None:
            self._hooks = {}
        key = object()
        self._hooks[key] = hook
        return _Hook(self._hooks, key)

    # ------------------------------------------------------------ backward
    def backward(self, gradient=None, retain_graph=False):
        """Gradients of this tensor w.r.t. every leaf that requires one,
        added into the leaves' .grad."""
        backward([self], None if gradient is None else [gradient], retain_graph=retain_graph)

    # ------------------------------------------------------------ operators
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().sub(self, other)

    def __rsub__(self, other):
        return _ops().sub(other, self)

    def __mul__(self, other):
        return _ops().mul(self, other)

    def __rmul__(self, other):
        return _ops().mul(other, self)

    def __truediv__(self, other):
        return _ops().div(self, other)

    def __rtruediv__(self, other):
        return _ops().div(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __neg__(self):
        return _ops().neg(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        return _ops().pow(self, exponent)

    def __getitem__(self, index):
        return _ops().getitem(self, index)

    def __setitem__(self, index, value):
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("in-place assignment into a tensor that requires a grad is not supported; "
                               "build a new tensor (fastnn.cat, fastnn.stack or arithmetic) instead")
        self.data[index] = value.data if isinstance(value, Tensor) else value

    def __lt__(self, other):
        return self.data < _raw(other)

    def __le__(self, other):
        return self.data <= _raw(other)

    def __gt__(self, other):
        return self.data > _raw(other)

    def __ge__(self, other):
        return self.data >= _raw(other)

    def __eq__(self, other):
        return self.data == _raw(other)

    def __ne__(self, other):
        return self.data != _raw(other)

    __hash__ = object.__hash__

    def sum(self, axis=None, keepdims=False, dim=None, dtype=None, out=None):
        _no_out(out, "sum")
        r = _ops().sum(self, axis if dim is None else dim, keepdims)
        return r if dtype is None else r.astype(dtype)

    def mean(self, axis=None, keepdims=False, dim=None, dtype=None, out=None):
        _no_out(out, "mean")
        r = _ops().mean(self, axis if dim is None else dim, keepdims)
        return r if dtype is None else r.astype(dtype)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops().reshape(self, shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        nd = max(self.ndim, 1)
        s, e = start_dim % nd, end_dim % nd
        shape = self.shape[:s] + (-1,) + self.shape[e + 1:] if self.ndim else (1,)
        return _ops().reshape(self, shape)

    def transpose(self, *axes):
        """transpose(dim0, dim1) swaps two dims (torch); transpose() or a full
        permutation permutes (NumPy)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if len(axes) == 2 and self.ndim >= 2:
            perm = list(range(self.ndim))
            a, b = axes[0] % self.ndim, axes[1] % self.ndim
            perm[a], perm[b] = perm[b], perm[a]
            axes = tuple(perm)
        return _ops().transpose(self, axes if axes else None)

    def permute(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops().transpose(self, axes)

    @property
    def T(self):
        return _ops().transpose(self, None)

    def exp(self):
        return _ops().exp(self)

    def log(self):
        return _ops().log(self)

    def sqrt(self):
        return _ops().pow(self, 0.5)

    def abs(self):
        return _ops().abs(self)

    def relu(self):
        return _ops().relu(self)

    def sigmoid(self):
        return _ops().sigmoid(self)

    def tanh(self):
        return _ops().tanh(self)

    def max(self, axis=None, keepdims=False, dim=None):
        return _ops().amax(self, axis if dim is None else dim, keepdims)

    def argmax(self, axis=None, dim=None):
        return self.data.argmax(axis=axis if dim is None else dim)

    def astype(self, dtype):
        return _ops().astype(self, np.dtype(dtype))

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)


def _no_out(out, op):
    if out is not None:
        raise TypeError(f"Tensor.{op}: out= is not supported (a Tensor's result is always a new Tensor)")


def _ops():
    from . import _tensor_ops
    return _tensor_ops


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf Tensor holding a copy of data (as torch.tensor)."""
    if isinstance(data, Tensor):
        data = data.data
    a = np.array(data, dtype=dtype, copy=True)
    if dtype is None and a.dtype == np.float64 and not isinstance(data, np.ndarray):
        a = a.astype(np.float32)  # Python floats become float32, as torch's default dtype
    return Tensor(a, requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    """data as a Tensor without copying where it can (as torch.as_tensor)."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return Tensor(np.asarray(_raw(data), dtype=dtype))


# ---------------------------------------------------------------- recording

def _rebuild_tensor(cls, data, requires_grad, grad):
    t = cls.__new__(cls)
    Tensor.__init__(t, data, requires_grad=requires_grad)
    t.grad = grad
    return t


# needs_grad(*xs), edge(x), record(node, inputs, outputs) and wrap(array):
# the extension's (src/fastnn/_autograd.pxi)
needs_grad, edge, record, wrap = _C.needs_grad, _C.edge, _C.record, _C.wrap
for _name, _field in _C.tensor_fields().items():
    setattr(Tensor, _name, _field)
_C.autograd_setup(Tensor, AccumulateGrad, DONE)


# ---------------------------------------------------------------- engine

_callbacks = None


def queue_callback(fn):
    """During a backward: fn() runs once when the current backward() finishes."""
    if _callbacks is None:
        raise RuntimeError("queue_callback: only callable during a backward")
    _callbacks.append(fn)


def backward(tensors, grad_tensors=None, retain_graph=False):
    """Run the backward from tensors (each with its output gradient; None
    means 1 for a one-element tensor)."""
    global _callbacks
    if isinstance(tensors, Tensor):
        tensors = [tensors]
        if grad_tensors is not None:
            grad_tensors = [grad_tensors]
    roots = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("backward: the tensor does not require a grad and has no grad_fn "
                               "(was it computed under no_grad(), or from inputs that need no grad?)")
        g = None if grad_tensors is None else grad_tensors[i]
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs; "
                                   f"this tensor has shape {t.data.shape}, so pass backward(gradient)")
            g = np.ones(t.data.shape, t.data.dtype)
        else:
            g = np.asarray(_raw(g))
            if g.shape != t.data.shape:
                raise RuntimeError(f"backward: gradient has shape {g.shape}, the tensor {t.data.shape}")
            if g.dtype != t.data.dtype:
                g = g.astype(t.data.dtype)
        roots.append((edge(t), g))
    outer = _callbacks
    _callbacks = []
    try:
        _C.run_backward(roots, retain_graph, _callbacks, _raise_freed)
    finally:
        _callbacks = outer


def _raise_freed(n):
    raise RuntimeError(f"backward: trying to backward through the graph a second time (through {n.name}); "
                       f"its saved tensors were freed by the first backward. Pass retain_graph=True to "
                       f"the first backward if you need to backward twice.")


# ---------------------------------------------------------------- Function

class _Context:
    """ctx of a custom Function: save_for_backward / saved_tensors, needs_input_grad."""

    def __init__(self):
        self._saved = ()
        self.needs_input_grad = ()

    def save_for_backward(self, *arrays):
        self._saved = tuple(_raw(a) for a in arrays)

    @property
    def saved_tensors(self):
        if self._saved is None:
            raise RuntimeError("saved tensors were freed by an earlier backward (use retain_graph=True)")
        return self._saved


class _FunctionNode(Node):
    __slots__ = ("fn", "ctx", "n_in")

    @property
    def name(self):
        return f"{self.fn.__name__}Backward"

    def backward(self, grads):
        ctx = self.ctx
        if self.n_out == 1:
            if grads is None:
                return (None,) * self.n_in
            res = self.fn.backward(ctx, grads)
        else:
            gl = list(grads) if grads is not None else [None] * self.n_out
            res = self.fn.backward(ctx, *gl)
        if not isinstance(res, tuple):
            res = (res,)
        if len(res) != self.n_in:
            raise RuntimeError(f"{self.fn.__name__}.backward returned {len(res)} gradients for "
                               f"{self.n_in} inputs")
        return tuple(None if r is None else np.asarray(_raw(r)) for r in res)

    def release(self):
        self.ctx._saved = None


class Function:
    """A custom differentiable operation, as torch.autograd.Function:
    `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` are static
    methods on plain ndarrays (Tensor arguments arrive unwrapped);
    `MyFunction.apply(*args)` runs forward and records one node."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        ctx = _Context()
        raw = tuple(_raw(a) for a in args)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *raw)
        if not (_C.grad_mode() and any(ctx.needs_input_grad)):
            if isinstance(out, tuple):
                return tuple(wrap(np.asarray(o)) for o in out)
            return wrap(np.asarray(out))
        node = _FunctionNode()
        node.fn, node.ctx, node.n_in = cls, ctx, len(args)
        tensors = [a if isinstance(a, Tensor) else None for a in args]
        if isinstance(out, tuple):
            return record(node, tensors, tuple(np.asarray(o) for o in out))
        return record(node, tensors, np.asarray(out))


def grad(outputs, inputs, grad_outputs=None, retain_graph=False):
    """The gradients of outputs w.r.t. inputs (leaves), returned rather than
    added into .grad (their .grad is left as it was)."""
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    saved = [(t.grad, t._hooks) for t in inputs]
    for t in inputs:
        if t.grad_fn is not None:
            raise RuntimeError("grad: inputs must be leaf tensors")
        t.grad, t._hooks = None, None
    try:
        backward(outputs if isinstance(outputs, (list, tuple)) else [outputs],
                 grad_outputs if grad_outputs is None or isinstance(grad_outputs, (list, tuple))
                 else [grad_outputs], retain_graph=retain_graph)
        res = [t.grad for t in inputs]
    finally:
        for t, (g, h) in zip(inputs, saved):
            t.grad, t._hooks = g, h
    return res[0] if single else tuple(res)
