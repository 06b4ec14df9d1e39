"""Plain NumPy reference implementations (float64) of the sequence layers'
forward and backward: the tanh and relu RNN, LSTM and GRU (one layer, time-major,
PyTorch's gate order and formulas, backward through time written out step by
step) and scaled dot-product attention on whole score matrices.  Written
independently of fastnn's kernels, to check them."""
import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def rnn_forward(mode, x, w_ih, w_hh, b_ih, b_hh, h0=None, c0=None):
    """x (T, B, I) -> (y (T, B, H), h_n, c_n, cache)."""
    x = x.astype(np.float64)
    steps, batch, _ = x.shape
    hid = w_hh.shape[1]
    h = np.zeros((batch, hid)) if h0 is None else h0.astype(np.float64)
    c = np.zeros((batch, hid)) if c0 is None else c0.astype(np.float64)
    ys, cache = [], []
    for t in range(steps):
        gx = x[t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        if mode in ("RNN", "RNN_RELU"):
            hn = np.tanh(gx + gh) if mode == "RNN" else np.maximum(gx + gh, 0)
            cache.append((h, hn))
            h = hn
        elif mode == "LSTM":
            g = gx + gh
            i, f = sigmoid(g[:, :hid]), sigmoid(g[:, hid:2 * hid])
            gg, o = np.tanh(g[:, 2 * hid:3 * hid]), sigmoid(g[:, 3 * hid:])
            cn = f * c + i * gg
            hn = o * np.tanh(cn)
            cache.append((h, c, i, f, gg, o, cn))
            h, c = hn, cn
        else:  # GRU
            r = sigmoid(gx[:, :hid] + gh[:, :hid])
            z = sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
            n = np.tanh(gx[:, 2 * hid:] + r * gh[:, 2 * hid:])
            hn = (1 - z) * n + z * h
            cache.append((h, r, z, n, gh[:, 2 * hid:]))
            h = hn
        ys.append(h)
    return np.stack(ys), h, c, (mode, x, w_ih, w_hh, cache)


def rnn_backward(grad_y, state_cache, grad_hn=None, grad_cn=None):
    """-> (grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, grad_h0, grad_c0)."""
    mode, x, w_ih, w_hh, cache = state_cache
    steps, batch, _ = x.shape
    hid = w_hh.shape[1]
    g_gates = {"RNN": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}[mode]
    dx = np.zeros_like(x)
    dw_ih, dw_hh = np.zeros(w_ih.shape), np.zeros(w_hh.shape)
    db_ih, db_hh = np.zeros(g_gates * hid), np.zeros(g_gates * hid)
    dh = np.zeros((batch, hid)) if grad_hn is None else grad_hn.astype(np.float64).copy()
    dc = np.zeros((batch, hid)) if grad_cn is None else grad_cn.astype(np.float64).copy()
    for t in reversed(range(steps)):
        dh = dh + grad_y[t]
        if mode in ("RNN", "RNN_RELU"):
            hp, hn = cache[t]
            dpre = dh * (1 - hn ** 2) if mode == "RNN" else dh * (hn > 0)
            dgx = dgh = dpre
            dh = dpre @ w_hh
        elif mode == "LSTM":
            hp, cp, i, f, gg, o, cn = cache[t]
            tc = np.tanh(cn)
            do = dh * tc
            dct = dc + dh * o * (1 - tc ** 2)
            dpre = np.concatenate([dct * gg * i * (1 - i), dct * cp * f * (1 - f), dct * i * (1 - gg ** 2),
                                   do * o * (1 - o)], axis=1)
            dgx = dgh = dpre
            dc = dct * f
            dh = dpre @ w_hh
        else:
            hp, r, z, n, hn_lin = cache[t]
            dn = dh * (1 - z)
            dz = dh * (hp - n)
            dnp = dn * (1 - n ** 2)
            drp = dnp * hn_lin * r * (1 - r)
            dzp = dz * z * (1 - z)
            dgx = np.concatenate([drp, dzp, dnp], axis=1)
            dgh = np.concatenate([drp, dzp, dnp * r], axis=1)
            dh = dh * z + dgh @ w_hh
        dx[t] = dgx @ w_ih
        dw_ih += dgx.T @ x[t]
        dw_hh += dgh.T @ hp
        db_ih += dgx.sum(0)
        db_hh += dgh.sum(0)
    return dx, dw_ih, dw_hh, db_ih, db_hh, dh, dc


def attention_forward(q, k, v, causal=False, scale=None):
    """q (B, H, Sq, D), k, v (B, H, Sk, D) -> (out, probabilities)."""
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    d = q.shape[-1]
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    s = q @ k.swapaxes(-1, -2) * scale
    if causal:
        sq, sk = s.shape[-2:]
        s = np.where(np.arange(sk)[None, :] > np.arange(sq)[:, None], -np.inf, s)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return p @ v, p


def attention_backward(grad_out, q, k, v, causal=False, scale=None):
    """-> (grad_q, grad_k, grad_v), through the dense softmax Jacobian."""
    q, k, v, g = (a.astype(np.float64) for a in (q, k, v, grad_out))
    d = q.shape[-1]
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    _, p = attention_forward(q, k, v, causal, scale)
    dv = p.swapaxes(-1, -2) @ g
    dp = g @ v.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) * scale
    return ds @ k, ds.swapaxes(-1, -2) @ q, dv
