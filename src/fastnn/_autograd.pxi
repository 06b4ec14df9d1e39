# The autograd graph's per-operation bookkeeping: the fields of a Tensor and
# of a graph node, recording an operation, and the engine's backward loop.
# The classes users see (fastnn.Tensor, autograd.Node and its subclasses,
# src/fastnn/autograd.py) are Python classes over these two bases; their
# fields here are C struct members, so each node costs no dictionary or
# descriptor lookups.  Included at the end of _C.pyx.

cdef class TensorBase:
    """The fields of fastnn.Tensor: data (the ndarray), grad, requires_grad
    (a bool), grad_fn (the node that made it, None for a leaf), and the
    engine's own: _idx (which output of grad_fn), _acc (a leaf's
    AccumulateGrad node), _hooks (a leaf's post-accumulate hooks, or None).
    Python reaches .data and .grad, which it reads on every call, through
    member descriptors (tensor_fields) that cost what __slots__ do (Cython's
    properties cost twice that); this module never reads those two, so a
    deleted one is only an AttributeError, as for a slot.  The others are
    properties: deleting one sets None, and this module reads them."""
    cdef object data
    cdef object grad
    cdef public object requires_grad
    cdef public object grad_fn
    cdef public object _idx
    cdef public object _acc
    cdef public object _hooks
    cdef object __weakref__

    def __cinit__(self):
        self.requires_grad = False
        self._idx = 0


cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        const char *name
        int type
        Py_ssize_t offset
        int flags
        const char *doc
    int T_OBJECT_EX
    object PyDescr_NewMember(type tp, PyMemberDef *meth)

cdef extern from *:
    """
    #define FNN_TB_OFF(f) ((Py_ssize_t)offsetof(struct __pyx_obj_6fastnn_2_C_TensorBase, f))
    #define FNN_TB_OFF_data FNN_TB_OFF(data)
    #define FNN_TB_OFF_grad FNN_TB_OFF(grad)
    """
    Py_ssize_t FNN_TB_OFF_data, FNN_TB_OFF_grad

cdef PyMemberDef _tensor_members[2]


def tensor_fields():
    """{name: member descriptor} for TensorBase's data and grad, for the
    Python class to install as its attributes (T_OBJECT_EX, as a slot's:
    the kind CPython's attribute cache specialises)."""
    _tensor_members[0].name = "data"
    _tensor_members[0].offset = FNN_TB_OFF_data
    _tensor_members[1].name = "grad"
    _tensor_members[1].offset = FNN_TB_OFF_grad
    out = {}
    cdef int i
    for i in range(2):
        _tensor_members[i].type = T_OBJECT_EX
        _tensor_members[i].flags = 0
        _tensor_members[i].doc = NULL
        out[_tensor_members[i].name.decode()] = PyDescr_NewMember(TensorBase, &_tensor_members[i])
    return out


cdef class NodeBase:
    """The fields of autograd.Node: next (per input, the node its gradient
    goes to, a (node, output index) pair, or None), n_out, and the engine's
    own: _deps (edges into it still to run), _buf (the gradient waiting for
    it: an array, or a list per output), _freed (its saved tensors are gone)."""
    cdef public tuple next
    cdef public Py_ssize_t n_out
    cdef public Py_ssize_t _deps
    cdef public object _buf
    cdef public bint _freed
    cdef object __weakref__


cdef bint _grad_mode = True
cdef object _Tensor = TensorBase       # fastnn.Tensor, set by autograd.py
cdef object _AccumulateGrad = None    # autograd.AccumulateGrad
cdef object _DONE = None              # autograd.DONE


def autograd_setup(tensor_cls, accumulate_grad_cls, done):
    global _Tensor, _AccumulateGrad, _DONE
    _Tensor, _AccumulateGrad, _DONE = tensor_cls, accumulate_grad_cls, done


def grad_mode():
    return _grad_mode


def set_grad_mode(bint mode):
    """Sets grad mode; returns the previous one."""
    global _grad_mode
    cdef bint prev = _grad_mode
    _grad_mode = mode
    return prev


def needs_grad(*xs):
    """Whether an op on xs must be recorded (grad mode on and any input requires a grad)."""
    if not _grad_mode:
        return False
    for x in xs:
        if isinstance(x, TensorBase) and (<TensorBase>x).requires_grad:
            return True
    return False


cdef inline object _edge(object x):
    if not isinstance(x, TensorBase):
        return None
    cdef TensorBase t = <TensorBase>x
    if not t.requires_grad:
        return None
    if t.grad_fn is not None:
        return t.grad_fn if t._idx == 0 else (t.grad_fn, t._idx)
    if t._acc is None:
        t._acc = _AccumulateGrad(t)
    return t._acc


def edge(x):
    """The node x's gradient flows to: its grad_fn (or (grad_fn, index)), its
    AccumulateGrad, or None."""
    return _edge(x)


cdef inline TensorBase _new_tensor(object data, bint requires_grad, object node, Py_ssize_t idx):
    cdef TensorBase t = TensorBase.__new__(_Tensor)
    t.data = data
    t.requires_grad = True if requires_grad else False
    t.grad_fn = node
    if idx:
        t._idx = idx
    return t


def record(NodeBase node, inputs, outputs):
    """Attach node (whose backward takes these inputs) to the output arrays;
    returns the output Tensors (one, or a tuple for a tuple of arrays)."""
    node.next = tuple([_edge(x) for x in inputs])
    node._deps = 0
    node._buf = None
    node._freed = False
    cdef Py_ssize_t k
    if type(outputs) is tuple:
        node.n_out = len(<tuple>outputs)
        res = []
        for k in range(node.n_out):
            a = (<tuple>outputs)[k]
            res.append(_new_tensor(a, a is not None and a.dtype.kind == "f", node, k))
        return tuple(res)
    node.n_out = 1
    return _new_tensor(outputs, True, node, 0)


def wrap(a):
    """An array as a Tensor that needs no grad (an op's output when nothing is recorded)."""
    return _new_tensor(a, False, None, 0)


cdef inline void _deliver(NodeBase m, Py_ssize_t k, object g):
    """Add g to the gradient waiting for output k of node m (a plain array
    for a single-output node, a list per output otherwise)."""
    cdef list buf
    if m.n_out == 1:
        m._buf = g if m._buf is None else sum_arrays(m._buf, g, 1.0)
        return
    if m._buf is None:
        m._buf = [None] * m.n_out
    buf = <list>m._buf
    prev = buf[k]
    buf[k] = g if prev is None else sum_arrays(prev, g, 1.0)


cdef inline NodeBase _target(object e, Py_ssize_t *k):
    if type(e) is tuple:
        k[0] = (<tuple>e)[1]
        return <NodeBase>(<tuple>e)[0]
    k[0] = 0
    return <NodeBase>e


def run_backward(list roots, bint retain_graph, list callbacks, freed_error):
    """The engine: roots is a list of (edge, gradient) pairs; runs every
    node reachable from them once, after all its consumers, in reverse
    topological order.  freed_error(node) raises for a node whose saved
    tensors a previous backward freed; callbacks run at the end."""
    cdef list order = [], stack, ready
    cdef set seen
    cdef NodeBase n, m
    cdef Py_ssize_t k, d
    cdef object e, g, grads, buf, nxt
    # count, for every node reachable from the roots, the edges into it
    for e, g in roots:
        n = _target(e, &k)
        if n._freed:
            freed_error(n)
        if n._deps == 0 and n not in order:
            order.append(n)
    seen = set(order)
    stack = list(order)
    while stack:
        n = <NodeBase>stack.pop()
        for e in n.next:
            if e is None:
                continue
            m = _target(e, &k)
            m._deps += 1
            if m not in seen:
                if m._freed:
                    freed_error(m)
                seen.add(m)
                stack.append(m)
                order.append(m)
    for e, g in roots:
        m = _target(e, &k)
        _deliver(m, k, g)
    ready = [n for n in order if (<NodeBase>n)._deps == 0]
    try:
        while ready:
            n = <NodeBase>ready.pop()
            buf = n._buf
            n._buf = None
            nxt = n.next
            if buf is None and nxt:
                grads = (None,) * len(<tuple>nxt)  # every consumer wrote its gradient elsewhere, or none
            else:
                grads = n.backward(buf)
            if not retain_graph and type(n) is not _AccumulateGrad:  # a leaf's node serves every graph
                n.release()
                n._freed = True
            for e, g in zip(nxt, grads):
                if e is None:
                    continue
                m = _target(e, &k)
                if g is not None and g is not _DONE:
                    _deliver(m, k, g)
                d = m._deps - 1
                m._deps = d
                # a leaf's node with nothing to add and no hook has nothing to do
                if d == 0 and (m._buf is not None or type(m) is not _AccumulateGrad or m.leaf._hooks):
                    ready.append(m)
        for fn in callbacks:
            fn()
    finally:
        for n in order:
            n._deps = 0
            n._buf = None
