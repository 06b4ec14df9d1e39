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


cdef int _check_geometry(str what, stride, padding, dilation=(1, 1)) except -1:
    """C checks these too, but the output shape is computed here first."""
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{what}: invalid arguments (stride {tuple(stride)}, padding {tuple(padding)}, "
                         f"dilation {tuple(dilation)})")
    return 0


cdef inline int64_t _conv_out(int64_t size, int64_t k, int64_t stride, int64_t pad, int64_t dil) except? -1:
    """The output extent (stride >= 1: _check_geometry ran first)."""
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def conv2d_forward(x, weight, bias, y, stride, padding, dilation, int64_t groups):
    """y = conv2d(x, weight) + bias; stride/padding/dilation are (h, w) pairs."""
    if _is_f32(x, "conv2d", "x"):
        _conv2d(F32, None, x, weight, y, None, bias, stride, padding, dilation, groups)
    else:
        _conv2d(F64, None, x, weight, y, None, bias, stride, padding, dilation, groups)


def conv2d_backward(grad_out, x, weight, gx, gw, gb, stride, padding, dilation, int64_t groups):
    """Fills whichever of gx (grad of x), gw (of weight), gb (of bias) is not None."""
    if _is_f32(x, "conv2d_backward", "x"):
        _conv2d(F32, grad_out, x, weight, gx, gw, gb, stride, padding, dilation, groups)
    else:
        _conv2d(F64, grad_out, x, weight, gx, gw, gb, stride, padding, dilation, groups)


cdef int _conv2d(real *kind, grad_out, x, weight, a, gw, b, stride, padding, dilation, int64_t groups) except -1:
    """The forward (grad_out None) writes a = y from x, weight and the bias b;
    the backward writes whichever of a = grad_x, gw and b = grad_bias is not
    None."""
    cdef bint backward = grad_out is not None
    cdef str what = "conv2d_backward" if backward else "conv2d"
    dt = _dtype_of(kind)
    _check_geometry(what, stride, padding, dilation)
    cdef int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef int64_t k = weight.shape[0], r = weight.shape[2], s = weight.shape[3]
    cdef int64_t sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1], dh = dilation[0], dw = dilation[1]
    if groups < 1 or c % groups or k % groups:
        raise ValueError(f"{what}: groups={groups} must divide C={c} and K={k}")
    cdef int64_t p = _conv_out(h, r, sh, ph, dh), q = _conv_out(w, s, sw, pw, dw)
    cdef const real *pg = NULL
    if backward:
        pg = <const real *>_conv_arr(grad_out, dt, (n, k, p, q), what, "grad_out")
    cdef const real *px = <const real *>_conv_arr(x, dt, (n, c, h, w), what, "x")
    cdef const real *pwt = <const real *>_conv_arr(weight, dt, (k, c // groups, r, s), what, "weight")
    cdef real *pa = NULL
    cdef real *pgw = NULL
    cdef real *pb = NULL
    if not backward:
        if b is not None:
            pb = <real *>_conv_arr(b, dt, (k,), what, "bias")
        pa = <real *>_conv_arr(a, dt, (n, k, p, q), what, "y", True)
        _no_overlap((a,), (x, weight, b), what)
    else:
        if a is not None:
            pa = <real *>_conv_arr(a, dt, (n, c, h, w), what, "grad_x", True)
        if gw is not None:
            pgw = <real *>_conv_arr(gw, dt, (k, c // groups, r, s), what, "grad_weight", True)
        if b is not None:
            pb = <real *>_conv_arr(b, dt, (k,), what, "grad_bias", True)
        _no_overlap((a, gw, b), (grad_out, x, weight), what)
        for o1, o2 in ((a, gw), (a, b), (gw, b)):
            if o1 is not None and o2 is not None and np.may_share_memory(o1, o2):
                raise ValueError(f"{what}: the outputs overlap")
    cdef int rc = 0
    with nogil:
        if not backward:
            if real is float:
                rc = fnn_conv2d_forward_f32(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups, px, pwt, pb, pa)
            else:
                rc = fnn_conv2d_forward_f64(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups, px, pwt, pb, pa)
        else:
            if pa != NULL:
                if real is float:
                    rc = fnn_conv2d_backward_input_f32(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups, pg, pwt,
                                                       pa)
                else:
                    rc = fnn_conv2d_backward_input_f64(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups, pg, pwt,
                                                       pa)
            if rc == 0 and (pgw != NULL or pb != NULL):
                if real is float:
                    rc = fnn_conv2d_backward_weight_f32(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups, pg, px,
                                                        pgw, pb)
                else:
                    rc = fnn_conv2d_backward_weight_f64(n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups, pg, px,
                                                        pgw, pb)
    return check_rc(rc, what)


cdef inline int64_t _pool_out(int64_t size, int64_t k, int64_t stride, int64_t pad) except? -1:
    """The output extent (stride >= 1: _check_geometry ran first)."""
    return (size + 2 * pad - k) // stride + 1


def max_pool2d_forward(x, y, argmax, kernel, stride, padding):
    if _is_f32(x, "max_pool2d", "x"):
        _pool2d_forward(F32, True, x, y, argmax, kernel, stride, padding)
    else:
        _pool2d_forward(F64, True, x, y, argmax, kernel, stride, padding)


def avg_pool2d_forward(x, y, kernel, stride, padding):
    if _is_f32(x, "avg_pool2d", "x"):
        _pool2d_forward(F32, False, x, y, None, kernel, stride, padding)
    else:
        _pool2d_forward(F64, False, x, y, None, kernel, stride, padding)


cdef int _pool2d_forward(real *kind, bint is_max, x, y, argmax, kernel, stride, padding) except -1:
    cdef str what = "max_pool2d" if is_max else "avg_pool2d"
    dt = _dtype_of(kind)
    _check_geometry(what, stride, padding)
    cdef int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef int64_t kh = kernel[0], kw = kernel[1], sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef int64_t p = _pool_out(h, kh, sh, ph), q = _pool_out(w, kw, sw, pw)
    cdef const real *px = <const real *>_conv_arr(x, dt, (n, c, h, w), what, "x")
    cdef real *py = <real *>_conv_arr(y, dt, (n, c, p, q), what, "y", True)
    cdef int32_t *pa = NULL
    if is_max:
        pa = <int32_t *>_conv_arr(argmax, np.int32, (n, c, p, q), what, "argmax", True)
        _no_overlap((y, argmax), (x,), what)
    else:
        _no_overlap((y,), (x,), what)
    cdef int rc
    with nogil:
        if real is float:
            if is_max:
                rc = fnn_max_pool2d_forward_f32(n, c, h, w, kh, kw, sh, sw, ph, pw, px, py, pa)
            else:
                rc = fnn_avg_pool2d_forward_f32(n, c, h, w, kh, kw, sh, sw, ph, pw, px, py)
        else:
            if is_max:
                rc = fnn_max_pool2d_forward_f64(n, c, h, w, kh, kw, sh, sw, ph, pw, px, py, pa)
            else:
                rc = fnn_avg_pool2d_forward_f64(n, c, h, w, kh, kw, sh, sw, ph, pw, px, py)
    return check_rc(rc, what)


def max_pool2d_backward(grad_out, argmax, gx):
    if _is_f32(grad_out, "max_pool2d_backward", "x"):
        _max_pool2d_backward(F32, grad_out, argmax, gx)
    else:
        _max_pool2d_backward(F64, grad_out, argmax, gx)


cdef int _max_pool2d_backward(real *kind, grad_out, argmax, gx) except -1:
    cdef str what = "max_pool2d_backward"
    dt = _dtype_of(kind)
    cdef int64_t n = gx.shape[0], c = gx.shape[1], h = gx.shape[2], w = gx.shape[3]
    cdef int64_t p = grad_out.shape[2], q = grad_out.shape[3]
    cdef const real *pg = <const real *>_conv_arr(grad_out, dt, (n, c, p, q), what, "grad_out")
    cdef const int32_t *pa = <const int32_t *>_conv_arr(argmax, np.int32, (n, c, p, q), what, "argmax")
    cdef real *pd = <real *>_conv_arr(gx, dt, (n, c, h, w), what, "grad_x", True)
    _no_overlap((gx,), (grad_out, argmax), what)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_max_pool2d_backward_f32(n, c, h, w, p, q, pg, pa, pd)
        else:
            rc = fnn_max_pool2d_backward_f64(n, c, h, w, p, q, pg, pa, pd)
    if rc == FNN_EINVAL:
        raise ValueError(f"{what}: argmax holds indices outside the {h}x{w} input planes "
                         "(it must come from max_pool2d on an input of this shape)")
    return check_rc(rc, what)


def avg_pool2d_backward(grad_out, gx, kernel, stride, padding):
    if _is_f32(grad_out, "avg_pool2d_backward", "x"):
        _avg_pool2d_backward(F32, grad_out, gx, kernel, stride, padding)
    else:
        _avg_pool2d_backward(F64, grad_out, gx, kernel, stride, padding)


cdef int _avg_pool2d_backward(real *kind, grad_out, gx, kernel, stride, padding) except -1:
    cdef str what = "avg_pool2d_backward"
    dt = _dtype_of(kind)
    _check_geometry(what, stride, padding)
    cdef int64_t n = gx.shape[0], c = gx.shape[1], h = gx.shape[2], w = gx.shape[3]
    cdef int64_t kh = kernel[0], kw = kernel[1], sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef int64_t p = _pool_out(h, kh, sh, ph), q = _pool_out(w, kw, sw, pw)
    cdef const real *pg = <const real *>_conv_arr(grad_out, dt, (n, c, p, q), what, "grad_out")
    cdef real *pd = <real *>_conv_arr(gx, dt, (n, c, h, w), what, "grad_x", True)
    _no_overlap((gx,), (grad_out,), what)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_avg_pool2d_backward_f32(n, c, h, w, kh, kw, sh, sw, ph, pw, pg, pd)
        else:
            rc = fnn_avg_pool2d_backward_f64(n, c, h, w, kh, kw, sh, sw, ph, pw, pg, pd)
    return check_rc(rc, what)
