# Bindings of the sequence-model kernels: fused recurrent cells, the
# recurrent layers' sequence drivers, embedding and attention.  Included at
# the end of _C.pyx.  As everywhere in _C: check what C will trust (dtype,
# contiguity, sizes, writability), release the GIL, call C, map the code.


cdef int64_t _last(object a, str what, str name) except -1:
    if not isinstance(a, np.ndarray) or a.ndim < 1:
        raise ValueError(f"{what}: {name} must be an array of at least 1 dimension")
    return a.shape[a.ndim - 1]


# ---------------------------------------------------------------- recurrent cells

def rnn_tanh_cell_forward(pre, h):
    """pre (rows, n) -> h = tanh(pre) (rows, n)."""
    if _is_f32(pre, "rnn_tanh_cell"):
        _rnn_tanh_cell_forward(F32, pre, h)
    else:
        _rnn_tanh_cell_forward(F64, pre, h)


cdef int _rnn_tanh_cell_forward(real *kind, pre, h) except -1:
    cdef str w = "rnn_tanh_cell"
    dt = _dtype_of(kind)
    cdef int64_t n = _last(pre, w, "pre"), rows = pre.size // n if n else 0
    cdef const real *pp = <const real *>_arr(pre, dt, rows * n, w, "pre")
    cdef real *ph = <real *>_arr(h, dt, rows * n, w, "h", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_rnn_tanh_cell_forward_f32(rows, n, pp, ph)
        else:
            rc = fnn_rnn_tanh_cell_forward_f64(rows, n, pp, ph)
    return check_rc(rc, w)


def rnn_tanh_cell_backward(grad_h, h, grad_pre):
    if _is_f32(h, "rnn_tanh_cell_backward"):
        _rnn_tanh_cell_backward(F32, grad_h, h, grad_pre)
    else:
        _rnn_tanh_cell_backward(F64, grad_h, h, grad_pre)


cdef int _rnn_tanh_cell_backward(real *kind, grad_h, h, grad_pre) except -1:
    cdef str w = "rnn_tanh_cell_backward"
    dt = _dtype_of(kind)
    cdef int64_t n = _last(h, w, "h"), rows = h.size // n if n else 0
    cdef const real *pg = <const real *>_arr(grad_h, dt, rows * n, w, "grad_h")
    cdef const real *ph = <const real *>_arr(h, dt, rows * n, w, "h")
    cdef real *pd = <real *>_arr(grad_pre, dt, rows * n, w, "grad_pre", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_rnn_tanh_cell_backward_f32(rows, n, pg, ph, pd)
        else:
            rc = fnn_rnn_tanh_cell_backward_f64(rows, n, pg, ph, pd)
    return check_rc(rc, w)


def lstm_cell_forward(gates, c_prev, c, h):
    """gates (rows, 4n) pre-activations, replaced by the activated gates;
    c_prev (rows, n) or None; fills c and h (rows, n)."""
    if _is_f32(gates, "lstm_cell"):
        _lstm_cell_forward(F32, gates, c_prev, c, h)
    else:
        _lstm_cell_forward(F64, gates, c_prev, c, h)


cdef int _lstm_cell_forward(real *kind, gates, c_prev, c, h) except -1:
    cdef str w = "lstm_cell"
    dt = _dtype_of(kind)
    cdef int64_t n = _last(c, w, "c"), rows = c.size // n if n else 0
    cdef real *pg = <real *>_arr(gates, dt, 4 * rows * n, w, "gates", True)
    cdef const real *pcp = <const real *>_arr(c_prev, dt, rows * n, w, "c_prev", False, True)
    cdef real *pc = <real *>_arr(c, dt, rows * n, w, "c", True)
    cdef real *ph = <real *>_arr(h, dt, rows * n, w, "h", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_lstm_cell_forward_f32(rows, n, pg, pcp, pc, ph)
        else:
            rc = fnn_lstm_cell_forward_f64(rows, n, pg, pcp, pc, ph)
    return check_rc(rc, w)


def lstm_cell_backward(gates, c_prev, c, grad_h, grad_c, grad_gates, grad_c_prev):
    if _is_f32(gates, "lstm_cell_backward"):
        _lstm_cell_backward(F32, gates, c_prev, c, grad_h, grad_c, grad_gates, grad_c_prev)
    else:
        _lstm_cell_backward(F64, gates, c_prev, c, grad_h, grad_c, grad_gates, grad_c_prev)


cdef int _lstm_cell_backward(real *kind, gates, c_prev, c, grad_h, grad_c, grad_gates, grad_c_prev) except -1:
    cdef str w = "lstm_cell_backward"
    dt = _dtype_of(kind)
    cdef int64_t n = _last(c, w, "c"), rows = c.size // n if n else 0
    cdef const real *pg = <const real *>_arr(gates, dt, 4 * rows * n, w, "gates")
    cdef const real *pcp = <const real *>_arr(c_prev, dt, rows * n, w, "c_prev", False, True)
    cdef const real *pc = <const real *>_arr(c, dt, rows * n, w, "c")
    cdef const real *pgh = <const real *>_arr(grad_h, dt, rows * n, w, "grad_h")
    cdef const real *pgc = <const real *>_arr(grad_c, dt, rows * n, w, "grad_c", False, True)
    cdef real *pgg = <real *>_arr(grad_gates, dt, 4 * rows * n, w, "grad_gates", True)
    cdef real *pgcp = <real *>_arr(grad_c_prev, dt, rows * n, w, "grad_c_prev", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_lstm_cell_backward_f32(rows, n, pg, pcp, pc, pgh, pgc, pgg, pgcp)
        else:
            rc = fnn_lstm_cell_backward_f64(rows, n, pg, pcp, pc, pgh, pgc, pgg, pgcp)
    return check_rc(rc, w)


def gru_cell_forward(gx, gh, h_prev, saved, h):
    """gx, gh (rows, 3n); h_prev (rows, n) or None; fills saved (rows, 4n) and h."""
    if _is_f32(gx, "gru_cell"):
        _gru_cell_forward(F32, gx, gh, h_prev, saved, h)
    else:
        _gru_cell_forward(F64, gx, gh, h_prev, saved, h)


cdef int _gru_cell_forward(real *kind, gx, gh, h_prev, saved, h) except -1:
    cdef str w = "gru_cell"
    dt = _dtype_of(kind)
    cdef int64_t n = _last(h, w, "h"), rows = h.size // n if n else 0
    cdef const real *pgx = <const real *>_arr(gx, dt, 3 * rows * n, w, "gx")
    cdef const real *pgh = <const real *>_arr(gh, dt, 3 * rows * n, w, "gh")
    cdef const real *php = <const real *>_arr(h_prev, dt, rows * n, w, "h_prev", False, True)
    cdef real *ps = <real *>_arr(saved, dt, 4 * rows * n, w, "saved", True)
    cdef real *ph = <real *>_arr(h, dt, rows * n, w, "h", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_gru_cell_forward_f32(rows, n, pgx, pgh, php, ps, ph)
        else:
            rc = fnn_gru_cell_forward_f64(rows, n, pgx, pgh, php, ps, ph)
    return check_rc(rc, w)


def gru_cell_backward(saved, h_prev, grad_h, grad_gx, grad_gh, grad_h_prev):
    if _is_f32(saved, "gru_cell_backward"):
        _gru_cell_backward(F32, saved, h_prev, grad_h, grad_gx, grad_gh, grad_h_prev)
    else:
        _gru_cell_backward(F64, saved, h_prev, grad_h, grad_gx, grad_gh, grad_h_prev)


cdef int _gru_cell_backward(real *kind, saved, h_prev, grad_h, grad_gx, grad_gh, grad_h_prev) except -1:
    cdef str w = "gru_cell_backward"
    dt = _dtype_of(kind)
    cdef int64_t n = _last(grad_h, w, "grad_h"), rows = grad_h.size // n if n else 0
    cdef const real *ps = <const real *>_arr(saved, dt, 4 * rows * n, w, "saved")
    cdef const real *php = <const real *>_arr(h_prev, dt, rows * n, w, "h_prev", False, True)
    cdef const real *pg = <const real *>_arr(grad_h, dt, rows * n, w, "grad_h")
    cdef real *pgx = <real *>_arr(grad_gx, dt, 3 * rows * n, w, "grad_gx", True)
    cdef real *pgg = <real *>_arr(grad_gh, dt, 3 * rows * n, w, "grad_gh", True)
    cdef real *pgp = <real *>_arr(grad_h_prev, dt, rows * n, w, "grad_h_prev", True)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_gru_cell_backward_f32(rows, n, ps, php, pg, pgx, pgg, pgp)
        else:
            rc = fnn_gru_cell_backward_f64(rows, n, ps, php, pg, pgx, pgg, pgp)
    return check_rc(rc, w)


# ---------------------------------------------------------------- embedding

def embedding_forward(idx, weight, out):
    """idx int64 (n,), weight (num, dim) -> out (n, dim)."""
    if _is_f32(weight, "embedding"):
        _embedding(F32, False, idx, out, weight, -1)
    else:
        _embedding(F64, False, idx, out, weight, -1)


def embedding_backward(idx, grad_out, int64_t padding_idx, grad_weight):
    """grad_weight (num, dim) += scatter of grad_out (n, dim) by idx."""
    if _is_f32(grad_weight, "embedding_backward"):
        _embedding(F32, True, idx, grad_out, grad_weight, padding_idx)
    else:
        _embedding(F64, True, idx, grad_out, grad_weight, padding_idx)


cdef int _embedding(real *kind, bint backward, idx, a, table, int64_t padding_idx) except -1:
    """The forward gathers rows of table (weight) into a (out); the backward
    adds the rows of a (grad_out) into table (grad_weight)."""
    cdef str w = "embedding_backward" if backward else "embedding"
    cdef str tname = "grad_weight" if backward else "weight"
    dt = _dtype_of(kind)
    if table.ndim != 2:
        raise ValueError(f"{w}: {tname} must be 2-D, got shape {table.shape}")
    cdef int64_t num = table.shape[0], dim = table.shape[1], n = idx.size
    cdef const int64_t *pi = <const int64_t *>_arr(idx, np.int64, n, w, "indices")
    cdef real *pa
    cdef real *pt
    if backward:
        pa = <real *>_arr(a, dt, n * dim, w, "grad_out")
        pt = <real *>_arr(table, dt, num * dim, w, tname, True)
    else:
        pt = <real *>_arr(table, dt, num * dim, w, tname)
        pa = <real *>_arr(a, dt, n * dim, w, "out", True)
    cdef int rc
    with nogil:
        if real is float:
            if backward:
                rc = fnn_embedding_backward_f32(n, num, dim, pi, pa, padding_idx, pt)
            else:
                rc = fnn_embedding_forward_f32(n, num, dim, pi, pt, pa)
        else:
            if backward:
                rc = fnn_embedding_backward_f64(n, num, dim, pi, pa, padding_idx, pt)
            else:
                rc = fnn_embedding_forward_f64(n, num, dim, pi, pt, pa)
    if rc == FNN_EINVAL:
        raise IndexError(f"{w}: an index is out of range for {num} embeddings")
    return check_rc(rc, w)


# ---------------------------------------------------------------- attention

def attention_forward(q, k, v, double scale, bint causal, o, lse, mask=None, key_mask=None):
    """q, o (B, H, Sq, D); k, v (B, H, Sk, D), each in any layout with unit
    stride along D (views of a projection's (B, S, H*D) rows read and write
    in place); lse (B, H, Sq), contiguous; the additive masks: mask (Sq, Sk)
    shared by every head or (B*H, Sq, Sk), key_mask (B, Sk), or None."""
    if _is_f32(q, "scaled_dot_product_attention"):
        _attention(F32, False, q, k, v, None, None, None, scale, causal, o, lse, None, mask, key_mask)
    else:
        _attention(F64, False, q, k, v, None, None, None, scale, causal, o, lse, None, mask, key_mask)


def attention_backward(q, k, v, o, grad_out, lse, double scale, bint causal, dq, dk, dv, mask=None, key_mask=None):
    """The gradients dq, dk, dv (shaped and laid out as attention_forward's
    q, k, v) from the forward's o and lse."""
    if _is_f32(q, "scaled_dot_product_attention_backward"):
        _attention(F32, True, q, k, v, o, grad_out, lse, scale, causal, dq, dk, dv, mask, key_mask)
    else:
        _attention(F64, True, q, k, v, o, grad_out, lse, scale, causal, dq, dk, dv, mask, key_mask)


cdef void *_heads_arr(object a, object dtype, tuple shape, str what, str name, int64_t *strides,
                      bint out=False) except NULL:
    """The data pointer of `a`, checked to be an ndarray of dtype and shape
    (B, H, S, D) with unit stride along D and non-negative strides
    (writeable when `out`); its B, H and S strides, in elements, go to
    strides[0..2]."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    check_kind(arr, what, name)
    if arr.dtype != dtype:
        raise TypeError(f"{what}: {name} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if (<object>arr).shape != shape:
        raise ValueError(f"{what}: {name} has shape {(<object>arr).shape}, expected {shape}")
    if out and not arr.flags.writeable:
        raise ValueError(f"{what}: {name} is read-only")
    cdef int64_t item = arr.itemsize, i
    cdef tuple st = (<object>arr).strides
    if arr.size == 0:  # nothing is read or written: any strides
        strides[0] = strides[1] = strides[2] = 0
        return cnp.PyArray_DATA(arr)
    for i in range(4):
        if shape[i] > 1 and (st[i] < 0 or st[i] % item or (i == 3 and st[i] != item)):
            raise ValueError(f"{what}: {name} has strides {st}; expected unit stride along the last axis and "
                             "non-negative strides")
    for i in range(3):
        strides[i] = st[i] // item if shape[i] > 1 else 0
    return cnp.PyArray_DATA(arr)


cdef int _attention(real *kind, bint backward, q, k, v, o, grad_out, lse, double scale, bint causal, out0, out1,
                    out2, mask, key_mask) except -1:
    """The forward writes out0 = o and out1 = lse; the backward reads o,
    grad_out and lse and writes out0-2 = dq, dk, dv."""
    cdef str w = "scaled_dot_product_attention_backward" if backward else "scaled_dot_product_attention"
    dt = _dtype_of(kind)
    if q.ndim != 4 or k.ndim != 4:
        raise ValueError(f"{w}: expected 4-D (B, H, S, D) arrays here, got shapes {q.shape} and {k.shape}")
    cdef int64_t b = q.shape[0], h = q.shape[1], sq = q.shape[2], d = q.shape[3], sk = k.shape[2]
    cdef tuple qs = (b, h, sq, d), ks = (b, h, sk, d)
    cdef int64_t st[8][3]
    cdef const real *pq = <const real *>_heads_arr(q, dt, qs, w, "q", st[0])
    cdef const real *pk = <const real *>_heads_arr(k, dt, ks, w, "k", st[1])
    cdef const real *pv = <const real *>_heads_arr(v, dt, ks, w, "v", st[2])
    cdef const real *po = NULL
    cdef const real *pgo = NULL
    cdef real *pl
    cdef real *p0
    cdef real *p1 = NULL
    cdef real *p2 = NULL
    if backward:
        po = <const real *>_heads_arr(o, dt, qs, w, "out", st[3])
        pgo = <const real *>_heads_arr(grad_out, dt, qs, w, "grad_out", st[4])
        pl = <real *>_arr(lse, dt, b * h * sq, w, "lse")
        p0 = <real *>_heads_arr(out0, dt, qs, w, "grad_q", st[5], True)
        p1 = <real *>_heads_arr(out1, dt, ks, w, "grad_k", st[6], True)
        p2 = <real *>_heads_arr(out2, dt, ks, w, "grad_v", st[7], True)
        _no_overlap((out0, out1, out2), (q, k, v, o, grad_out, lse), w)
    else:
        p0 = <real *>_heads_arr(out0, dt, qs, w, "out", st[3], True)
        pl = <real *>_arr(out1, dt, b * h * sq, w, "lse", True)
        _no_overlap((out0, out1), (q, k, v), w)
    # the additive masks: mask (sq, sk) shared by every head, or (b * h, sq, sk)
    cdef int64_t sm = sq * sk if mask is not None and getattr(mask, "ndim", 0) == 3 else 0
    cdef const real *pm = <const real *>_arr(mask, dt, b * h * sq * sk if sm else sq * sk, w, "attn_mask", False,
                                             True)
    cdef const real *pkm = <const real *>_arr(key_mask, dt, b * sk, w, "key_padding_mask", False, True)
    cdef int rc
    with nogil:
        if real is float:
            if backward:
                rc = fnn_attention_strided_backward_f32(b, h, sq, sk, d, pq, st[0], pk, st[1], pv, st[2], pm, sm, pkm,
                                                        po, st[3], pgo, st[4], pl, scale, causal, p0, st[5], p1,
                                                        st[6], p2, st[7])
            else:
                rc = fnn_attention_strided_forward_f32(b, h, sq, sk, d, pq, st[0], pk, st[1], pv, st[2], pm, sm, pkm,
                                                       scale, causal, p0, st[3], pl)
        else:
            if backward:
                rc = fnn_attention_strided_backward_f64(b, h, sq, sk, d, pq, st[0], pk, st[1], pv, st[2], pm, sm, pkm,
                                                        po, st[3], pgo, st[4], pl, scale, causal, p0, st[5], p1,
                                                        st[6], p2, st[7])
            else:
                rc = fnn_attention_strided_forward_f64(b, h, sq, sk, d, pq, st[0], pk, st[1], pv, st[2], pm, sm, pkm,
                                                       scale, causal, p0, st[3], pl)
    return check_rc(rc, w)


# ---------------------------------------------------------------- recurrent layers (whole sequence)

RNN_MODES = {"RNN_TANH": FNN_RNN_MODE_TANH, "LSTM": FNN_RNN_MODE_LSTM, "GRU": FNN_RNN_MODE_GRU,
             "RNN_RELU": FNN_RNN_MODE_RELU}
# the gate blocks of each cell's weights (PyTorch's layout)
_RNN_GATES = {FNN_RNN_MODE_TANH: 1, FNN_RNN_MODE_LSTM: 4, FNN_RNN_MODE_GRU: 3, FNN_RNN_MODE_RELU: 1}


def _rnn_cell(int mode, str w):
    """The cell of a mode (the reverse flag stripped), checked."""
    cdef int cell = mode & ~FNN_RNN_REVERSE
    if cell not in _RNN_GATES:
        raise ValueError(f"{w}: unknown mode {mode}")
    return cell


def rnn_layer_forward(int mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, y, cells, gates):
    """x (steps, batch, in) time-major; y (steps, batch, hid); see fastnn.h."""
    if _is_f32(x, "rnn_layer_forward"):
        _rnn_layer_forward(F32, mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, y, cells, gates)
    else:
        _rnn_layer_forward(F64, mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, y, cells, gates)


cdef int _rnn_layer_forward(real *kind, int mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, y, cells, gates) except -1:
    cdef str w = "rnn_layer_forward"
    dt = _dtype_of(kind)
    cdef int cell = _rnn_cell(mode, w)
    if x.ndim != 3 or w_hh.ndim != 2:
        raise ValueError(f"{w}: bad arguments")
    cdef int64_t steps = x.shape[0], batch = x.shape[1], inp = x.shape[2], hid = w_hh.shape[1]
    cdef int64_t g = _RNN_GATES[cell]
    cdef bint lstm = cell == FNN_RNN_MODE_LSTM
    cdef const real *px = <const real *>_arr(x, dt, steps * batch * inp, w, "x")
    cdef const real *pwi = <const real *>_arr(w_ih, dt, g * hid * inp, w, "weight_ih")
    cdef const real *pwh = <const real *>_arr(w_hh, dt, g * hid * hid, w, "weight_hh")
    cdef const real *pbi = <const real *>_arr(b_ih, dt, g * hid, w, "bias_ih", False, True)
    cdef const real *pbh = <const real *>_arr(b_hh, dt, g * hid, w, "bias_hh", False, True)
    cdef const real *ph0 = <const real *>_arr(h0, dt, batch * hid, w, "h0", False, True)
    cdef const real *pc0 = <const real *>_arr(c0, dt, batch * hid, w, "c0", False, True)
    cdef real *py = <real *>_arr(y, dt, steps * batch * hid, w, "y", True)
    cdef real *pc = <real *>_arr(cells, dt, steps * batch * hid, w, "cells", True, not lstm)
    cdef real *pg = <real *>_arr(gates, dt, steps * batch * 4 * hid, w, "gates", True, g == 1)
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_rnn_layer_forward_f32(mode, steps, batch, inp, hid, px, pwi, pwh, pbi, pbh, ph0, pc0, py, pc, pg)
        else:
            rc = fnn_rnn_layer_forward_f64(mode, steps, batch, inp, hid, px, pwi, pwh, pbi, pbh, ph0, pc0, py, pc, pg)
    return check_rc(rc, w)


def rnn_layer_backward(int mode, x, w_ih, w_hh, h0, c0, y, cells, gates, grad_y, grad_hn, grad_cn, grad_x,
                       grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, grad_h0, grad_c0):
    args = (mode, x, w_ih, w_hh, h0, c0, y, cells, gates, grad_y, grad_hn, grad_cn, grad_x, grad_w_ih, grad_w_hh,
            grad_b_ih, grad_b_hh, grad_h0, grad_c0)
    if _is_f32(x, "rnn_layer_backward"):
        _rnn_layer_backward(F32, args)
    else:
        _rnn_layer_backward(F64, args)


cdef int _rnn_layer_backward(real *kind, tuple args) except -1:
    cdef str w = "rnn_layer_backward"
    (mode, x, w_ih, w_hh, h0, c0, y, cells, gates, grad_y, grad_hn, grad_cn, grad_x, grad_w_ih, grad_w_hh,
     grad_b_ih, grad_b_hh, grad_h0, grad_c0) = args
    dt = _dtype_of(kind)
    cdef int cell = _rnn_cell(mode, w)
    if x.ndim != 3 or w_hh.ndim != 2:
        raise ValueError(f"{w}: bad arguments")
    cdef int64_t steps = x.shape[0], batch = x.shape[1], inp = x.shape[2], hid = w_hh.shape[1]
    cdef int64_t g = _RNN_GATES[cell]
    cdef bint lstm = cell == FNN_RNN_MODE_LSTM
    cdef const real *px = <const real *>_arr(x, dt, steps * batch * inp, w, "x")
    cdef const real *pwi = <const real *>_arr(w_ih, dt, g * hid * inp, w, "weight_ih")
    cdef const real *pwh = <const real *>_arr(w_hh, dt, g * hid * hid, w, "weight_hh")
    cdef const real *ph0 = <const real *>_arr(h0, dt, batch * hid, w, "h0", False, True)
    cdef const real *pc0 = <const real *>_arr(c0, dt, batch * hid, w, "c0", False, True)
    cdef const real *py = <const real *>_arr(y, dt, steps * batch * hid, w, "y")
    cdef const real *pc = <const real *>_arr(cells, dt, steps * batch * hid, w, "cells", False, not lstm)
    cdef const real *pg = <const real *>_arr(gates, dt, steps * batch * 4 * hid, w, "gates", False, g == 1)
    cdef const real *pgy = <const real *>_arr(grad_y, dt, steps * batch * hid, w, "grad_y", False, True)
    cdef const real *pghn = <const real *>_arr(grad_hn, dt, batch * hid, w, "grad_hn", False, True)
    cdef const real *pgcn = <const real *>_arr(grad_cn, dt, batch * hid, w, "grad_cn", False, True)
    cdef real *pgx = <real *>_arr(grad_x, dt, steps * batch * inp, w, "grad_x", True, True)
    cdef real *pgwi = <real *>_arr(grad_w_ih, dt, g * hid * inp, w, "grad_weight_ih", True)
    cdef real *pgwh = <real *>_arr(grad_w_hh, dt, g * hid * hid, w, "grad_weight_hh", True)
    cdef real *pgbi = <real *>_arr(grad_b_ih, dt, g * hid, w, "grad_bias_ih", True, True)
    cdef real *pgbh = <real *>_arr(grad_b_hh, dt, g * hid, w, "grad_bias_hh", True, True)
    cdef real *pgh0 = <real *>_arr(grad_h0, dt, batch * hid, w, "grad_h0", True)
    cdef real *pgc0 = <real *>_arr(grad_c0, dt, batch * hid, w, "grad_c0", True, not lstm)
    cdef int md = mode
    cdef int rc
    with nogil:
        if real is float:
            rc = fnn_rnn_layer_backward_f32(md, steps, batch, inp, hid, px, pwi, pwh, ph0, pc0, py, pc, pg, pgy, pghn,
                                            pgcn, pgx, pgwi, pgwh, pgbi, pgbh, pgh0, pgc0)
        else:
            rc = fnn_rnn_layer_backward_f64(md, steps, batch, inp, hid, px, pwi, pwh, ph0, pc0, py, pc, pg, pgy, pghn,
                                            pgcn, pgx, pgwi, pgwh, pgbi, pgbh, pgh0, pgc0)
    return check_rc(rc, w)
