# Bindings of the kernels behind fastnn.nn and fastnn.optim: fused
# cross-entropy, layer norm, batch norm and the optimizer updates.  Included
# at the end of _C.pyx.  As everywhere in _C: check what C will trust (dtype,
# contiguity, sizes, writability), release the GIL, call C, map the code.

REDUCTIONS = {"none": FNN_REDUCTION_NONE, "mean": FNN_REDUCTION_MEAN, "sum": FNN_REDUCTION_SUM}


cdef inline void *_ready_ptr(object x, int typenum, int64_t size, bint out):
    """x's data when it is an ndarray C can use as it is (the checks of _arr
    on type numbers and flags: these run per parameter per step), else NULL."""
    if not isinstance(x, np.ndarray):
        return NULL
    cdef cnp.ndarray arr = <cnp.ndarray>x
    if (cnp.PyArray_TYPE(arr) == typenum and _usable(arr) and cnp.PyArray_SIZE(arr) == size
            and (not out or cnp.PyArray_ISWRITEABLE(arr))):
        return cnp.PyArray_DATA(arr)
    return NULL


cdef object _DT_F32 = np.dtype(np.float32)
cdef object _DT_F64 = np.dtype(np.float64)
cdef object _DT_I64 = np.dtype(np.int64)


cdef inline int _typenum_of(object dtype):
    """The type number of float32 / float64 / int64 given as a type or a
    dtype (identity tests, no Python call), else -1."""
    if dtype is np.float32 or dtype is _DT_F32:
        return cnp.NPY_FLOAT32
    if dtype is np.float64 or dtype is _DT_F64:
        return cnp.NPY_FLOAT64
    if dtype is np.int64 or dtype is _DT_I64:
        return cnp.NPY_INT64
    return -1


cdef void *_arr(object a, object dtype, int64_t size, str what, str name, bint out=False,
                bint optional=False) except? NULL:
    """The data pointer of `a` after checking it is a C-contiguous ndarray of
    `dtype` with `size` elements (writeable when `out`); NULL for None when
    `optional`."""
    if a is None:
        if optional:
            return NULL
        raise ValueError(f"{what}: {name} is required")
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int tn = _typenum_of(dtype)
    cdef void *ptr
    if tn >= 0:
        ptr = _ready_ptr(arr, tn, size, out)
        if ptr != NULL:
            return ptr
    check_kind(arr, what, name)
    if arr.dtype != dtype:
        raise TypeError(f"{what}: {name} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise ValueError(f"{what}: {name} must be C-contiguous")
    if arr.size != size:
        raise ValueError(f"{what}: {name} has {arr.size} elements (shape {(<object>arr).shape}), expected {size}")
    if out and not arr.flags.writeable:
        raise ValueError(f"{what}: {name} is read-only")
    return cnp.PyArray_DATA(arr)


cdef bint _is_f32(object a, str what, str name="input") except -1:
    """Whether a (an ndarray C can use in place) is float32 (else float64);
    TypeError for anything else.  Picks a fused body's specialization."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what}: expected a numpy.ndarray, got {type(a).__name__}")
    check_kind(a, what, name)
    cdef int tn = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if tn == cnp.NPY_FLOAT32:
        return True
    if tn == cnp.NPY_FLOAT64:
        return False
    raise TypeError(f"{what}: unsupported dtype {a.dtype}; fastnn computes in float32 or float64")


cdef inline object _dtype_of(real *kind):
    if real is float:
        return _DT_F32
    else:
        return _DT_F64


# ---------------------------------------------------------------- cross-entropy

def cross_entropy_index(logits, target, grad, reduction, row_loss):
    """logits (rows, cols), int64 target (rows,), grad like logits, float64
    row_loss (rows,): fills grad and row_loss, returns the reduced loss."""
    if _is_f32(logits, "cross_entropy"):
        return _cross_entropy(F32, False, logits, target, grad, reduction, row_loss)
    return _cross_entropy(F64, False, logits, target, grad, reduction, row_loss)


def cross_entropy_prob(logits, target, grad, reduction, row_loss):
    """As cross_entropy_index with target probabilities shaped like logits."""
    if _is_f32(logits, "cross_entropy"):
        return _cross_entropy(F32, True, logits, target, grad, reduction, row_loss)
    return _cross_entropy(F64, True, logits, target, grad, reduction, row_loss)


cdef double _cross_entropy(real *kind, bint prob, logits, target, grad, reduction, row_loss) except? -1.0:
    dt = _dtype_of(kind)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be 2-D, got shape {logits.shape}")
    cdef int64_t rows = logits.shape[0], cols = logits.shape[1]
    # an unknown name goes to C as -1, which C refuses (FNN_EINVAL) before
    # it writes anything; fastnn.ops and nn.functional name the valid ones
    cdef int red = REDUCTIONS.get(reduction, -1)
    cdef const real *px = <const real *>_arr(logits, dt, rows * cols, "cross_entropy", "logits")
    cdef const void *pt = _arr(target, dt if prob else np.int64, rows * cols if prob else rows, "cross_entropy",
                               "target")
    cdef real *pg = <real *>_arr(grad, dt, rows * cols, "cross_entropy", "grad", True)
    cdef double *pr = <double *>_arr(row_loss, np.float64, rows, "cross_entropy", "row_loss", True)
    cdef double loss = 0
    cdef int rc
    with nogil:
        if real is float:
            if prob:
                rc = fnn_cross_entropy_prob_f32(rows, cols, px, <const real *>pt, red, pg, pr, &loss)
            else:
                rc = fnn_cross_entropy_index_f32(rows, cols, px, <const int64_t *>pt, red, pg, pr, &loss)
        else:
            if prob:
                rc = fnn_cross_entropy_prob_f64(rows, cols, px, <const real *>pt, red, pg, pr, &loss)
            else:
                rc = fnn_cross_entropy_index_f64(rows, cols, px, <const int64_t *>pt, red, pg, pr, &loss)
    check_rc(rc, "cross_entropy")
    return loss


# ---------------------------------------------------------------- layer norm

def layer_norm_forward(x, weight, bias, double eps, y, mean, rstd):
    """x (rows, cols); weight, bias (cols,); y like x; mean, rstd (rows,)."""
    if _is_f32(x, "layer_norm"):
        _layer_norm_forward(F32, x, weight, bias, eps, y, mean, rstd)
    else:
        _layer_norm_forward(F64, x, weight, bias, eps, y, mean, rstd)


cdef int _layer_norm_forward(real *kind, x, weight, bias, double eps, y, mean, rstd) except -1:
    dt = _dtype_of(kind)
    if x.ndim != 2:
        raise ValueError(f"layer_norm: x must be 2-D here, got shape {x.shape}")
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    cdef const real *px = <const real *>_arr(x, dt, rows * cols, "layer_norm", "x")
    cdef const real *pw = <const real *>_arr(weight, dt, cols, "layer_norm", "weight")
    cdef const real *pb = <const real *>_arr(bias, dt, cols, "layer_norm", "bias")
    cdef real *py = <real *>_arr(y, dt, rows * cols, "layer_norm", "y", True)
    cdef real *pm = <real *>_arr(mean, dt, rows, "layer_norm", "mean", True)
    cdef real *pr = <real *>_arr(rstd, dt, rows, "layer_norm", "rstd", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_layer_norm_forward_f32(rows, cols, px, pw, pb, eps, py, pm, pr)
        else:
            rc = fnn_layer_norm_forward_f64(rows, cols, px, pw, pb, eps, py, pm, pr)
    return check_rc(rc, "layer_norm")


def layer_norm_backward(grad_out, x, weight, mean, rstd, grad_x, grad_weight, grad_bias):
    if _is_f32(x, "layer_norm_backward"):
        _layer_norm_backward(F32, grad_out, x, weight, mean, rstd, grad_x, grad_weight, grad_bias)
    else:
        _layer_norm_backward(F64, grad_out, x, weight, mean, rstd, grad_x, grad_weight, grad_bias)


cdef int _layer_norm_backward(real *kind, grad_out, x, weight, mean, rstd, grad_x, grad_weight,
                              grad_bias) except -1:
    dt = _dtype_of(kind)
    cdef str w = "layer_norm_backward"
    if x.ndim != 2:
        raise ValueError(f"{w}: x must be 2-D here, got shape {x.shape}")
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    cdef const real *pg = <const real *>_arr(grad_out, dt, rows * cols, w, "grad_out")
    cdef const real *px = <const real *>_arr(x, dt, rows * cols, w, "x")
    cdef const real *pw = <const real *>_arr(weight, dt, cols, w, "weight")
    cdef const real *pm = <const real *>_arr(mean, dt, rows, w, "mean")
    cdef const real *pr = <const real *>_arr(rstd, dt, rows, w, "rstd")
    cdef real *pdx = <real *>_arr(grad_x, dt, rows * cols, w, "grad_x", True)
    cdef real *pdw = <real *>_arr(grad_weight, dt, cols, w, "grad_weight", True)
    cdef real *pdb = <real *>_arr(grad_bias, dt, cols, w, "grad_bias", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_layer_norm_backward_f32(rows, cols, pg, px, pw, pm, pr, pdx, pdw, pdb)
        else:
            rc = fnn_layer_norm_backward_f64(rows, cols, pg, px, pw, pm, pr, pdx, pdw, pdb)
    return check_rc(rc, w)


# ---------------------------------------------------------------- batch norm

def batch_norm_forward(x, int64_t n, int64_t c, int64_t s, weight, bias, bint training, double momentum,
                       double eps, running_mean, running_var, y, save_mean, save_rstd):
    """x viewed as (n, c, s); weight/bias/running stats (c,) or None."""
    if _is_f32(x, "batch_norm"):
        _batch_norm_forward(F32, x, n, c, s, weight, bias, training, momentum, eps, running_mean, running_var, y,
                            save_mean, save_rstd)
    else:
        _batch_norm_forward(F64, x, n, c, s, weight, bias, training, momentum, eps, running_mean, running_var, y,
                            save_mean, save_rstd)


cdef int _batch_norm_forward(real *kind, x, int64_t n, int64_t c, int64_t s, weight, bias, bint training,
                             double momentum, double eps, running_mean, running_var, y, save_mean,
                             save_rstd) except -1:
    dt = _dtype_of(kind)
    cdef str w = "batch_norm"
    cdef const real *px = <const real *>_arr(x, dt, n * c * s, w, "x")
    cdef const real *pw = <const real *>_arr(weight, dt, c, w, "weight", False, True)
    cdef const real *pb = <const real *>_arr(bias, dt, c, w, "bias", False, True)
    cdef real *prm = <real *>_arr(running_mean, dt, c, w, "running_mean", True, True)
    cdef real *prv = <real *>_arr(running_var, dt, c, w, "running_var", True, True)
    cdef real *py = <real *>_arr(y, dt, n * c * s, w, "y", True)
    cdef real *psm = <real *>_arr(save_mean, dt, c, w, "save_mean", True)
    cdef real *psr = <real *>_arr(save_rstd, dt, c, w, "save_rstd", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_batch_norm_forward_f32(n, c, s, px, pw, pb, training, momentum, eps, prm, prv, py, psm, psr)
        else:
            rc = fnn_batch_norm_forward_f64(n, c, s, px, pw, pb, training, momentum, eps, prm, prv, py, psm, psr)
    return check_rc(rc, w)


def batch_norm_backward(grad_out, x, int64_t n, int64_t c, int64_t s, weight, save_mean, save_rstd,
                        bint training, grad_x, grad_weight, grad_bias):
    if _is_f32(x, "batch_norm_backward"):
        _batch_norm_backward(F32, grad_out, x, n, c, s, weight, save_mean, save_rstd, training, grad_x,
                             grad_weight, grad_bias)
    else:
        _batch_norm_backward(F64, grad_out, x, n, c, s, weight, save_mean, save_rstd, training, grad_x,
                             grad_weight, grad_bias)


cdef int _batch_norm_backward(real *kind, grad_out, x, int64_t n, int64_t c, int64_t s, weight, save_mean,
                              save_rstd, bint training, grad_x, grad_weight, grad_bias) except -1:
    dt = _dtype_of(kind)
    cdef str w = "batch_norm_backward"
    cdef const real *pg = <const real *>_arr(grad_out, dt, n * c * s, w, "grad_out")
    cdef const real *px = <const real *>_arr(x, dt, n * c * s, w, "x")
    cdef const real *pw = <const real *>_arr(weight, dt, c, w, "weight", False, True)
    cdef const real *pm = <const real *>_arr(save_mean, dt, c, w, "save_mean")
    cdef const real *pr = <const real *>_arr(save_rstd, dt, c, w, "save_rstd")
    cdef real *pdx = <real *>_arr(grad_x, dt, n * c * s, w, "grad_x", True)
    cdef real *pdw = <real *>_arr(grad_weight, dt, c, w, "grad_weight", True)
    cdef real *pdb = <real *>_arr(grad_bias, dt, c, w, "grad_bias", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_batch_norm_backward_f32(n, c, s, pg, px, pw, pm, pr, training, pdx, pdw, pdb)
        else:
            rc = fnn_batch_norm_backward_f64(n, c, s, pg, px, pw, pm, pr, training, pdx, pdw, pdb)
    return check_rc(rc, w)


# ---------------------------------------------------------------- optimizer updates
# param and every state array are updated in place.  Each array argument is
# one ndarray, or a list of them (one per parameter: the whole update then
# runs as one C call and one parallel region); a state argument is None, or
# holds None, where the update does not read that state.

from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Free

cdef extern from "optim/optim_multi.h" nogil:
    int fnn_sgd_step_multi_f32(int64_t count, const int64_t *n, float **p, const float **g, float **buf,
                               double lr, double momentum, double dampening, double weight_decay, int nesterov,
                               int first_step)
    int fnn_sgd_step_multi_f64(int64_t count, const int64_t *n, double **p, const double **g, double **buf,
                               double lr, double momentum, double dampening, double weight_decay, int nesterov,
                               int first_step)
    int fnn_adam_step_multi_f32(int64_t count, const int64_t *n, float **p, const float **g, float **m, float **v,
                                int64_t step, double lr, double beta1, double beta2, double eps,
                                double weight_decay, int decoupled)
    int fnn_adam_step_multi_f64(int64_t count, const int64_t *n, double **p, const double **g, double **m,
                                double **v, int64_t step, double lr, double beta1, double beta2, double eps,
                                double weight_decay, int decoupled)
    int fnn_rmsprop_step_multi_f32(int64_t count, const int64_t *n, float **p, const float **g, float **sq,
                                   float **buf, float **ga, double lr, double alpha, double eps,
                                   double weight_decay, double momentum, int centered)
    int fnn_rmsprop_step_multi_f64(int64_t count, const int64_t *n, double **p, const double **g, double **sq,
                                   double **buf, double **ga, double lr, double alpha, double eps,
                                   double weight_decay, double momentum, int centered)


cdef class _OptimArgs:
    """The pointer tables of one optimizer call: n[i] elements and, per array
    argument k, ptr[k][i] for parameter i, after every check (nothing is
    written before all arrays passed)."""
    cdef int64_t count
    cdef int64_t *n
    cdef void **ptr
    cdef bint f32
    cdef str what

    def __cinit__(self, params, str what):
        self.what = what
        ps = params if isinstance(params, (list, tuple)) else (params,)
        self.count = len(ps)
        if self.count == 0:
            raise ValueError(f"{what}: no parameters")
        self.f32 = _is_f32(ps[0], what, "param")
        self.n = <int64_t *>PyMem_Malloc(self.count * sizeof(int64_t))
        self.ptr = <void **>PyMem_Calloc(5 * self.count, sizeof(void *))
        if not self.n or not self.ptr:
            raise MemoryError()
        cdef Py_ssize_t i
        for i in range(self.count):
            self.n[i] = cnp.PyArray_SIZE(<cnp.ndarray>ps[i]) if isinstance(ps[i], np.ndarray) else 0
        self.take(0, ps, "param", True, False)

    def __dealloc__(self):
        PyMem_Free(self.n)
        PyMem_Free(self.ptr)

    cdef void **take(self, int k, arrays, str name, bint out, bint optional) except NULL:
        """Check argument k (0: the parameters, 1-4: gradients and state)
        and fill its pointer table."""
        cdef void **t = self.ptr + k * self.count
        if arrays is None and optional:
            return t  # every pointer null
        xs = arrays if isinstance(arrays, (list, tuple)) else (arrays,)
        if len(xs) != self.count:
            raise ValueError(f"{self.what}: {len(xs)} {name} arrays for {self.count} parameters")
        dt = _DT_F32 if self.f32 else _DT_F64
        cdef Py_ssize_t i
        for i in range(self.count):
            t[i] = _arr(xs[i], dt, self.n[i], self.what, name, out, optional)
        return t


cdef inline real **_table(real *kind, _OptimArgs a, int k):
    """The pointer table of argument k, typed."""
    return <real **>(a.ptr + k * a.count)


def sgd_step(param, grad, momentum_buffer, double lr, double momentum, double dampening, double weight_decay,
             bint nesterov, bint first_step):
    cdef _OptimArgs a = _OptimArgs(param, "sgd_step")
    a.take(1, grad, "grad", False, False)
    a.take(2, momentum_buffer, "momentum_buffer", True, momentum == 0)
    if a.f32:
        _sgd_step(F32, a, lr, momentum, dampening, weight_decay, nesterov, first_step)
    else:
        _sgd_step(F64, a, lr, momentum, dampening, weight_decay, nesterov, first_step)


cdef int _sgd_step(real *kind, _OptimArgs a, double lr, double momentum, double dampening, double weight_decay,
                   bint nesterov, bint first_step) except -1:
    cdef real **p = _table(kind, a, 0)
    cdef const real **g = <const real **>_table(kind, a, 1)
    cdef real **buf = _table(kind, a, 2)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_sgd_step_multi_f32(a.count, a.n, p, g, buf, lr, momentum, dampening, weight_decay, nesterov,
                                        first_step)
        else:
            rc = fnn_sgd_step_multi_f64(a.count, a.n, p, g, buf, lr, momentum, dampening, weight_decay, nesterov,
                                        first_step)
    return check_rc(rc, "sgd_step")


def adam_step(param, grad, exp_avg, exp_avg_sq, int64_t step, double lr, double beta1, double beta2, double eps,
              double weight_decay, bint decoupled):
    """Adam (decoupled=False) or AdamW (decoupled=True); step counts from 1."""
    cdef str w = "adamw_step" if decoupled else "adam_step"
    cdef _OptimArgs a = _OptimArgs(param, w)
    a.take(1, grad, "grad", False, False)
    a.take(2, exp_avg, "exp_avg", True, False)
    a.take(3, exp_avg_sq, "exp_avg_sq", True, False)
    if step < 1:
        raise ValueError(f"{w}: step must be >= 1, got {step}")
    if a.f32:
        _adam_step(F32, a, step, lr, beta1, beta2, eps, weight_decay, decoupled)
    else:
        _adam_step(F64, a, step, lr, beta1, beta2, eps, weight_decay, decoupled)


cdef int _adam_step(real *kind, _OptimArgs a, int64_t step, double lr, double beta1, double beta2, double eps,
                    double weight_decay, bint decoupled) except -1:
    cdef real **p = _table(kind, a, 0)
    cdef const real **g = <const real **>_table(kind, a, 1)
    cdef real **m = _table(kind, a, 2)
    cdef real **v = _table(kind, a, 3)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_adam_step_multi_f32(a.count, a.n, p, g, m, v, step, lr, beta1, beta2, eps, weight_decay,
                                         decoupled)
        else:
            rc = fnn_adam_step_multi_f64(a.count, a.n, p, g, m, v, step, lr, beta1, beta2, eps, weight_decay,
                                         decoupled)
    return check_rc(rc, a.what)


def rmsprop_step(param, grad, square_avg, momentum_buffer, grad_avg, double lr, double alpha, double eps,
                 double weight_decay, double momentum, bint centered):
    cdef _OptimArgs a = _OptimArgs(param, "rmsprop_step")
    a.take(1, grad, "grad", False, False)
    a.take(2, square_avg, "square_avg", True, False)
    a.take(3, momentum_buffer, "momentum_buffer", True, momentum <= 0)
    a.take(4, grad_avg, "grad_avg", True, not centered)
    if a.f32:
        _rmsprop_step(F32, a, lr, alpha, eps, weight_decay, momentum, centered)
    else:
        _rmsprop_step(F64, a, lr, alpha, eps, weight_decay, momentum, centered)


cdef int _rmsprop_step(real *kind, _OptimArgs a, double lr, double alpha, double eps, double weight_decay,
                       double momentum, bint centered) except -1:
    cdef real **p = _table(kind, a, 0)
    cdef const real **g = <const real **>_table(kind, a, 1)
    cdef real **sq = _table(kind, a, 2)
    cdef real **buf = _table(kind, a, 3)
    cdef real **ga = _table(kind, a, 4)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_rmsprop_step_multi_f32(a.count, a.n, p, g, sq, buf, ga, lr, alpha, eps, weight_decay, momentum,
                                            centered)
        else:
            rc = fnn_rmsprop_step_multi_f64(a.count, a.n, p, g, sq, buf, ga, lr, alpha, eps, weight_decay, momentum,
                                            centered)
    return check_rc(rc, a.what)
