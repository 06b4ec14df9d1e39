# Convolution and pooling bindings (included at the end of _C.pyx).
# fastnn.ops.conv2d & co. do the user-facing argument handling and error
# messages; these re-check what C relies on (dtype, C-contiguity, exact
# shapes, writability, no overlap), release the GIL and call C.
from libc.stdint cimport int32_t


cdef void *_conv_arr(object a, object dtype, tuple shape, str what, str name, bint out=False) except NULL:
    """Data pointer of `a`, checked to be a C-contiguous ndarray of dtype and
    exactly `shape` (writeable when `out`)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    check_kind(arr, what, name)
    if arr.dtype != dtype:
        raise TypeError(f"{what}: {name} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if (<object>arr).shape != shape:
        raise ValueError(f"{what}: {name} has shape {(<object>arr).shape}, expected {shape}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise ValueError(f"{what}: {name} must be C-contiguous")
    if out and not arr.flags.writeable:
        raise ValueError(f"{what}: {name} is read-only")
    return cnp.PyArray_DATA(arr)


cdef int _no_overlap(outs, ins, str what) except -1:
    for o in outs:
        if o is None:
            continue
        for i in ins:
            if i is not None and np.may_share_memory(o, i):
                raise ValueError(f"{what}: an output overlaps an input")
    return 0


def _conv_dtype(x, str what):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what}: expected a numpy.ndarray, got {type(x).__name__}")
    check_kind(x, what, "x")
    if x.dtype != np.float32 and x.dtype != np.float64:
        raise TypeError(f"{what}: unsupported dtype {x.dtype}")
    return x.dtype


cdef int _check_geometry(str what, stride, padding, dilation=(1, 1)) except -1:
    """C checks these too, but the output shape is computed here first."""
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{what}: invalid arguments (stride {tuple(stride)}, padding {tuple(padding)}, "
                         f"dilation {tuple(dilation)})")
    return 0


def conv_out_size(int64_t size, int64_t k, int64_t stride, int64_t pad, int64_t dil):
    if stride < 1:
        raise ValueError("conv_out_size: stride must be positive")
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def conv2d_forward(x, weight, bias, y, stride, padding, dilation, int64_t groups):
    """y = conv2d(x, weight) + bias; stride/padding/dilation are (h, w) pairs."""
    dt = _conv_dtype(x, "conv2d")
    _check_geometry("conv2d", stride, padding, dilation)
    cdef int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef int64_t k = weight.shape[0], r = weight.shape[2], s = weight.shape[3]
    cdef int64_t sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1], dh = dilation[0], dw = dilation[1]
    if groups < 1 or c % groups or k % groups:
        raise ValueError(f"conv2d: groups={groups} must divide C={c} and K={k}")
    cdef int64_t p = conv_out_size(h, r, sh, ph, dh), q = conv_out_size(w, s, sw, pw, dw)
    cdef void *px = _conv_arr(x, dt, (n, c, h, w), "conv2d", "x")
    cdef void *pw_ = _conv_arr(weight, dt, (k, c // groups, r, s), "conv2d", "weight")
    cdef void *pb = NULL
    if bias is not None:
        pb = _conv_arr(bias, dt, (k,), "conv2d", "bias")
    cdef void *py = _conv_arr(y, dt, (n, k, p, q), "conv2d", "y", True)
    _no_overlap((y,), (x, weight, bias), "conv2d")
    cdef int rc
    if dt == np.float32:
        with nogil:
            rc = fnn_conv2d_forward_f32(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups, <const float *>px,
                                        <const float *>pw_, <const float *>pb, <float *>py)
    else:
        with nogil:
            rc = fnn_conv2d_forward_f64(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups, <const double *>px,
                                        <const double *>pw_, <const double *>pb, <double *>py)
    check_rc(rc, "conv2d")


def conv2d_backward(grad_out, x, weight, gx, gw, gb, stride, padding, dilation, int64_t groups):
    """Fills whichever of gx (grad of x), gw (of weight), gb (of bias) is not None."""
    dt = _conv_dtype(x, "conv2d_backward")
    _check_geometry("conv2d_backward", stride, padding, dilation)
    cdef int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef int64_t k = weight.shape[0], r = weight.shape[2], s = weight.shape[3]
    cdef int64_t sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1], dh = dilation[0], dw = dilation[1]
    if groups < 1 or c % groups or k % groups:
        raise ValueError(f"conv2d_backward: groups={groups} must divide C={c} and K={k}")
    cdef int64_t p = conv_out_size(h, r, sh, ph, dh), q = conv_out_size(w, s, sw, pw, dw)
    what = "conv2d_backward"
    cdef void *pg = _conv_arr(grad_out, dt, (n, k, p, q), what, "grad_out")
    cdef void *px = _conv_arr(x, dt, (n, c, h, w), what, "x")
    cdef void *pwt = _conv_arr(weight, dt, (k, c // groups, r, s), what, "weight")
    cdef void *pgx = NULL
    cdef void *pgw = NULL
    cdef void *pgb = NULL
    if gx is not None:
        pgx = _conv_arr(gx, dt, (n, c, h, w), what, "grad_x", True)
    if gw is not None:
        pgw = _conv_arr(gw, dt, (k, c // groups, r, s), what, "grad_weight", True)
    if gb is not None:
        pgb = _conv_arr(gb, dt, (k,), what, "grad_bias", True)
    _no_overlap((gx, gw, gb), (grad_out, x, weight), what)
    for a, b in ((gx, gw), (gx, gb), (gw, gb)):
        if a is not None and b is not None and np.may_share_memory(a, b):
            raise ValueError(f"{what}: the outputs overlap")
    cdef int rc = 0
    if dt == np.float32:
        with nogil:
            if pgx != NULL:
                rc = fnn_conv2d_backward_input_f32(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups,
                                                   <const float *>pg, <const float *>pwt, <float *>pgx)
            if rc == 0 and (pgw != NULL or pgb != NULL):
                rc = fnn_conv2d_backward_weight_f32(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups,
                                                    <const float *>pg, <const float *>px, <float *>pgw,
                                                    <float *>pgb)
    else:
        with nogil:
            if pgx != NULL:
                rc = fnn_conv2d_backward_input_f64(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups,
                                                   <const double *>pg, <const double *>pwt, <double *>pgx)
            if rc == 0 and (pgw != NULL or pgb != NULL):
                rc = fnn_conv2d_backward_weight_f64(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups,
                                                    <const double *>pg, <const double *>px, <double *>pgw,
                                                    <double *>pgb)
    check_rc(rc, what)


def pool_out_size(int64_t size, int64_t k, int64_t stride, int64_t pad):
    if stride < 1:
        raise ValueError("pool_out_size: stride must be positive")
    return (size + 2 * pad - k) // stride + 1


def max_pool2d_forward(x, y, argmax, kernel, stride, padding):
    dt = _conv_dtype(x, "max_pool2d")
    _check_geometry("max_pool2d", stride, padding)
    cdef int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef int64_t kh = kernel[0], kw = kernel[1], sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef int64_t p = pool_out_size(h, kh, sh, ph), q = pool_out_size(w, kw, sw, pw)
    cdef void *px = _conv_arr(x, dt, (n, c, h, w), "max_pool2d", "x")
    cdef void *py = _conv_arr(y, dt, (n, c, p, q), "max_pool2d", "y", True)
    cdef void *pa = _conv_arr(argmax, np.int32, (n, c, p, q), "max_pool2d", "argmax", True)
    _no_overlap((y, argmax), (x,), "max_pool2d")
    cdef int rc
    if dt == np.float32:
        with nogil:
            rc = fnn_max_pool2d_forward_f32(n, c, h, w, kh, kw, sh, sw, ph, pw, <const float *>px, <float *>py,
                                            <int32_t *>pa)
    else:
        with nogil:
            rc = fnn_max_pool2d_forward_f64(n, c, h, w, kh, kw, sh, sw, ph, pw, <const double *>px, <double *>py,
                                            <int32_t *>pa)
    check_rc(rc, "max_pool2d")


def max_pool2d_backward(grad_out, argmax, gx):
    dt = _conv_dtype(grad_out, "max_pool2d_backward")
    cdef int64_t n = gx.shape[0], c = gx.shape[1], h = gx.shape[2], w = gx.shape[3]
    cdef int64_t p = grad_out.shape[2], q = grad_out.shape[3]
    what = "max_pool2d_backward"
    cdef void *pg = _conv_arr(grad_out, dt, (n, c, p, q), what, "grad_out")
    cdef void *pa = _conv_arr(argmax, np.int32, (n, c, p, q), what, "argmax")
    cdef void *pd = _conv_arr(gx, dt, (n, c, h, w), what, "grad_x", True)
    _no_overlap((gx,), (grad_out, argmax), what)
    cdef int rc
    if dt == np.float32:
        with nogil:
            rc = fnn_max_pool2d_backward_f32(n, c, h, w, p, q, <const float *>pg, <const int32_t *>pa, <float *>pd)
    else:
        with nogil:
            rc = fnn_max_pool2d_backward_f64(n, c, h, w, p, q, <const double *>pg, <const int32_t *>pa,
                                             <double *>pd)
    if rc == FNN_EINVAL:
        raise ValueError(f"{what}: argmax holds indices outside the {h}x{w} input planes "
                         "(it must come from max_pool2d on an input of this shape)")
    check_rc(rc, what)


def avg_pool2d_forward(x, y, kernel, stride, padding):
    dt = _conv_dtype(x, "avg_pool2d")
    _check_geometry("avg_pool2d", stride, padding)
    cdef int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef int64_t kh = kernel[0], kw = kernel[1], sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef int64_t p = pool_out_size(h, kh, sh, ph), q = pool_out_size(w, kw, sw, pw)
    cdef void *px = _conv_arr(x, dt, (n, c, h, w), "avg_pool2d", "x")
    cdef void *py = _conv_arr(y, dt, (n, c, p, q), "avg_pool2d", "y", True)
    _no_overlap((y,), (x,), "avg_pool2d")
    cdef int rc
    if dt == np.float32:
        with nogil:
            rc = fnn_avg_pool2d_forward_f32(n, c, h, w, kh, kw, sh, sw, ph, pw, <const float *>px, <float *>py)
    else:
        with nogil:
            rc = fnn_avg_pool2d_forward_f64(n, c, h, w, kh, kw, sh, sw, ph, pw, <const double *>px, <double *>py)
    check_rc(rc, "avg_pool2d")


def avg_pool2d_backward(grad_out, gx, kernel, stride, padding):
    dt = _conv_dtype(grad_out, "avg_pool2d_backward")
    _check_geometry("avg_pool2d_backward", stride, padding)
    cdef int64_t n = gx.shape[0], c = gx.shape[1], h = gx.shape[2], w = gx.shape[3]
    cdef int64_t kh = kernel[0], kw = kernel[1], sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef int64_t p = pool_out_size(h, kh, sh, ph), q = pool_out_size(w, kw, sw, pw)
    what = "avg_pool2d_backward"
    cdef void *pg = _conv_arr(grad_out, dt, (n, c, p, q), what, "grad_out")
    cdef void *pd = _conv_arr(gx, dt, (n, c, h, w), what, "grad_x", True)
    _no_overlap((gx,), (grad_out,), what)
    cdef int rc
    if dt == np.float32:
        with nogil:
            rc = fnn_avg_pool2d_backward_f32(n, c, h, w, kh, kw, sh, sw, ph, pw, <const float *>pg, <float *>pd)
    else:
        with nogil:
            rc = fnn_avg_pool2d_backward_f64(n, c, h, w, kh, kw, sh, sw, ph, pw, <const double *>pg,
                                             <double *>pd)
    check_rc(rc, what)
