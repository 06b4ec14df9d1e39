"""Float64 direct-loop NumPy references for convolution and pooling (tests only)."""
import numpy as np


def out_size(size, k, stride, pad, dil=1):
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def _windows(x, r, s, stride, padding, dilation):
    """(N, C, P, Q, R, S) view of the zero-padded float64 x: loops over the
    kernel taps only, never over elements."""
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = x
    p, q = out_size(h, r, sh, ph, dh), out_size(w, s, sw, pw, dw)
    out = np.empty((n, c, p, q, r, s))
    for i in range(r):
        for j in range(s):
            out[..., i, j] = xp[:, :, i * dh:i * dh + sh * (p - 1) + 1:sh, j * dw:j * dw + sw * (q - 1) + 1:sw]
    return xp, out


def conv2d(x, w, b, stride, padding, dilation, groups):
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    k, cg, r, s = w.shape
    _, cols = _windows(x, r, s, stride, padding, dilation)
    n, c, p, q = cols.shape[:4]
    kg = k // groups
    y = np.empty((n, k, p, q))
    for g in range(groups):
        y[:, g * kg:(g + 1) * kg] = np.einsum("ncpqrs,kcrs->nkpq", cols[:, g * cg:(g + 1) * cg],
                                              w[g * kg:(g + 1) * kg])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def conv2d_backward(gy, x, w, stride, padding, dilation, groups):
    gy = gy.astype(np.float64)
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    k, cg, r, s = w.shape
    n, c, h, wd = x.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    _, cols = _windows(x, r, s, stride, padding, dilation)
    p, q = cols.shape[2:4]
    kg = k // groups
    gw = np.empty(w.shape)
    gxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    for g in range(groups):
        gg = gy[:, g * kg:(g + 1) * kg]
        gw[g * kg:(g + 1) * kg] = np.einsum("nkpq,ncpqrs->kcrs", gg, cols[:, g * cg:(g + 1) * cg])
        gcols = np.einsum("nkpq,kcrs->ncpqrs", gg, w[g * kg:(g + 1) * kg])
        for i in range(r):
            for j in range(s):
                gxp[:, g * cg:(g + 1) * cg, i * dh:i * dh + sh * (p - 1) + 1:sh,
                    j * dw:j * dw + sw * (q - 1) + 1:sw] += gcols[..., i, j]
    gx = gxp[:, :, ph:ph + h, pw:pw + wd]
    gb = gy.sum(axis=(0, 2, 3))
    return gx, gw, gb


def max_pool2d(x, k, stride, padding):
    x = x.astype(np.float64)
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * padding[0], w + 2 * padding[1]), -np.inf)
    xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    p, q = out_size(h, k[0], stride[0], padding[0]), out_size(w, k[1], stride[1], padding[1])
    y = np.full((n, c, p, q), -np.inf)
    for i in range(k[0]):
        for j in range(k[1]):
            y = np.maximum(y, xp[:, :, i:i + stride[0] * (p - 1) + 1:stride[0], j:j + stride[1] * (q - 1) + 1:stride[1]])
    return y


def avg_pool2d(x, k, stride, padding):
    x = x.astype(np.float64)
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]))
    xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    p, q = out_size(h, k[0], stride[0], padding[0]), out_size(w, k[1], stride[1], padding[1])
    y = np.zeros((n, c, p, q))
    for i in range(k[0]):
        for j in range(k[1]):
            y += xp[:, :, i:i + stride[0] * (p - 1) + 1:stride[0], j:j + stride[1] * (q - 1) + 1:stride[1]]
    return y / (k[0] * k[1])


def avg_pool2d_backward(gy, x_shape, k, stride, padding):
    n, c, h, w = x_shape
    gy = gy.astype(np.float64)
    p, q = gy.shape[2:]
    gxp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]))
    for i in range(k[0]):
        for j in range(k[1]):
            gxp[:, :, i:i + stride[0] * (p - 1) + 1:stride[0], j:j + stride[1] * (q - 1) + 1:stride[1]] += gy
    return gxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] / (k[0] * k[1])
