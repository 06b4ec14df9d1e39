# cython: language_level=3
"""fastnn._C: the one bridge between Python and fastnn's C kernels.

Every function here checks what it is handed (type, dtype, shape,
contiguity), releases the GIL and calls C.  C error codes become Python
exceptions.  No loop over elements runs here.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t

# fastnn.h's constants and kernels (fnn_*), declared by tools/gen_capi.py
from fastnn._fastnn_h cimport *

cnp.import_array()

cdef extern from "cpu/threads.h" nogil:
    void fnn_threads_init()
    int fnn_openmp_version()
    int fnn_forked_child()
    int fnn_team_set_test_mode(int mode)
    void fnn_team_stats(int64_t *out)

cdef extern from *:
    """
    int fnn_kernel_count(void);
    const char *fnn_kernel_base_name(int i);
    const char *fnn_compiler(void);
    """
    int fnn_kernel_count()
    const char *fnn_kernel_base_name(int i)
    const char *fnn_compiler()

fnn_threads_init()

ISA_NAMES = ("generic", "avx2", "avx512")

# ---------------------------------------------------------------- element types
# Each binding is written once, as a cdef body over `real` (float or double)
# with typed data pointers; its def picks the specialization by the type
# number of its first array, passing F32 or F64 (whose only use is to name
# the type).  Fused types on typed pointers cost nothing per call, where a
# memoryview argument would cost its acquisition (100-200 ns) on the hot
# small calls.

ctypedef fused real:
    float
    double

cdef float *F32 = NULL
cdef double *F64 = NULL

# ---------------------------------------------------------------- errors

cdef int check_rc(int rc, str what) except -1:
    if rc == FNN_OK:
        return 0
    if rc == FNN_ENOMEM:
        raise MemoryError(f"{what}: out of memory for the workspace")
    if rc == FNN_ENOTSUP:
        raise RuntimeError(f"{what}: not supported on this CPU or build")
    if rc == FNN_EOVERFLOW:
        raise ValueError(f"{what}: array sizes overflow int64")
    raise ValueError(f"{what}: invalid arguments (C error code {rc})")

# ---------------------------------------------------------------- config

def get_num_threads():
    return fnn_get_num_threads()

def set_num_threads(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: need n >= 1, got {n}")
    check_rc(fnn_set_num_threads(min(int(n), 1 << 16)), "set_num_threads")

def get_isa():
    return ISA_NAMES[fnn_get_isa()]

def isa_available():
    return list(ISA_NAMES[:fnn_best_isa() + 1])

def set_isa(name):
    if not isinstance(name, str):
        raise TypeError(f"set_isa: expected one of {ISA_NAMES}, got {type(name).__name__}")
    if name not in ISA_NAMES:
        raise ValueError(f"set_isa: unknown ISA {name!r}; choose one of {ISA_NAMES}")
    cdef int isa = ISA_NAMES.index(name)
    if fnn_set_isa(isa) != FNN_OK:
        raise RuntimeError(f"set_isa: this CPU (or build) has no {name!r}; available: {isa_available()}")

def kernel_names():
    """Every kernel of the active ISA, by its C name."""
    isa = get_isa()
    return [f"{fnn_kernel_base_name(i).decode()}__{isa}" for i in range(fnn_kernel_count())]

def openmp_version():
    return fnn_openmp_version()

TEAM_MODES = ("auto", "serial", "full", "worker_late", "caller_late", "worker_shared")

def _team_test_mode(mode):
    """Test hook: how parallel calls pick their team (cpu/threads.h):
    "auto" (from the workers' observed lateness), or forced: "serial",
    "full", "worker_late" / "caller_late" (the whole team, with the workers
    or the caller starting ~0.3 ms late), "worker_shared" (the whole team,
    the workers leaving their core for ~1.5 ms on entering).  Returns the
    previous mode."""
    if mode not in TEAM_MODES:
        raise ValueError(f"_team_test_mode: expected one of {TEAM_MODES}, got {mode!r}")
    return TEAM_MODES[fnn_team_set_test_mode(TEAM_MODES.index(mode))]

def team_stats():
    """Counters since the process started: parallel regions judged, found
    late (a worker kept the caller waiting at the join, or shared its core
    with another thread), kernel calls then run on one thread, and regions
    in which a worker shared its core."""
    cdef int64_t out[4]
    fnn_team_stats(out)
    return {"regions": out[0], "late": out[1], "serial_calls": out[2], "shared": out[3]}

def compiler():
    return fnn_compiler().decode()

def in_forked_child():
    return bool(fnn_forked_child())

# ---------------------------------------------------------------- kinds of memory
# C reads and writes native-order, element-aligned memory only.  NumPy arrays
# can be otherwise: data read from a big-endian file ('>f4'), a view at an
# odd byte offset of a buffer.  fastnn.ops copies such inputs into native
# arrays (as_float_array, native); arrays C writes into (out=, the arrays an
# optimizer updates) cannot be fixed by a copy, so every binding refuses them
# with a TypeError that says what is wrong and how to convert.

cdef str kind_problem(cnp.ndarray a):
    """Why C cannot use a's memory in place, or None."""
    if not cnp.PyArray_ISNOTSWAPPED(a):
        return (f"has non-native byte order (dtype '{a.dtype.str}'); convert it first, e.g. "
                f"x.astype(x.dtype.newbyteorder('='))")
    if not cnp.PyArray_ISALIGNED(a):
        return "is not aligned to its element size (a view at an odd byte offset); pass a copy, e.g. x.copy()"
    return None


cdef int check_kind(object a, str what, str name) except -1:
    """TypeError unless C can read and write `a` (an ndarray) in place."""
    cdef str msg = kind_problem(<cnp.ndarray>a)
    if msg is not None:
        raise TypeError(f"{what}: {name} {msg}")
    return 0


def check_memory(a, str what, str name="out"):
    """The Python layer's form of check_kind, for arrays C writes into."""
    if isinstance(a, np.ndarray):
        check_kind(a, what, name)


def native(x):
    """x itself when C can read it in place (native byte order, aligned),
    else a native-order, aligned, C-contiguous copy of it."""
    if not isinstance(x, np.ndarray) or kind_problem(<cnp.ndarray>x) is None:
        return x
    return np.array(x, dtype=x.dtype.newbyteorder("="), order="C")

# ---------------------------------------------------------------- activations
# The Python layer (fastnn.ops) hands these C-contiguous float32/float64
# arrays of matching dtype; they are re-checked here because C trusts them.

cdef inline bint _usable(cnp.ndarray a):
    return cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a) and cnp.PyArray_IS_C_CONTIGUOUS(a)


cdef int _same(cnp.ndarray a, cnp.ndarray b, str what) except -1:
    # type numbers, not dtype objects: comparing dtypes costs a Python call
    # each, and these checks run once per kernel call of the autograd graph
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"{what}: unsupported dtype {a.dtype}")
    if cnp.PyArray_TYPE(b) != t:
        raise TypeError(f"{what}: dtype mismatch {a.dtype} vs {b.dtype}")
    if not (_usable(a) and _usable(b)):
        check_kind(a, what, "an array")
        check_kind(b, what, "an array")
        raise ValueError(f"{what}: arrays must be C-contiguous")
    if cnp.PyArray_SIZE(a) != cnp.PyArray_SIZE(b):
        raise ValueError(f"{what}: size mismatch {(<object>a).shape} vs {(<object>b).shape}")
    return 0


cdef cnp.ndarray _out_like(cnp.ndarray x, object out):
    """out, or a new C-contiguous array of x's shape and dtype when out is None."""
    if out is None:
        return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.PyArray_TYPE(x), 0)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    return <cnp.ndarray>out


def act_forward(int op, cnp.ndarray x, y, double alpha):
    """y = act(x) elementwise (op: an ACT_* code); y=None allocates it.
    Returns y."""
    cdef cnp.ndarray Y = _out_like(x, y)
    _same(x, Y, "act_forward")
    _act_call(op, x, x, Y, Y, alpha, 0, "act_forward")
    return Y

def act_forward_grad(int op, cnp.ndarray x, y, dydx, double alpha):
    """y = act(x) and dydx = act'(x) in one pass, dydx being what
    act_backward multiplies g by (g * dydx is its result); None allocates
    either.  Returns (y, dydx)."""
    cdef cnp.ndarray Y = _out_like(x, y)
    cdef cnp.ndarray D = _out_like(x, dydx)
    _same(x, Y, "act_forward_grad")
    _same(x, D, "act_forward_grad")
    if dydx is not None and (np.may_share_memory(D, x) or (y is not None and np.may_share_memory(D, Y))):
        raise ValueError("act_forward_grad: dydx overlaps x or y")
    _act_call(op, x, x, Y, D, alpha, 2, "act_forward_grad")
    return Y, D

def act_backward(int op, cnp.ndarray g, cnp.ndarray saved, dx, double alpha):
    """dx = g * act'(saved) (saved: x, or y for sigmoid and tanh); dx=None
    allocates it.  Returns dx."""
    cdef cnp.ndarray D = _out_like(g, dx)
    _same(g, saved, "act_backward")
    _same(g, D, "act_backward")
    _act_call(op, g, saved, D, D, alpha, 1, "act_backward")
    return D


cdef inline int _act(real *kind, int op, cnp.ndarray a, cnp.ndarray saved, cnp.ndarray out, cnp.ndarray out2,
                     double alpha, int mode) noexcept:
    """C's return code for out = act(a) (mode 0), for the backward out = a *
    act'(saved) (mode 1), or for out = act(a) and out2 = act'(a) (mode 2).
    No Python here: this is the call of every activation node, forward and
    backward, and inlines into _act_call."""
    cdef int64_t n = cnp.PyArray_SIZE(a)
    cdef const real *pa = <const real *>cnp.PyArray_DATA(a)
    cdef const real *ps = <const real *>cnp.PyArray_DATA(saved)
    cdef real *po = <real *>cnp.PyArray_DATA(out)
    cdef real *po2 = <real *>cnp.PyArray_DATA(out2)
    cdef int rc
    with nogil:
        if real is float:
            if mode == 1:
                rc = fnn_act_backward_f32(op, n, pa, ps, po, <float>alpha)
            elif mode == 2:
                rc = fnn_act_forward_grad_f32(op, n, pa, po, po2, <float>alpha)
            else:
                rc = fnn_act_forward_f32(op, n, pa, po, <float>alpha)
        else:
            if mode == 1:
                rc = fnn_act_backward_f64(op, n, pa, ps, po, alpha)
            elif mode == 2:
                rc = fnn_act_forward_grad_f64(op, n, pa, po, po2, alpha)
            else:
                rc = fnn_act_forward_f64(op, n, pa, po, alpha)
    return rc


cdef int _act_call(int op, cnp.ndarray a, cnp.ndarray saved, cnp.ndarray out, cnp.ndarray out2, double alpha,
                   int mode, str what) except -1:
    cdef int rc
    if cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32:
        rc = _act(F32, op, a, saved, out, out2, alpha, mode)
    else:
        rc = _act(F64, op, a, saved, out, out2, alpha, mode)
    if rc != FNN_OK:
        _act_error(rc, op, what)
    return 0


cdef int _act_error(int rc, int op, str what) except -1:
    if rc == FNN_EINVAL:  # the sizes and pointers are right: C refused the op code
        raise ValueError(f"{what}: unknown op {op}")
    return check_rc(rc, what)

def row_forward(int op, cnp.ndarray x, cnp.ndarray y, int64_t cols):
    """ROW_SOFTMAX or ROW_LOG_SOFTMAX over contiguous rows of `cols`."""
    _same(x, y, "row_forward")
    if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32:
        _row(F32, op, x, x, y, cols, False)
    else:
        _row(F64, op, x, x, y, cols, False)

def row_backward(int op, cnp.ndarray g, cnp.ndarray y, cnp.ndarray dx, int64_t cols):
    _same(g, y, "row_backward")
    _same(g, dx, "row_backward")
    if cnp.PyArray_TYPE(g) == cnp.NPY_FLOAT32:
        _row(F32, op, g, y, dx, cols, True)
    else:
        _row(F64, op, g, y, dx, cols, True)


cdef int _row(real *kind, int op, cnp.ndarray a, cnp.ndarray y, cnp.ndarray out, int64_t cols,
              bint backward) except -1:
    """out = op(a) row by row, or for the backward out = its gradient from
    a (the upstream gradient) and y (the forward's output)."""
    cdef str what = "row_backward" if backward else "row_forward"
    cdef int64_t n = cnp.PyArray_SIZE(a)
    # the rows C walks must be exactly the elements the arrays hold
    if cols <= 0 or n % cols:
        raise ValueError(f"{what}: {n} elements do not make rows of {cols}")
    cdef int64_t rows = n // cols
    cdef const real *pa = <const real *>cnp.PyArray_DATA(a)
    cdef const real *py = <const real *>cnp.PyArray_DATA(y)
    cdef real *po = <real *>cnp.PyArray_DATA(out)
    cdef int rc
    with nogil:
        if real is float:
            if backward:
                rc = fnn_row_backward_f32(op, rows, cols, pa, py, po)
            else:
                rc = fnn_row_forward_f32(op, rows, cols, pa, po)
        else:
            if backward:
                rc = fnn_row_backward_f64(op, rows, cols, pa, py, po)
            else:
                rc = fnn_row_forward_f64(op, rows, cols, pa, po)
    return check_rc(rc, what)

# ---------------------------------------------------------------- argument checks
# Used by fastnn.ops and the layers, so every op reports bad input the same way.

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

def as_float_array(x, str op, str name="x"):
    """x as a C-contiguous float32/float64 ndarray, or a clear TypeError."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>x
    if a.dtype in _FLOAT_DTYPES and cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a):
        return x  # the common case: C reads it in place
    dt = x.dtype.newbyteorder("=")
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"{op}: {name} has dtype {x.dtype}; fastnn computes in float32 or float64")
    # byte-swapped, unaligned or strided: a native C-contiguous copy (np.array
    # keeps 0-d arrays 0-d, which ascontiguousarray would not)
    return np.array(x, dtype=dt, order="C")

def same_shape(a, b, str op, str a_name, str b_name):
    if a.shape != b.shape:
        raise ValueError(f"{op}: {a_name} has shape {a.shape} but {b_name} has shape {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: {a_name} is {a.dtype} but {b_name} is {b.dtype}")

def output_for(out, shape, dtype, str op, inputs=()):
    """A fresh output, or `out` checked to be exactly right.  An `out` that
    overlaps an input without being that very array would be read after it
    was written, so such an input is copied first (the copies are returned)."""
    if out is None:
        return np.empty(shape, dtype), tuple(inputs)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy.ndarray, got {type(out).__name__}")
    check_kind(out, op, "out")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ValueError(f"{op}: out has shape {out.shape} and dtype {out.dtype}; "
                         f"expected shape {tuple(shape)} and dtype {np.dtype(dtype)}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{op}: out is read-only")
    fixed = []
    for a in inputs:
        if np.may_share_memory(a, out) and not (a.__array_interface__["data"][0] == out.__array_interface__["data"][0]
                                                and a.shape == out.shape):
            a = a.copy()
        fixed.append(a)
    return out, tuple(fixed)

include "_nn.pxi"
include "_gemm.pxi"
include "_elem.pxi"
include "_codes.pxi"

include "_capi.pxi"
include "_conv.pxi"
include "_seq.pxi"
include "_autograd.pxi"

# ---------------------------------------------------------------- memory cache
# NumPy's data allocations go through a handler; this one keeps large freed
# blocks for reuse (cpu/memcache.h) and passes small requests to the handler
# that was active before.  NumPy's handler is per context (a contextvar):
# installed at import, it serves the arrays the importing thread allocates.

from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer
from libc.string cimport strncpy

cdef extern from "cpu/memcache.h" nogil:
    ctypedef struct fnn_memcache_next:
        void *ctx
        void *(*malloc)(void *ctx, size_t size)
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize)
        void *(*realloc)(void *ctx, void *ptr, size_t new_size)
        void (*free)(void *ctx, void *ptr, size_t size)
    void fnn_memcache_init(const fnn_memcache_next *next)
    void *fnn_memcache_malloc(void *ctx, size_t size)
    void *fnn_memcache_calloc(void *ctx, size_t nelem, size_t elsize)
    void *fnn_memcache_realloc(void *ctx, void *ptr, size_t new_size)
    void fnn_memcache_free(void *ctx, void *ptr, size_t size)
    void fnn_memcache_set_limit(size_t bytes)
    size_t fnn_memcache_release()
    void fnn_memcache_stats(size_t *out)

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size)
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize)
        void *(*realloc)(void *ctx, void *ptr, size_t new_size)
        void (*free)(void *ctx, void *ptr, size_t size)
    ctypedef struct PyDataMem_Handler:
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator
    object PyDataMem_SetHandler(object handler)
    object PyDataMem_GetHandler()

cdef PyDataMem_Handler _cache_handler
cdef object _previous_handler = None  # kept alive: small requests and old arrays use it

def memory_cache_install(size_t limit):
    """Keep up to `limit` bytes of freed large NumPy blocks (0: keep none);
    the first call installs the handler in the calling context."""
    global _previous_handler
    cdef PyDataMem_Handler *prev
    cdef fnn_memcache_next nxt
    if _previous_handler is None:
        _previous_handler = PyDataMem_GetHandler()
        prev = <PyDataMem_Handler *>PyCapsule_GetPointer(_previous_handler, "mem_handler")
        nxt.ctx = prev.allocator.ctx
        nxt.malloc = prev.allocator.malloc
        nxt.calloc = prev.allocator.calloc
        nxt.realloc = prev.allocator.realloc
        nxt.free = prev.allocator.free
        fnn_memcache_init(&nxt)
        strncpy(_cache_handler.name, b"fastnn_memory_cache", 126)
        _cache_handler.version = 1
        _cache_handler.allocator.ctx = NULL
        _cache_handler.allocator.malloc = fnn_memcache_malloc
        _cache_handler.allocator.calloc = fnn_memcache_calloc
        _cache_handler.allocator.realloc = fnn_memcache_realloc
        _cache_handler.allocator.free = fnn_memcache_free
        PyDataMem_SetHandler(PyCapsule_New(&_cache_handler, "mem_handler", NULL))
    fnn_memcache_set_limit(limit)

def memory_cache_release():
    """Free every kept block; returns the bytes freed."""
    return fnn_memcache_release()

def memory_cache_stats():
    cdef size_t out[4]
    fnn_memcache_stats(out)
    return {"bytes": out[0], "limit": out[1], "hits": out[2], "misses": out[3]}
