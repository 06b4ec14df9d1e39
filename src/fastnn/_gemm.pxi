# GEMM and linear bindings (included by _C.pyx).  matmul is the whole of
# fastnn.ops.matmul (typed, so small products pay little overhead): it
# describes each operand to C by pointer, leading dimension and batch stride,
# copying only operands with no unit-stride axis.  linear re-checks what C
# relies on after fastnn.ops.linear's argument handling.  Every C call
# releases the GIL.

cdef extern from "cpu/kernels.h" nogil:
    ctypedef struct fnn_gemm_info:
        int mr
        int nr
    ctypedef struct fnn_kernel_table:
        void gemm_info_f32(fnn_gemm_info *info)
        void gemm_info_f64(fnn_gemm_info *info)
    const fnn_kernel_table *fnn_active

cdef extern from *:
    """
    int fnn_gemm_set_test_flags(int flags);
    double fnn_gemm_measure_peak(int elem_size, int nt, double seconds);
    int64_t fnn_gemm_peak_round_flops(int elem_size);
    """
    int fnn_gemm_set_test_flags(int flags) nogil
    double fnn_gemm_measure_peak(int elem_size, int nt, double seconds) nogil
    int64_t fnn_gemm_peak_round_flops(int elem_size) nogil


def linear(cnp.ndarray x, cnp.ndarray w, bias, y, int act, double act_alpha):
    """y = act(x @ w.T + bias) for 2-D x (m, k), w (n, k), bias (n,) or None;
    y (m, n) C-contiguous, or None to allocate it.  Returns y.  y must not
    overlap the inputs: fastnn.ops.linear, which takes a user's out=, copies
    such inputs first.  The checks run on type numbers and flags: this is
    the call every Linear layer makes."""
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_NDIM(w) != 2:
        raise ValueError("linear: x and weight must be 2-D")
    cdef cnp.ndarray B = None
    if bias is not None:
        if not isinstance(bias, np.ndarray):
            raise TypeError(f"linear: bias must be a numpy.ndarray, got {type(bias).__name__}")
        B = <cnp.ndarray>bias
    for t, nm in ((x, "x"), (w, "weight"), (B, "bias")):
        if t is not None and not (cnp.PyArray_ISALIGNED(<cnp.ndarray>t) and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>t)):
            check_kind(t, "linear", nm)
    cdef int tn = cnp.PyArray_TYPE(x)
    if cnp.PyArray_TYPE(w) != tn or (B is not None and cnp.PyArray_TYPE(B) != tn):
        raise TypeError("linear: dtype mismatch")
    if tn != cnp.NPY_FLOAT32 and tn != cnp.NPY_FLOAT64:
        raise TypeError(f"linear: unsupported dtype {x.dtype}")
    cdef cnp.npy_intp dims[2]
    cdef int64_t m = cnp.PyArray_DIM(x, 0), k = cnp.PyArray_DIM(x, 1), n = cnp.PyArray_DIM(w, 0)
    if cnp.PyArray_DIM(w, 1) != k:
        raise ValueError(f"linear: shapes {(<object>x).shape} @ {(<object>w).shape}.T do not match")
    if B is not None and (cnp.PyArray_NDIM(B) != 1 or cnp.PyArray_DIM(B, 0) != n):
        raise ValueError(f"linear: bias has shape {(<object>B).shape}; expected ({n},)")
    cdef cnp.ndarray Y
    if y is None:
        dims[0], dims[1] = m, n
        Y = cnp.PyArray_EMPTY(2, dims, tn, 0)
    else:
        if not isinstance(y, np.ndarray):
            raise TypeError(f"linear: y must be a numpy.ndarray, got {type(y).__name__}")
        Y = <cnp.ndarray>y
        check_kind(Y, "linear", "y")
        if cnp.PyArray_TYPE(Y) != tn:
            raise TypeError("linear: dtype mismatch")
        if cnp.PyArray_NDIM(Y) != 2 or cnp.PyArray_DIM(Y, 0) != m or cnp.PyArray_DIM(Y, 1) != n:
            raise ValueError(f"linear: shapes {(<object>x).shape} @ {(<object>w).shape}.T -> {(<object>Y).shape} "
                             f"do not match")
        if not cnp.PyArray_IS_C_CONTIGUOUS(Y) or not cnp.PyArray_ISWRITEABLE(Y):
            raise ValueError("linear: y must be C-contiguous and writeable")
    if m == 0 or n == 0:
        return Y
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        x = np.ascontiguousarray(x)
    if not cnp.PyArray_IS_C_CONTIGUOUS(w):
        w = np.ascontiguousarray(w)
    cdef void *pbias = NULL
    if B is not None:
        if not cnp.PyArray_IS_C_CONTIGUOUS(B):
            B = np.ascontiguousarray(B)
        pbias = cnp.PyArray_DATA(B)
    cdef int rc
    if tn == cnp.NPY_FLOAT32:
        rc = _linear(F32, m, n, k, x, w, pbias, Y, act, act_alpha)
    else:
        rc = _linear(F64, m, n, k, x, w, pbias, Y, act, act_alpha)
    check_rc(rc, "linear")
    return Y


cdef inline int _linear(real *kind, int64_t m, int64_t n, int64_t k, cnp.ndarray x, cnp.ndarray w, void *bias,
                        cnp.ndarray y, int act, double act_alpha) noexcept:
    """C's return code (no Python here: it inlines into the binding every
    Linear layer calls)."""
    cdef const real *px = <const real *>cnp.PyArray_DATA(x)
    cdef const real *pw = <const real *>cnp.PyArray_DATA(w)
    cdef const real *pb = <const real *>bias
    cdef real *py = <real *>cnp.PyArray_DATA(y)
    cdef int64_t ldk = max(1, k), ldn = max(1, n)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_linear_f32(m, n, k, px, ldk, pw, ldk, pb, act, <float>act_alpha, py, ldn)
        else:
            rc = fnn_linear_f64(m, n, k, px, ldk, pw, ldk, pb, act, act_alpha, py, ldn)
    return rc


def matmul_mul(cnp.ndarray a, cnp.ndarray b, cnp.ndarray d, out=None, bint trans_b=False):
    """out = (a @ b) * d (b.T with trans_b) for 2-D C-contiguous a (m, k), b (k, n) (or (n, k)) and d (m, n)
    of one dtype, the product by d in the GEMM's epilogue: the gradient
    through an activation whose derivative d its forward saved.  out (m, n)
    C-contiguous, or None to allocate it; it must not overlap a, b or d."""
    cdef int tn = cnp.PyArray_TYPE(a)
    if tn != cnp.NPY_FLOAT32 and tn != cnp.NPY_FLOAT64:
        raise TypeError(f"matmul_mul: unsupported dtype {a.dtype}")
    if cnp.PyArray_TYPE(b) != tn or cnp.PyArray_TYPE(d) != tn:
        raise TypeError(f"matmul_mul: dtype mismatch {a.dtype}, {b.dtype}, {d.dtype}")
    if cnp.PyArray_NDIM(a) != 2 or cnp.PyArray_NDIM(b) != 2 or cnp.PyArray_NDIM(d) != 2:
        raise ValueError("matmul_mul: a, b and d must be 2-D")
    cdef int64_t m = cnp.PyArray_DIM(a, 0), k = cnp.PyArray_DIM(a, 1), n = cnp.PyArray_DIM(b, 0 if trans_b else 1)
    if cnp.PyArray_DIM(b, 1 if trans_b else 0) != k or cnp.PyArray_DIM(d, 0) != m or cnp.PyArray_DIM(d, 1) != n:
        raise ValueError(f"matmul_mul: shapes {(<object>a).shape} @ {(<object>b).shape} * {(<object>d).shape} "
                         f"do not match")
    for t in (a, b, d):
        if not _usable(<cnp.ndarray>t):
            check_kind(t, "matmul_mul", "an array")
            raise ValueError("matmul_mul: arrays must be C-contiguous")
    cdef cnp.npy_intp dims[2]
    cdef cnp.ndarray C
    if out is None:
        dims[0], dims[1] = m, n
        C = cnp.PyArray_EMPTY(2, dims, tn, 0)
    else:
        C = _out_like(a, out)
        if cnp.PyArray_TYPE(C) != tn or cnp.PyArray_NDIM(C) != 2 or cnp.PyArray_DIM(C, 0) != m \
                or cnp.PyArray_DIM(C, 1) != n or not _usable(C) or not cnp.PyArray_ISWRITEABLE(C):
            raise ValueError(f"matmul_mul: out must be a writeable C-contiguous {(m, n)} array of {a.dtype}")
        _no_overlap((C,), (a, b, d), "matmul_mul")
    if m == 0 or n == 0:
        return C
    cdef int rc
    if tn == cnp.NPY_FLOAT32:
        rc = _matmul_mul(F32, m, n, k, a, b, d, C, trans_b)
    else:
        rc = _matmul_mul(F64, m, n, k, a, b, d, C, trans_b)
    check_rc(rc, "matmul_mul")
    return C


cdef inline int _matmul_mul(real *kind, int64_t m, int64_t n, int64_t k, cnp.ndarray a, cnp.ndarray b,
                            cnp.ndarray d, cnp.ndarray c, bint trans_b) noexcept:
    cdef const real *pa = <const real *>cnp.PyArray_DATA(a)
    cdef const real *pb = <const real *>cnp.PyArray_DATA(b)
    cdef const real *pd = <const real *>cnp.PyArray_DATA(d)
    cdef real *pc = <real *>cnp.PyArray_DATA(c)
    cdef int64_t ldk = max(1, k), ldn = max(1, n)
    cdef char tb = b'T' if trans_b else b'N'
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_gemm_mul_f32(b'N', tb, m, n, k, 1.0, pa, ldk, pb, ldk if trans_b else ldn, pd, pc, ldn)
        else:
            rc = fnn_gemm_mul_f64(b'N', tb, m, n, k, 1.0, pa, ldk, pb, ldk if trans_b else ldn, pd, pc, ldn)
    return rc


def gemm_raw(transa, transb, int64_t m, int64_t n, int64_t k, double alpha, a, int64_t lda, b, int64_t ldb,
             double beta, c, int64_t ldc):
    """fnn_sgemm / fnn_dgemm with raw sizes and leading dimensions, returning
    the C return code (for tests of the C API's argument checks).  a, b, c
    are 1-D contiguous arrays (or None for a null pointer) of one dtype; to
    keep Python safe, a call that C would accept must fit in them."""
    arrs = [x for x in (a, b, c) if x is not None]
    for x in arrs:
        if not isinstance(x, np.ndarray) or x.ndim != 1 or not x.flags.c_contiguous or x.dtype != arrs[0].dtype:
            raise TypeError("gemm_raw: a, b, c must be 1-D contiguous arrays of one dtype, or None")
    if c is not None and not c.flags.writeable:
        raise ValueError("gemm_raw: c is read-only")
    dt = arrs[0].dtype if arrs else np.dtype(np.float32)
    if dt != np.float32 and dt != np.float64:
        raise TypeError(f"gemm_raw: unsupported dtype {dt}")
    ta = 1 if transa in ("T", "t", "C", "c") else 0
    tb = 1 if transb in ("T", "t", "C", "c") else 0
    def need(rows, cols, ld):
        return 0 if rows <= 0 or cols <= 0 else (rows - 1) * ld + cols
    if m >= 0 and n >= 0 and k >= 0:
        for x, size in ((a, need(k if ta else m, m if ta else k, lda)), (b, need(n if tb else k, k if tb else n, ldb)),
                        (c, need(m, n, ldc))):
            if x is not None and 0 < size and x.shape[0] < size and size < (1 << 62) // 8:
                raise ValueError("gemm_raw: array smaller than the call would touch")
    cdef char cta = ord(transa[0]) if isinstance(transa, str) and len(transa) == 1 else 0
    cdef char ctb = ord(transb[0]) if isinstance(transb, str) and len(transb) == 1 else 0
    cdef void *pa = NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef void *pb = NULL if b is None else cnp.PyArray_DATA(<cnp.ndarray>b)
    cdef void *pc = NULL if c is None else cnp.PyArray_DATA(<cnp.ndarray>c)
    args = (cta, ctb, m, n, k, alpha, lda, ldb, beta, ldc)
    if dt == np.float32:
        return _gemm_raw(<float *>pa, <float *>pb, <float *>pc, args)
    return _gemm_raw(<double *>pa, <double *>pb, <double *>pc, args)


cdef int _gemm_raw(const real *a, const real *b, real *c, tuple args):
    cdef char ta = args[0], tb = args[1]
    cdef int64_t m = args[2], n = args[3], k = args[4], lda = args[6], ldb = args[7], ldc = args[9]
    cdef double alpha = args[5], beta = args[8]
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_sgemm(ta, tb, m, n, k, <float>alpha, a, lda, b, ldb, <float>beta, c, ldc)
        else:
            rc = fnn_dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    return rc


def gemm_info(dtype=np.float32):
    """(MR, NR) of the active ISA's micro-kernel for dtype."""
    cdef fnn_gemm_info inf
    if np.dtype(dtype) == np.float32:
        fnn_active.gemm_info_f32(&inf)
    elif np.dtype(dtype) == np.float64:
        fnn_active.gemm_info_f64(&inf)
    else:
        raise TypeError(f"gemm_info: unsupported dtype {np.dtype(dtype)}")
    return inf.mr, inf.nr


def gemm_fma_peak(dtype=np.float32, int threads=1, double seconds=0.2):
    """Measured FMA peak (GFLOPS) of the active ISA for dtype with `threads`
    threads running independent FMA chains."""
    cdef int size = np.dtype(dtype).itemsize
    cdef double g
    with nogil:
        g = fnn_gemm_measure_peak(size, threads, seconds)
    if g < 0:
        raise ValueError("gemm_fma_peak: bad arguments (or built without OpenMP)")
    return g


def gemm_fma_peak_round(dtype=np.float32):
    """Flops of one round of the active ISA's FMA-peak meter for dtype:
    2*MR*NR of that ISA's GEMM register tile."""
    cdef int64_t f = fnn_gemm_peak_round_flops(np.dtype(dtype).itemsize)
    if f < 0:
        raise ValueError(f"gemm_fma_peak_round: unsupported dtype {np.dtype(dtype)} (or built without OpenMP)")
    return f


def _gemm_test_flags(int flags):
    """Test hook: force GEMM paths (see csrc/gemm/gemm_test_hook.h); returns the old flags."""
    return fnn_gemm_set_test_flags(flags)


# ---------------------------------------------------------------- matmul
# The whole of fastnn.ops.matmul, typed, so a small product pays a few
# hundred nanoseconds of Python overhead rather than microseconds.

cdef inline void _extent(cnp.ndarray x, char **lo, char **hi):
    """Byte range [lo, hi) that x's elements occupy."""
    cdef char *p = <char *>cnp.PyArray_DATA(x)
    cdef char *l = p
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(x)
    cdef char *h = p + isz
    cdef int d
    cdef Py_ssize_t n, s
    for d in range(cnp.PyArray_NDIM(x)):
        n = cnp.PyArray_DIMS(x)[d]
        s = cnp.PyArray_STRIDES(x)[d]
        if n == 0:
            lo[0] = p
            hi[0] = p
            return
        if s > 0:
            h += (n - 1) * s
        else:
            l += (n - 1) * s
    lo[0] = l
    hi[0] = h


cdef inline bint _overlaps(cnp.ndarray x, cnp.ndarray y):
    cdef char *xl
    cdef char *xh
    cdef char *yl
    cdef char *yh
    _extent(x, &xl, &xh)
    _extent(y, &yl, &yh)
    return xl < yh and yl < xh


cdef inline void _dims3(cnp.ndarray x, Py_ssize_t *d, Py_ssize_t *st):
    """x's shape and byte strides as 3-D (batch, rows, cols): a 2-D x is one
    matrix (batch 1, stride 0).  Read in place: a reshape would cost a new
    array object (~0.3 us) per operand, as much as a small product."""
    cdef int nd = cnp.PyArray_NDIM(x)
    cdef int o = 3 - nd
    d[0] = 1
    st[0] = 0
    cdef int i
    for i in range(nd):
        d[i + o] = cnp.PyArray_DIMS(x)[i]
        st[i + o] = cnp.PyArray_STRIDES(x)[i]


cdef int _describe(cnp.ndarray x, bint trans, bint *t_out, int64_t *ld, int64_t *bstride):
    """Describes the (2-D or 3-D) operand x to C without copying; returns 0
    when x has no unit-stride axis (or a negative/odd stride) and must be
    copied."""
    cdef Py_ssize_t d[3]
    cdef Py_ssize_t st[3]
    _dims3(x, d, st)
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(x)
    cdef Py_ssize_t bat = d[0], rows = d[1], cols = d[2]
    cdef Py_ssize_t s0 = st[0], s1 = st[1], s2 = st[2]
    if not cnp.PyArray_ISALIGNED(x) or s0 % isz or s1 % isz or s2 % isz:
        return 0
    s0 = s0 // isz if bat > 1 else 0
    s1 //= isz
    s2 //= isz
    if s0 < 0:
        return 0
    bstride[0] = s0
    if rows == 0 or cols == 0:  # nothing is read: any layout will do
        t_out[0] = trans
        ld[0] = max(1, cols)
        return 1
    if (s2 == 1 or cols <= 1) and (rows <= 1 or s1 >= max(1, cols)):
        t_out[0] = trans
        ld[0] = s1 if rows > 1 else max(1, cols)
        return 1
    if (s1 == 1 or rows <= 1) and (cols <= 1 or s2 >= max(1, rows)):
        t_out[0] = not trans
        ld[0] = s2 if cols > 1 else max(1, rows)
        return 1
    return 0


cdef object _gemm_check(x, str name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"matmul: {name} must be a numpy.ndarray, got {type(x).__name__}")
    cdef int tn = cnp.PyArray_TYPE(<cnp.ndarray>x)
    if tn != cnp.NPY_FLOAT32 and tn != cnp.NPY_FLOAT64:
        raise TypeError(f"matmul: {name} has dtype {x.dtype}; fastnn computes in float32 or float64")
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>x)
    if nd != 2 and nd != 3:
        raise ValueError(f"matmul: {name} must be 2-D or 3-D, got {nd}-D with shape {x.shape}")
    return x


cdef double _gemm_scalar(v, str nm) except? -1.0:
    # exact float first: the common case, without the generic type checks
    if type(v) is float:
        return <double>v
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"matmul: {nm} must be a real number, got {type(v).__name__}")
    return <double>v


def matmul(a, b, out=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha * op(a) @ op(b) + beta * out, op(x) = x or its transpose (of the
    last two axes) by trans_a / trans_b.

    2-D, or 3-D batched with the batch broadcast as numpy.matmul (a batch of
    1 repeats; 3-D @ 2-D works).  Inputs may have any strides (rows of unit
    stride are read in place, other layouts are copied).  beta != 0 needs
    `out`, which then holds C on entry; `out` must have the exact shape and
    dtype and be C-contiguous.

    This is fastnn.ops.matmul itself (no Python wrapper between: a small
    product pays a few hundred nanoseconds of overhead, not microseconds).
    """
    _gemm_check(a, "a")
    _gemm_check(b, "b")
    cdef cnp.ndarray A = <cnp.ndarray>a
    cdef cnp.ndarray B = <cnp.ndarray>b
    # C reads native, aligned memory only: a byte-swapped or unaligned operand
    # is copied first (before anything, the output's dtype included, is
    # derived from it)
    if not (cnp.PyArray_ISALIGNED(A) and cnp.PyArray_ISNOTSWAPPED(A)):
        A = native(A)
    if not (cnp.PyArray_ISALIGNED(B) and cnp.PyArray_ISNOTSWAPPED(B)):
        B = native(B)
    cdef int tn = cnp.PyArray_TYPE(A)
    if cnp.PyArray_TYPE(B) != tn:
        raise TypeError(f"matmul: a is {A.dtype} but b is {B.dtype}; convert one of them")
    cdef double dalpha = _gemm_scalar(alpha, "alpha")
    cdef double dbeta = _gemm_scalar(beta, "beta")
    cdef bint ta = trans_a is True or (trans_a is not False and bool(trans_a))
    cdef bint tb = trans_b is True or (trans_b is not False and bool(trans_b))
    cdef int nda = cnp.PyArray_NDIM(A), ndb = cnp.PyArray_NDIM(B)
    cdef Py_ssize_t da[3]
    cdef Py_ssize_t db[3]
    cdef Py_ssize_t sdummy[3]
    _dims3(A, da, sdummy)
    _dims3(B, db, sdummy)
    cdef int64_t m = da[2] if ta else da[1]
    cdef int64_t k = da[1] if ta else da[2]
    cdef int64_t kb = db[2] if tb else db[1]
    cdef int64_t n = db[1] if tb else db[2]
    if k != kb:
        raise ValueError(f"matmul: inner dimensions differ: a{' (transposed)' if ta else ''} has shape "
                         f"{a.shape}, b{' (transposed)' if tb else ''} has shape {b.shape}")
    cdef int64_t ba = da[0], bb = db[0]
    if ba != bb and ba != 1 and bb != 1:
        raise ValueError(f"matmul: batch dimensions of a {a.shape} and b {b.shape} do not broadcast")
    cdef int64_t batch = max(ba, bb)
    cdef object shape
    if nda == 2 and ndb == 2:
        shape = (m, n)
    else:
        shape = (batch, m, n)
    cdef cnp.ndarray C
    cdef int ndc
    cdef bint shape_ok
    if out is None:
        if dbeta != 0.0:
            raise ValueError("matmul: beta != 0 needs out= holding C")
        C = np.empty(shape, A.dtype)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"matmul: out must be a numpy.ndarray, got {type(out).__name__}")
        C = <cnp.ndarray>out
        check_kind(C, "matmul", "out")
        ndc = cnp.PyArray_NDIM(C)
        if nda == 2 and ndb == 2:
            shape_ok = ndc == 2 and cnp.PyArray_DIMS(C)[0] == m and cnp.PyArray_DIMS(C)[1] == n
        else:
            shape_ok = (ndc == 3 and cnp.PyArray_DIMS(C)[0] == batch and cnp.PyArray_DIMS(C)[1] == m
                        and cnp.PyArray_DIMS(C)[2] == n)
        if not shape_ok or cnp.PyArray_TYPE(C) != tn:
            raise ValueError(f"matmul: out has shape {out.shape} and dtype {out.dtype}; "
                             f"expected shape {shape} and dtype {A.dtype}")
        if not cnp.PyArray_IS_C_CONTIGUOUS(C):
            raise ValueError("matmul: out must be C-contiguous")
        if not cnp.PyArray_ISWRITEABLE(C):
            raise ValueError("matmul: out is read-only")
        if _overlaps(A, C):
            A = A.copy()
        if _overlaps(B, C):
            B = B.copy()
    if m == 0 or n == 0 or batch == 0:
        return C
    cdef bint cta, ctb
    cdef int64_t lda, ldb, sa, sb
    # a fresh C-contiguous copy is aligned and has unit strides, so the second
    # _describe always succeeds
    if not _describe(A, ta, &cta, &lda, &sa):
        A = np.array(A, order="C")
        _describe(A, ta, &cta, &lda, &sa)
    if not _describe(B, tb, &ctb, &ldb, &sb):
        B = np.array(B, order="C")
        _describe(B, tb, &ctb, &ldb, &sb)
    cdef char ca = b'T' if cta else b'N'
    cdef char cb = b'T' if ctb else b'N'
    cdef int rc
    if tn == cnp.NPY_FLOAT32:
        rc = _gemm(F32, ca, cb, batch, m, n, k, dalpha, A, lda, sa, B, ldb, sb, dbeta, C)
    else:
        rc = _gemm(F64, ca, cb, batch, m, n, k, dalpha, A, lda, sa, B, ldb, sb, dbeta, C)
    check_rc(rc, "matmul")
    return C


cdef inline int _gemm(real *kind, char ta, char tb, int64_t batch, int64_t m, int64_t n, int64_t k, double alpha,
                      cnp.ndarray a, int64_t lda, int64_t sa, cnp.ndarray b, int64_t ldb, int64_t sb, double beta,
                      cnp.ndarray c) noexcept:
    """C's return code for C (batch, m, n), C-contiguous = alpha op(A)
    op(B) + beta C (no Python here: it inlines into matmul)."""
    cdef const real *pa = <const real *>cnp.PyArray_DATA(a)
    cdef const real *pb = <const real *>cnp.PyArray_DATA(b)
    cdef real *pc = <real *>cnp.PyArray_DATA(c)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_gemm_batched_f32(ta, tb, batch, m, n, k, <float>alpha, pa, lda, sa, pb, ldb, sb, <float>beta, pc,
                                      n, m * n)
        else:
            rc = fnn_gemm_batched_f64(ta, tb, batch, m, n, k, alpha, pa, lda, sa, pb, ldb, sb, beta, pc, n, m * n)
    return rc
