# GEMM and linear bindings (included by _C.pyx).  fastnn.ops.matmul and
# fastnn.ops.linear do the user-facing argument handling; these check again
# what C relies on, describe each operand to C by pointer, leading dimension
# and batch stride (copying only operands whose rows are not unit-stride),
# release the GIL and call C.

cdef extern from "fastnn/fastnn.h" nogil:
    int FNN_ACT_NONE
    int fnn_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
    int fnn_dgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                  int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc)
    int fnn_gemm_batched_f32(char transa, char transb, int64_t batch, int64_t m, int64_t n, int64_t k,
                             float alpha, const float *a, int64_t lda, int64_t stride_a, const float *b,
                             int64_t ldb, int64_t stride_b, float beta, float *c, int64_t ldc, int64_t stride_c)
    int fnn_gemm_batched_f64(char transa, char transb, int64_t batch, int64_t m, int64_t n, int64_t k,
                             double alpha, const double *a, int64_t lda, int64_t stride_a, const double *b,
                             int64_t ldb, int64_t stride_b, double beta, double *c, int64_t ldc, int64_t stride_c)
    int fnn_linear_f32(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, const float *w,
                       int64_t ldw, const float *bias, int act, float act_alpha, float *y, int64_t ldy)
    int fnn_linear_f64(int64_t m, int64_t n, int64_t k, const double *x, int64_t ldx, const double *w,
                       int64_t ldw, const double *bias, int act, double act_alpha, double *y, int64_t ldy)

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
    """
    int fnn_gemm_set_test_flags(int flags) nogil
    double fnn_gemm_measure_peak(int elem_size, int nt, double seconds) nogil


cdef object _gemm_operand(cnp.ndarray x, bint trans):
    """(array, trans, ld, batch_stride) describing the 3-D operand x (batch,
    rows, cols) to C: rows may be any positive stride, the batch any
    non-negative stride; a unit-stride column axis becomes a transposed
    operand.  Anything else is copied to C order."""
    cdef Py_ssize_t isz = x.itemsize
    cdef Py_ssize_t bat = x.shape[0], rows = x.shape[1], cols = x.shape[2]
    cdef Py_ssize_t s0, s1, s2
    if x.flags.aligned and x.strides[0] % isz == 0 and x.strides[1] % isz == 0 and x.strides[2] % isz == 0:
        s0 = x.strides[0] // isz if bat > 1 else 0
        s1 = x.strides[1] // isz
        s2 = x.strides[2] // isz
        if s0 >= 0:
            if (s2 == 1 or cols <= 1) and (rows <= 1 or s1 >= max(1, cols)):
                return x, trans, (s1 if rows > 1 else max(1, cols)), s0
            if (s1 == 1 or rows <= 1) and (cols <= 1 or s2 >= max(1, rows)):
                return x, not trans, (s2 if cols > 1 else max(1, rows)), s0
    x = np.ascontiguousarray(x)
    return x, trans, max(1, cols), (rows * cols if bat > 1 else 0)


def gemm(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, bint trans_a, bint trans_b, double alpha, double beta):
    """c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i] for 3-D a, b, c
    (batch 1 of a or b broadcasts); c C-contiguous, not overlapping a or b."""
    if a.ndim != 3 or b.ndim != 3 or c.ndim != 3:
        raise ValueError("gemm: operands must be 3-D (batch, rows, cols)")
    if a.dtype != b.dtype or a.dtype != c.dtype:
        raise TypeError(f"gemm: dtype mismatch {a.dtype}, {b.dtype}, {c.dtype}")
    if a.dtype != np.float32 and a.dtype != np.float64:
        raise TypeError(f"gemm: unsupported dtype {a.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(c) or not c.flags.writeable:
        raise ValueError("gemm: c must be C-contiguous and writeable")
    cdef int64_t m = a.shape[2] if trans_a else a.shape[1]
    cdef int64_t k = a.shape[1] if trans_a else a.shape[2]
    cdef int64_t kb = b.shape[2] if trans_b else b.shape[1]
    cdef int64_t n = b.shape[1] if trans_b else b.shape[2]
    cdef int64_t batch = c.shape[0]
    if kb != k or c.shape[1] != m or c.shape[2] != n or a.shape[0] not in (1, batch) or b.shape[0] not in (1, batch):
        raise ValueError(f"gemm: shapes {(<object>a).shape}, {(<object>b).shape} -> {(<object>c).shape} do not match")
    if np.may_share_memory(a, c) or np.may_share_memory(b, c):
        raise ValueError("gemm: c overlaps an input")
    a, ta, lda, sa = _gemm_operand(a, trans_a)
    b, tb, ldb, sb = _gemm_operand(b, trans_b)
    cdef char cta = b'T' if ta else b'N'
    cdef char ctb = b'T' if tb else b'N'
    cdef int64_t ilda = lda, ildb = ldb, isa = sa, isb = sb
    cdef int64_t ldc = max(1, n), sc = m * n
    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(c)
    cdef int rc
    if c.dtype == np.float32:
        with nogil:
            rc = fnn_gemm_batched_f32(cta, ctb, batch, m, n, k, <float>alpha, <const float *>pa, ilda, isa,
                                      <const float *>pb, ildb, isb, <float>beta, <float *>pc, ldc, sc)
    else:
        with nogil:
            rc = fnn_gemm_batched_f64(cta, ctb, batch, m, n, k, alpha, <const double *>pa, ilda, isa,
                                      <const double *>pb, ildb, isb, beta, <double *>pc, ldc, sc)
    check_rc(rc, "gemm")


def linear(cnp.ndarray x, cnp.ndarray w, bias, cnp.ndarray y, int act, double act_alpha):
    """y = act(x @ w.T + bias) for 2-D x (m, k), w (n, k), bias (n,) or None,
    y (m, n) C-contiguous, not overlapping the inputs."""
    if x.ndim != 2 or w.ndim != 2 or y.ndim != 2:
        raise ValueError("linear: x, weight and y must be 2-D")
    if x.dtype != w.dtype or x.dtype != y.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError("linear: dtype mismatch")
    if x.dtype != np.float32 and x.dtype != np.float64:
        raise TypeError(f"linear: unsupported dtype {x.dtype}")
    if act < FNN_ACT_NONE or act >= FNN_ACT_COUNT:
        raise ValueError(f"linear: unknown activation code {act}")
    cdef int64_t m = x.shape[0], k = x.shape[1], n = w.shape[0]
    if w.shape[1] != k or y.shape[0] != m or y.shape[1] != n:
        raise ValueError(f"linear: shapes {(<object>x).shape} @ {(<object>w).shape}.T -> {(<object>y).shape} do not match")
    if not cnp.PyArray_IS_C_CONTIGUOUS(y) or not y.flags.writeable:
        raise ValueError("linear: y must be C-contiguous and writeable")
    for t in (x, w) + (() if bias is None else (bias,)):
        if np.may_share_memory(t, y):
            raise ValueError("linear: y overlaps an input")
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        x = np.ascontiguousarray(x)
    if not cnp.PyArray_IS_C_CONTIGUOUS(w):
        w = np.ascontiguousarray(w)
    cdef cnp.ndarray bb
    cdef void *pbias = NULL
    if bias is not None:
        bb = np.ascontiguousarray(bias)
        if bb.ndim != 1 or bb.shape[0] != n:
            raise ValueError(f"linear: bias has shape {(<object>bb).shape}; expected ({n},)")
        pbias = cnp.PyArray_DATA(bb)
    cdef void *px = cnp.PyArray_DATA(x)
    cdef void *pw = cnp.PyArray_DATA(w)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef int64_t ldk = max(1, k), ldn = max(1, n)
    cdef int rc
    if y.dtype == np.float32:
        with nogil:
            rc = fnn_linear_f32(m, n, k, <const float *>px, ldk, <const float *>pw, ldk, <const float *>pbias,
                                act, <float>act_alpha, <float *>py, ldn)
    else:
        with nogil:
            rc = fnn_linear_f64(m, n, k, <const double *>px, ldk, <const double *>pw, ldk, <const double *>pbias,
                                act, act_alpha, <double *>py, ldn)
    check_rc(rc, "linear")


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
    cdef int rc
    if dt == np.float32:
        with nogil:
            rc = fnn_sgemm(cta, ctb, m, n, k, <float>alpha, <const float *>pa, lda, <const float *>pb, ldb,
                           <float>beta, <float *>pc, ldc)
    else:
        with nogil:
            rc = fnn_dgemm(cta, ctb, m, n, k, alpha, <const double *>pa, lda, <const double *>pb, ldb,
                           beta, <double *>pc, ldc)
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


def _gemm_test_flags(int flags):
    """Test hook: force GEMM paths (see csrc/gemm/gemm.c); returns the old flags."""
    return fnn_gemm_set_test_flags(flags)
