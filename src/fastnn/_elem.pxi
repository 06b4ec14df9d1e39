# Elementwise arithmetic and the strided copy (csrc/elem/): threaded
# replacements for NumPy's single-threaded a + b and copies between layouts
# on the autograd hot path (residual adds, gradient sums, attention heads).


def add(cnp.ndarray a, cnp.ndarray b, double alpha=1.0, out=None):
    """out = a + alpha * b for C-contiguous arrays of one dtype and size
    (alpha 1 or -1: exactly NumPy's a + b or a - b).  out may be a or b;
    None allocates it.  Returns out."""
    return _binary(a, b, alpha, out, False, "add")


def mul(cnp.ndarray a, cnp.ndarray b, double alpha=1.0, out=None):
    """out = (a * b) * alpha for C-contiguous arrays of one dtype and size
    (alpha 1: exactly NumPy's a * b).  out may be a or b; None allocates
    it.  Returns out."""
    return _binary(a, b, alpha, out, True, "mul")


cdef cnp.ndarray _binary(cnp.ndarray a, cnp.ndarray b, double alpha, out, bint product, str what):
    cdef cnp.ndarray Y = _out_like(a, out)
    _same(a, b, what)
    _same(a, Y, what)
    cdef int rc
    if cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32:
        rc = _binary_c(F32, a, b, alpha, Y, product)
    else:
        rc = _binary_c(F64, a, b, alpha, Y, product)
    check_rc(rc, what)
    return Y


cdef inline int _binary_c(real *kind, cnp.ndarray a, cnp.ndarray b, double alpha, cnp.ndarray y,
                          bint product) noexcept:
    cdef int64_t n = cnp.PyArray_SIZE(a)
    cdef const real *pa = <const real *>cnp.PyArray_DATA(a)
    cdef const real *pb = <const real *>cnp.PyArray_DATA(b)
    cdef real *py = <real *>cnp.PyArray_DATA(y)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_mul_f32(n, pa, pb, alpha, py) if product else fnn_add_f32(n, pa, pb, alpha, py)
        else:
            rc = fnn_mul_f64(n, pa, pb, alpha, py) if product else fnn_add_f64(n, pa, pb, alpha, py)
    return rc


def sum_rows(cnp.ndarray a, out=None, double beta=0.0):
    """out = beta * out + a.sum(axis=0) for a 2-D float32 or float64 array
    whose rows are contiguous (any row stride), threaded, each column summed
    in row order (NumPy's bits for a C-contiguous a, at any thread count).
    out: a C-contiguous (cols,) array of a's dtype, or None to allocate one
    (beta must then be 0).  Returns out."""
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"sum_rows: unsupported dtype {a.dtype}")
    if cnp.PyArray_NDIM(a) != 2:
        raise ValueError(f"sum_rows: expected a 2-D array, got shape {(<object>a).shape}")
    cdef int64_t rows = cnp.PyArray_DIM(a, 0), cols = cnp.PyArray_DIM(a, 1)
    cdef int64_t item = cnp.PyArray_ITEMSIZE(a)
    cdef int64_t lda = cnp.PyArray_STRIDE(a, 0) // item
    if rows > 0 and cols > 1 and cnp.PyArray_STRIDE(a, 1) != item:
        raise ValueError(f"sum_rows: rows must be contiguous (strides {(<object>a).strides})")
    if rows <= 1:
        lda = cols
    elif cnp.PyArray_STRIDE(a, 0) % item or lda < cols:
        raise ValueError(f"sum_rows: unsupported row stride (strides {(<object>a).strides})")
    if not (cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a)):
        raise ValueError("sum_rows: the array must be aligned and in native byte order")
    cdef cnp.ndarray Y
    if out is None:
        if beta != 0.0:
            raise ValueError("sum_rows: beta needs an out array to add to")
        Y = cnp.PyArray_EMPTY(1, cnp.PyArray_DIMS(a) + 1, t, 0)
    else:
        Y = out
        if cnp.PyArray_TYPE(Y) != t:
            raise TypeError(f"sum_rows: dtype mismatch {a.dtype} vs out {Y.dtype}")
        if (<object>Y).shape != (cols,) or not cnp.PyArray_IS_C_CONTIGUOUS(Y) or not cnp.PyArray_ISWRITEABLE(Y):
            raise ValueError(f"sum_rows: out must be a writeable C-contiguous ({cols},) array, got shape "
                             f"{(<object>Y).shape}")
    cdef int rc
    if t == cnp.NPY_FLOAT32:
        rc = _sum_rows(F32, a, rows, cols, lda, beta, Y)
    else:
        rc = _sum_rows(F64, a, rows, cols, lda, beta, Y)
    check_rc(rc, "sum_rows")
    return Y


cdef inline int _sum_rows(real *kind, cnp.ndarray a, int64_t rows, int64_t cols, int64_t lda, double beta,
                          cnp.ndarray y) noexcept:
    cdef const real *pa = <const real *>cnp.PyArray_DATA(a)
    cdef real *py = <real *>cnp.PyArray_DATA(y)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_sum_rows_f32(rows, cols, pa, lda, beta, py)
        else:
            rc = fnn_sum_rows_f64(rows, cols, pa, lda, beta, py)
    return rc


# The strided copy takes its sizes in arrays of this many entries; fastnn.h's
# limit must be the same.
DEF _COPY_DIMS = 8
cdef extern from *:
    """
    _Static_assert(FNN_COPY_MAX_DIMS == 8, "_elem.pxi: _COPY_DIMS differs from FNN_COPY_MAX_DIMS");
    """


def copy_into(cnp.ndarray src, cnp.ndarray dst):
    """dst[...] = src for arrays of one shape and dtype (float32 or float64)
    with any strides (a view such as x.transpose(0, 2, 1, 3) on either side),
    threaded.  dst must not overlap src, nor hold one element twice.
    Returns dst."""
    cdef int t = cnp.PyArray_TYPE(src)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"copy_into: unsupported dtype {src.dtype}")
    if cnp.PyArray_TYPE(dst) != t:
        raise TypeError(f"copy_into: dtype mismatch {src.dtype} vs {dst.dtype}")
    if (<object>src).shape != (<object>dst).shape:
        raise ValueError(f"copy_into: shape mismatch {(<object>src).shape} vs {(<object>dst).shape}")
    if not cnp.PyArray_ISWRITEABLE(dst):
        raise ValueError("copy_into: dst is read-only")
    if not (cnp.PyArray_ISALIGNED(src) and cnp.PyArray_ISALIGNED(dst)
            and cnp.PyArray_ISNOTSWAPPED(src) and cnp.PyArray_ISNOTSWAPPED(dst)):
        raise ValueError("copy_into: arrays must be aligned and in native byte order")
    if cnp.PyArray_NDIM(src) > _COPY_DIMS:
        raise ValueError(f"copy_into: at most {_COPY_DIMS} dimensions, got {cnp.PyArray_NDIM(src)}")
    _copy(src, dst)
    return dst


cdef int _copy(cnp.ndarray src, cnp.ndarray dst) except -1:
    """fnn_copy_strided for two checked arrays of one float dtype and shape."""
    cdef int nd = cnp.PyArray_NDIM(src), t = cnp.PyArray_TYPE(src), d, rc
    cdef int64_t shape[_COPY_DIMS]
    cdef int64_t ss[_COPY_DIMS]
    cdef int64_t ds[_COPY_DIMS]
    cdef int64_t item = cnp.PyArray_ITEMSIZE(src)
    if nd == 0:
        nd = 1
        shape[0] = ss[0] = ds[0] = 1
    else:
        for d in range(nd):
            shape[d] = cnp.PyArray_DIM(src, d)
            ss[d] = cnp.PyArray_STRIDE(src, d) // item  # aligned arrays: whole elements
            ds[d] = cnp.PyArray_STRIDE(dst, d) // item
    cdef void *ps = cnp.PyArray_DATA(src)
    cdef void *pd = cnp.PyArray_DATA(dst)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            rc = fnn_copy_strided_f32(nd, shape, <const float *>ps, ss, <float *>pd, ds)
        else:
            rc = fnn_copy_strided_f64(nd, shape, <const double *>ps, ss, <double *>pd, ds)
    return check_rc(rc, "copy_into")


cdef inline bint _native_float(cnp.ndarray a, int t):
    return t == cnp.PyArray_TYPE(a) and cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a)


def relayout(cnp.ndarray src, dst=None):
    """dst[...] = src (dst None: a new C-contiguous array) for the autograd
    paths that change an array's layout (attention heads): the threaded
    strided copy for aligned native float arrays of one dtype, NumPy's
    assignment otherwise.  Returns dst."""
    cdef int t = cnp.PyArray_TYPE(src)
    if dst is None:
        dst = np.empty((<object>src).shape, src.dtype)
    if ((t == cnp.NPY_FLOAT32 or t == cnp.NPY_FLOAT64) and type(dst) is np.ndarray
            and _native_float(src, t) and _native_float(<cnp.ndarray>dst, t)
            and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>dst) and cnp.PyArray_NDIM(src) <= _COPY_DIMS
            and (<object>src).shape == (<object>dst).shape):
        _copy(src, <cnp.ndarray>dst)
    else:
        dst[...] = src
    return dst


# Below this many elements NumPy's a + b costs less than a call that could
# use a second thread (fnn_add takes another thread from 2^16 per thread).
DEF _SUM_MIN = 1 << 16


cpdef object sum_arrays(object a, object b, double sign):
    """a + sign * b (sign 1 or -1) for the autograd hot paths (Tensor + and -,
    the engine's gradient sums): fnn_add, threaded, for two large
    C-contiguous aligned native arrays of one float dtype and shape; NumPy's
    a + b (or a - b), with its broadcasting, otherwise.  The same bits
    either way."""
    cdef cnp.ndarray x, y, out
    cdef int t, rc
    if type(a) is np.ndarray and type(b) is np.ndarray:
        x = <cnp.ndarray>a
        y = <cnp.ndarray>b
        t = cnp.PyArray_TYPE(x)
        if ((t == cnp.NPY_FLOAT32 or t == cnp.NPY_FLOAT64) and cnp.PyArray_TYPE(y) == t
                and cnp.PyArray_SIZE(x) >= _SUM_MIN and _usable(x) and _usable(y)
                and cnp.PyArray_SAMESHAPE(x, y)):
            out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), t, 0)
            if t == cnp.NPY_FLOAT32:
                rc = _binary_c(F32, x, y, sign, out, False)
            else:
                rc = _binary_c(F64, x, y, sign, out, False)
            check_rc(rc, "add")
            return out
    return a + b if sign > 0 else a - b
