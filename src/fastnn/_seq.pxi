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
    cdef str w = "rnn_tanh_cell"
    dt = _float_dtype(pre, w)
    cdef int64_t n = _last(pre, w, "pre"), rows = pre.size // n if n else 0
    cdef void *pp = _arr(pre, dt, rows * n, w, "pre")
    cdef void *ph = _arr(h, dt, rows * n, w, "h", True)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_rnn_tanh_cell_forward_f32(rows, n, <const float *>pp, <float *>ph)
        else:
            rc = fnn_rnn_tanh_cell_forward_f64(rows, n, <const double *>pp, <double *>ph)
    check_rc(rc, w)


def rnn_tanh_cell_backward(grad_h, h, grad_pre):
    cdef str w = "rnn_tanh_cell_backward"
    dt = _float_dtype(h, w)
    cdef int64_t n = _last(h, w, "h"), rows = h.size // n if n else 0
    cdef void *pg = _arr(grad_h, dt, rows * n, w, "grad_h")
    cdef void *ph = _arr(h, dt, rows * n, w, "h")
    cdef void *pd = _arr(grad_pre, dt, rows * n, w, "grad_pre", True)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_rnn_tanh_cell_backward_f32(rows, n, <const float *>pg, <const float *>ph, <float *>pd)
        else:
            rc = fnn_rnn_tanh_cell_backward_f64(rows, n, <const double *>pg, <const double *>ph, <double *>pd)
    check_rc(rc, w)


def lstm_cell_forward(gates, c_prev, c, h):
    """gates (rows, 4n) pre-activations, replaced by the activated gates;
    c_prev (rows, n) or None; fills c and h (rows, n)."""
    cdef str w = "lstm_cell"
    dt = _float_dtype(gates, w)
    cdef int64_t n = _last(c, w, "c"), rows = c.size // n if n else 0
    cdef void *pg = _arr(gates, dt, 4 * rows * n, w, "gates", True)
    cdef void *pcp = _arr(c_prev, dt, rows * n, w, "c_prev", False, True)
    cdef void *pc = _arr(c, dt, rows * n, w, "c", True)
    cdef void *ph = _arr(h, dt, rows * n, w, "h", True)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_lstm_cell_forward_f32(rows, n, <float *>pg, <const float *>pcp, <float *>pc, <float *>ph)
        else:
            rc = fnn_lstm_cell_forward_f64(rows, n, <double *>pg, <const double *>pcp, <double *>pc, <double *>ph)
    check_rc(rc, w)


def lstm_cell_backward(gates, c_prev, c, grad_h, grad_c, grad_gates, grad_c_prev):
    cdef str w = "lstm_cell_backward"
    dt = _float_dtype(gates, w)
    cdef int64_t n = _last(c, w, "c"), rows = c.size // n if n else 0
    cdef void *pg = _arr(gates, dt, 4 * rows * n, w, "gates")
    cdef void *pcp = _arr(c_prev, dt, rows * n, w, "c_prev", False, True)
    cdef void *pc = _arr(c, dt, rows * n, w, "c")
    cdef void *pgh = _arr(grad_h, dt, rows * n, w, "grad_h")
    cdef void *pgc = _arr(grad_c, dt, rows * n, w, "grad_c", False, True)
    cdef void *pgg = _arr(grad_gates, dt, 4 * rows * n, w, "grad_gates", True)
    cdef void *pgcp = _arr(grad_c_prev, dt, rows * n, w, "grad_c_prev", True)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_lstm_cell_backward_f32(rows, n, <const float *>pg, <const float *>pcp, <const float *>pc,
                                            <const float *>pgh, <const float *>pgc, <float *>pgg, <float *>pgcp)
        else:
            rc = fnn_lstm_cell_backward_f64(rows, n, <const double *>pg, <const double *>pcp, <const double *>pc,
                                            <const double *>pgh, <const double *>pgc, <double *>pgg,
                                            <double *>pgcp)
    check_rc(rc, w)


def gru_cell_forward(gx, gh, h_prev, saved, h):
    """gx, gh (rows, 3n); h_prev (rows, n) or None; fills saved (rows, 4n) and h."""
    cdef str w = "gru_cell"
    dt = _float_dtype(gx, w)
    cdef int64_t n = _last(h, w, "h"), rows = h.size // n if n else 0
    cdef void *pgx = _arr(gx, dt, 3 * rows * n, w, "gx")
    cdef void *pgh = _arr(gh, dt, 3 * rows * n, w, "gh")
    cdef void *php = _arr(h_prev, dt, rows * n, w, "h_prev", False, True)
    cdef void *ps = _arr(saved, dt, 4 * rows * n, w, "saved", True)
    cdef void *ph = _arr(h, dt, rows * n, w, "h", True)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_gru_cell_forward_f32(rows, n, <const float *>pgx, <const float *>pgh, <const float *>php,
                                          <float *>ps, <float *>ph)
        else:
            rc = fnn_gru_cell_forward_f64(rows, n, <const double *>pgx, <const double *>pgh, <const double *>php,
                                          <double *>ps, <double *>ph)
    check_rc(rc, w)


def gru_cell_backward(saved, h_prev, grad_h, grad_gx, grad_gh, grad_h_prev):
    cdef str w = "gru_cell_backward"
    dt = _float_dtype(saved, w)
    cdef int64_t n = _last(grad_h, w, "grad_h"), rows = grad_h.size // n if n else 0
    cdef void *ps = _arr(saved, dt, 4 * rows * n, w, "saved")
    cdef void *php = _arr(h_prev, dt, rows * n, w, "h_prev", False, True)
    cdef void *pg = _arr(grad_h, dt, rows * n, w, "grad_h")
    cdef void *pgx = _arr(grad_gx, dt, 3 * rows * n, w, "grad_gx", True)
    cdef void *pgg = _arr(grad_gh, dt, 3 * rows * n, w, "grad_gh", True)
    cdef void *pgp = _arr(grad_h_prev, dt, rows * n, w, "grad_h_prev", True)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_gru_cell_backward_f32(rows, n, <const float *>ps, <const float *>php, <const float *>pg,
                                           <float *>pgx, <float *>pgg, <float *>pgp)
        else:
            rc = fnn_gru_cell_backward_f64(rows, n, <const double *>ps, <const double *>php, <const double *>pg,
                                           <double *>pgx, <double *>pgg, <double *>pgp)
    check_rc(rc, w)


# ---------------------------------------------------------------- embedding

def embedding_forward(idx, weight, out):
    """idx int64 (n,), weight (num, dim) -> out (n, dim)."""
    cdef str w = "embedding"
    dt = _float_dtype(weight, w)
    if weight.ndim != 2:
        raise ValueError(f"{w}: weight must be 2-D, got shape {weight.shape}")
    cdef int64_t num = weight.shape[0], dim = weight.shape[1], n = idx.size
    cdef const int64_t *pi = <const int64_t *>_arr(idx, np.int64, n, w, "indices")
    cdef void *pw = _arr(weight, dt, num * dim, w, "weight")
    cdef void *po = _arr(out, dt, n * dim, w, "out", True)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_embedding_forward_f32(n, num, dim, pi, <const float *>pw, <float *>po)
        else:
            rc = fnn_embedding_forward_f64(n, num, dim, pi, <const double *>pw, <double *>po)
    if rc == FNN_EINVAL:
        raise IndexError(f"{w}: an index is out of range for {num} embeddings")
    check_rc(rc, w)


def embedding_backward(idx, grad_out, int64_t padding_idx, grad_weight):
    """grad_weight (num, dim) += scatter of grad_out (n, dim) by idx."""
    cdef str w = "embedding_backward"
    dt = _float_dtype(grad_weight, w)
    if grad_weight.ndim != 2:
        raise ValueError(f"{w}: grad_weight must be 2-D, got shape {grad_weight.shape}")
    cdef int64_t num = grad_weight.shape[0], dim = grad_weight.shape[1], n = idx.size
    cdef const int64_t *pi = <const int64_t *>_arr(idx, np.int64, n, w, "indices")
    cdef void *pg = _arr(grad_out, dt, n * dim, w, "grad_out")
    cdef void *pw = _arr(grad_weight, dt, num * dim, w, "grad_weight", True)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_embedding_backward_f32(n, num, dim, pi, <const float *>pg, padding_idx, <float *>pw)
        else:
            rc = fnn_embedding_backward_f64(n, num, dim, pi, <const double *>pg, padding_idx, <double *>pw)
    if rc == FNN_EINVAL:
        raise IndexError(f"{w}: an index is out of range for {num} embeddings")
    check_rc(rc, w)


# ---------------------------------------------------------------- attention

cdef tuple _attn_masks(mask, key_mask, int64_t heads, object dt, int64_t bh, int64_t sq, int64_t sk, str w):
    """(mask pointer, its per-head stride, key_mask pointer) of the additive
    masks: mask (sq, sk) shared by every head or (bh, sq, sk); key_mask
    (bh / heads, sk)."""
    cdef int64_t stride = 0
    if heads < 1 or bh % heads:
        raise ValueError(f"{w}: heads={heads} does not divide {bh} batch-heads")
    if mask is not None and getattr(mask, "ndim", 0) == 3:
        stride = sq * sk
    cdef void *pm = _arr(mask, dt, bh * sq * sk if stride else sq * sk, w, "attn_mask", False, True)
    cdef void *pkm = _arr(key_mask, dt, bh // heads * sk, w, "key_padding_mask", False, True)
    return <size_t>pm, stride, <size_t>pkm


def attention_forward(q, k, v, double scale, bint causal, o, lse, mask=None, key_mask=None, int64_t heads=1):
    """q, o (bh, sq, d); k, v (bh, sk, d); lse (bh, sq); the additive masks
    as _attn_masks takes them."""
    cdef str w = "scaled_dot_product_attention"
    dt = _float_dtype(q, w)
    if q.ndim != 3 or k.ndim != 3:
        raise ValueError(f"{w}: expected 3-D (bh, s, d) arrays here")
    cdef int64_t bh = q.shape[0], sq = q.shape[1], d = q.shape[2], sk = k.shape[1]
    cdef void *pq = _arr(q, dt, bh * sq * d, w, "q")
    cdef void *pk = _arr(k, dt, bh * sk * d, w, "k")
    cdef void *pv = _arr(v, dt, bh * sk * d, w, "v")
    cdef void *po = _arr(o, dt, bh * sq * d, w, "out", True)
    cdef void *pl = _arr(lse, dt, bh * sq, w, "lse", True)
    pm_, sm_, pkm_ = _attn_masks(mask, key_mask, heads, dt, bh, sq, sk, w)
    cdef size_t pm = pm_, pkm = pkm_
    cdef int64_t sm = sm_
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_attention_masked_forward_f32(bh, sq, sk, d, <const float *>pq, <const float *>pk,
                                                  <const float *>pv, <const float *>pm, sm, <const float *>pkm,
                                                  heads, scale, causal, <float *>po, <float *>pl)
        else:
            rc = fnn_attention_masked_forward_f64(bh, sq, sk, d, <const double *>pq, <const double *>pk,
                                                  <const double *>pv, <const double *>pm, sm, <const double *>pkm,
                                                  heads, scale, causal, <double *>po, <double *>pl)
    check_rc(rc, w)


def attention_backward(q, k, v, o, grad_out, lse, double scale, bint causal, dq, dk, dv, mask=None, key_mask=None,
                       int64_t heads=1):
    cdef str w = "scaled_dot_product_attention_backward"
    dt = _float_dtype(q, w)
    if q.ndim != 3 or k.ndim != 3:
        raise ValueError(f"{w}: expected 3-D (bh, s, d) arrays here")
    cdef int64_t bh = q.shape[0], sq = q.shape[1], d = q.shape[2], sk = k.shape[1]
    cdef void *pq = _arr(q, dt, bh * sq * d, w, "q")
    cdef void *pk = _arr(k, dt, bh * sk * d, w, "k")
    cdef void *pv = _arr(v, dt, bh * sk * d, w, "v")
    cdef void *po = _arr(o, dt, bh * sq * d, w, "out")
    cdef void *pg = _arr(grad_out, dt, bh * sq * d, w, "grad_out")
    cdef void *pl = _arr(lse, dt, bh * sq, w, "lse")
    cdef void *pdq = _arr(dq, dt, bh * sq * d, w, "grad_q", True)
    cdef void *pdk = _arr(dk, dt, bh * sk * d, w, "grad_k", True)
    cdef void *pdv = _arr(dv, dt, bh * sk * d, w, "grad_v", True)
    pm_, sm_, pkm_ = _attn_masks(mask, key_mask, heads, dt, bh, sq, sk, w)
    cdef size_t pm = pm_, pkm = pkm_
    cdef int64_t sm = sm_
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_attention_masked_backward_f32(bh, sq, sk, d, <const float *>pq, <const float *>pk,
                                                   <const float *>pv, <const float *>pm, sm, <const float *>pkm,
                                                   heads, <const float *>po, <const float *>pg, <const float *>pl,
                                                   scale, causal, <float *>pdq, <float *>pdk, <float *>pdv)
        else:
            rc = fnn_attention_masked_backward_f64(bh, sq, sk, d, <const double *>pq, <const double *>pk,
                                                   <const double *>pv, <const double *>pm, sm,
                                                   <const double *>pkm, heads, <const double *>po,
                                                   <const double *>pg, <const double *>pl, scale, causal,
                                                   <double *>pdq, <double *>pdk, <double *>pdv)
    check_rc(rc, w)


# ---------------------------------------------------------------- recurrent layers (whole sequence)

RNN_MODES = {"RNN_TANH": 0, "LSTM": 1, "GRU": 2, "RNN_RELU": 3}
# or'ed into a mode: the recurrence runs from the last step to the first
RNN_REVERSE = 16
_RNN_GATES = (1, 4, 3, 1)


def _rnn_cell(int mode, str w):
    """The cell of a mode (the reverse flag stripped), checked."""
    cdef int cell = mode & ~RNN_REVERSE
    if cell < 0 or cell > 3:
        raise ValueError(f"{w}: unknown mode {mode}")
    return cell


def rnn_layer_forward(int mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, y, cells, gates):
    """x (steps, batch, in) time-major; y (steps, batch, hid); see fastnn.h."""
    cdef str w = "rnn_layer_forward"
    dt = _float_dtype(x, w)
    cdef int cell = _rnn_cell(mode, w)
    if x.ndim != 3 or w_hh.ndim != 2:
        raise ValueError(f"{w}: bad arguments")
    cdef int64_t steps = x.shape[0], batch = x.shape[1], inp = x.shape[2], hid = w_hh.shape[1]
    cdef int64_t g = _RNN_GATES[cell]
    cdef void *px = _arr(x, dt, steps * batch * inp, w, "x")
    cdef void *pwi = _arr(w_ih, dt, g * hid * inp, w, "weight_ih")
    cdef void *pwh = _arr(w_hh, dt, g * hid * hid, w, "weight_hh")
    cdef void *pbi = _arr(b_ih, dt, g * hid, w, "bias_ih", False, True)
    cdef void *pbh = _arr(b_hh, dt, g * hid, w, "bias_hh", False, True)
    cdef void *ph0 = _arr(h0, dt, batch * hid, w, "h0", False, True)
    cdef void *pc0 = _arr(c0, dt, batch * hid, w, "c0", False, True)
    cdef void *py = _arr(y, dt, steps * batch * hid, w, "y", True)
    cdef void *pc = _arr(cells, dt, steps * batch * hid, w, "cells", True, cell != 1)
    cdef void *pg = _arr(gates, dt, steps * batch * 4 * hid, w, "gates", True, g == 1)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_rnn_layer_forward_f32(mode, steps, batch, inp, hid, <const float *>px, <const float *>pwi,
                                           <const float *>pwh, <const float *>pbi, <const float *>pbh,
                                           <const float *>ph0, <const float *>pc0, <float *>py, <float *>pc,
                                           <float *>pg)
        else:
            rc = fnn_rnn_layer_forward_f64(mode, steps, batch, inp, hid, <const double *>px, <const double *>pwi,
                                           <const double *>pwh, <const double *>pbi, <const double *>pbh,
                                           <const double *>ph0, <const double *>pc0, <double *>py, <double *>pc,
                                           <double *>pg)
    check_rc(rc, w)


def rnn_layer_backward(int mode, x, w_ih, w_hh, h0, c0, y, cells, gates, grad_y, grad_hn, grad_cn, grad_x,
                       grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, grad_h0, grad_c0):
    cdef str w = "rnn_layer_backward"
    dt = _float_dtype(x, w)
    cdef int cell = _rnn_cell(mode, w)
    if x.ndim != 3 or w_hh.ndim != 2:
        raise ValueError(f"{w}: bad arguments")
    cdef int64_t steps = x.shape[0], batch = x.shape[1], inp = x.shape[2], hid = w_hh.shape[1]
    cdef int64_t g = _RNN_GATES[cell]
    cdef void *px = _arr(x, dt, steps * batch * inp, w, "x")
    cdef void *pwi = _arr(w_ih, dt, g * hid * inp, w, "weight_ih")
    cdef void *pwh = _arr(w_hh, dt, g * hid * hid, w, "weight_hh")
    cdef void *ph0 = _arr(h0, dt, batch * hid, w, "h0", False, True)
    cdef void *pc0 = _arr(c0, dt, batch * hid, w, "c0", False, True)
    cdef void *py = _arr(y, dt, steps * batch * hid, w, "y")
    cdef void *pc = _arr(cells, dt, steps * batch * hid, w, "cells", False, cell != 1)
    cdef void *pg = _arr(gates, dt, steps * batch * 4 * hid, w, "gates", False, g == 1)
    cdef void *pgy = _arr(grad_y, dt, steps * batch * hid, w, "grad_y", False, True)
    cdef void *pghn = _arr(grad_hn, dt, batch * hid, w, "grad_hn", False, True)
    cdef void *pgcn = _arr(grad_cn, dt, batch * hid, w, "grad_cn", False, True)
    cdef void *pgx = _arr(grad_x, dt, steps * batch * inp, w, "grad_x", True, True)
    cdef void *pgwi = _arr(grad_w_ih, dt, g * hid * inp, w, "grad_weight_ih", True)
    cdef void *pgwh = _arr(grad_w_hh, dt, g * hid * hid, w, "grad_weight_hh", True)
    cdef void *pgbi = _arr(grad_b_ih, dt, g * hid, w, "grad_bias_ih", True, True)
    cdef void *pgbh = _arr(grad_b_hh, dt, g * hid, w, "grad_bias_hh", True, True)
    cdef void *pgh0 = _arr(grad_h0, dt, batch * hid, w, "grad_h0", True)
    cdef void *pgc0 = _arr(grad_c0, dt, batch * hid, w, "grad_c0", True, cell != 1)
    cdef int rc
    cdef bint f32 = dt == np.float32
    with nogil:
        if f32:
            rc = fnn_rnn_layer_backward_f32(mode, steps, batch, inp, hid, <const float *>px, <const float *>pwi,
                                            <const float *>pwh, <const float *>ph0, <const float *>pc0,
                                            <const float *>py, <const float *>pc, <const float *>pg,
                                            <const float *>pgy, <const float *>pghn, <const float *>pgcn,
                                            <float *>pgx, <float *>pgwi, <float *>pgwh, <float *>pgbi,
                                            <float *>pgbh, <float *>pgh0, <float *>pgc0)
        else:
            rc = fnn_rnn_layer_backward_f64(mode, steps, batch, inp, hid, <const double *>px, <const double *>pwi,
                                            <const double *>pwh, <const double *>ph0, <const double *>pc0,
                                            <const double *>py, <const double *>pc, <const double *>pg,
                                            <const double *>pgy, <const double *>pghn, <const double *>pgcn,
                                            <double *>pgx, <double *>pgwi, <double *>pgwh, <double *>pgbi,
                                            <double *>pgbh, <double *>pgh0, <double *>pgc0)
    check_rc(rc, w)
