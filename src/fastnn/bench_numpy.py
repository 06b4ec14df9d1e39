"""Hand-written NumPy baselines of whole training steps, for the "train"
benchmark group (fastnn bench, benchmarks/bench_train.py), and the
im2col (as_strided) + matmul convolution the "conv" group compares with.  Written as a
competent NumPy user would: BLAS matmuls through `@`, in-place updates,
no Python loops over elements."""
import numpy as np
from numpy.lib.stride_tricks import as_strided


class NumpyMLP:
    """Linear-ReLU-...-Linear with softmax cross-entropy and SGD with
    momentum (PyTorch's rule: buf = m*buf + g; p -= lr*buf)."""

    def __init__(self, sizes, lr=0.01, momentum=0.9, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.W, self.b = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1 / np.sqrt(fan_in)
            self.W.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype))
            self.b.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
        self.vW = [np.zeros_like(w) for w in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.lr, self.momentum = dtype(lr), dtype(momentum)

    def step(self, x, y):
        return self.step_with_input_grad(x, y)[0]

    def step_with_input_grad(self, x, y):
        """One SGD step; returns (loss, gradient of the loss w.r.t. x)."""
        acts = [x]
        h = x
        last = len(self.W) - 1
        for i, (w, b) in enumerate(zip(self.W, self.b)):
            h = h @ w.T
            h += b
            if i < last:
                np.maximum(h, 0, out=h)
            acts.append(h)
        logits = acts[-1]
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        n = x.shape[0]
        loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - logits[np.arange(n), y]))
        g = e / s
        g[np.arange(n), y] -= 1
        g /= n
        for i in range(last, -1, -1):
            gw = g.T @ acts[i]
            gb = g.sum(axis=0)
            g = g @ self.W[i]
            if i > 0:
                g *= acts[i] > 0
            for p, v, d in ((self.W[i], self.vW[i], gw), (self.b[i], self.vb[i], gb)):
                v *= self.momentum
                v += d
                p -= self.lr * v
        return loss, g


# ---------------------------------------------------------------- convolution



def _pad(x, p):
    if p == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def _cols(xp, r, s, stride, p, q):
    """(N, C, R, S, P, Q) strided view of the padded input."""
    n, c, hp, wp = xp.shape
    sn, sc, sh, sw = xp.strides
    return as_strided(xp, (n, c, r, s, p, q), (sn, sc, sh, sw, sh * stride, sw * stride), writeable=False)


def conv2d(x, w, b=None, stride=1, padding=0, groups=1):
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    p = (h + 2 * padding - r) // stride + 1
    q = (wd + 2 * padding - s) // stride + 1
    xp = _pad(x, padding)
    kg = k // groups
    y = np.empty((n, k, p * q), x.dtype)
    for g in range(groups):
        cols = _cols(xp[:, g * cg:(g + 1) * cg], r, s, stride, p, q).reshape(n, cg * r * s, p * q)  # copies
        np.matmul(w[g * kg:(g + 1) * kg].reshape(kg, -1), cols, out=y[:, g * kg:(g + 1) * kg])
    if b is not None:
        y += b[None, :, None]
    return y.reshape(n, k, p, q)


def conv2d_depthwise(x, w, b=None, stride=1, padding=0):
    """groups == C == K: a weighted sum of the R*S shifted views (no GEMM)."""
    n, c, h, wd = x.shape
    _, _, r, s = w.shape
    p = (h + 2 * padding - r) // stride + 1
    q = (wd + 2 * padding - s) // stride + 1
    xp = _pad(x, padding)
    v = _cols(xp, r, s, stride, p, q)
    y = np.zeros((n, c, p, q), x.dtype)
    for i in range(r):
        for j in range(s):
            y += v[:, :, i, j] * w[None, :, 0, i, j, None, None]
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv2d_grad_input(gy, x_shape, w, stride=1, padding=0, groups=1):
    """col2im of W^T dY: the R*S strided adds into the padded gradient."""
    n, c, h, wd = x_shape
    k, cg, r, s = w.shape
    p, q = gy.shape[2:]
    kg = k // groups
    gxp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), gy.dtype)
    for g in range(groups):
        gcols = np.matmul(w[g * kg:(g + 1) * kg].reshape(kg, -1).T,
                          gy[:, g * kg:(g + 1) * kg].reshape(n, kg, p * q)).reshape(n, cg, r, s, p, q)
        for i in range(r):
            for j in range(s):
                gxp[:, g * cg:(g + 1) * cg, i:i + stride * (p - 1) + 1:stride,
                    j:j + stride * (q - 1) + 1:stride] += gcols[:, :, i, j]
    return gxp[:, :, padding:padding + h, padding:padding + wd]


def conv2d_grad_input_depthwise(gy, x_shape, w, stride=1, padding=0):
    n, c, h, wd = x_shape
    _, _, r, s = w.shape
    p, q = gy.shape[2:]
    gxp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), gy.dtype)
    for i in range(r):
        for j in range(s):
            gxp[:, :, i:i + stride * (p - 1) + 1:stride, j:j + stride * (q - 1) + 1:stride] += \
                gy * w[None, :, 0, i, j, None, None]
    return gxp[:, :, padding:padding + h, padding:padding + wd]


def conv2d_grad_weight(gy, x, w_shape, stride=1, padding=0, groups=1):
    n, c, h, wd = x.shape
    k, cg, r, s = w_shape
    p, q = gy.shape[2:]
    kg = k // groups
    xp = _pad(x, padding)
    gw = np.empty(w_shape, x.dtype)
    for g in range(groups):
        cols = _cols(xp[:, g * cg:(g + 1) * cg], r, s, stride, p, q)
        # (K, N*P*Q) @ (N*P*Q, C*R*S): one GEMM over the batch
        a = gy[:, g * kg:(g + 1) * kg].transpose(1, 0, 2, 3).reshape(kg, n * p * q)
        bm = cols.transpose(0, 4, 5, 1, 2, 3).reshape(n * p * q, cg * r * s)
        gw[g * kg:(g + 1) * kg] = (a @ bm).reshape(kg, cg, r, s)
    return gw


def conv2d_grad_weight_depthwise(gy, x, w_shape, stride=1, padding=0):
    n, c, h, wd = x.shape
    _, _, r, s = w_shape
    p, q = gy.shape[2:]
    v = _cols(_pad(x, padding), r, s, stride, p, q)
    gw = np.empty(w_shape, x.dtype)
    for i in range(r):
        for j in range(s):
            gw[:, 0, i, j] = np.einsum("ncpq,ncpq->c", gy, v[:, :, i, j])
    return gw


# ---------------------------------------------------------------- LeNet-5

def _maxpool2(x):
    n, c, h, w = x.shape
    v = x.reshape(n, c, h // 2, 2, w // 2, 2)
    y = v.max(axis=(3, 5))
    mask = v == y[:, :, :, None, :, None]
    return y, mask


def _maxpool2_backward(gy, mask):
    g = mask * gy[:, :, :, None, :, None]
    n, c, h2, _, w2, _ = mask.shape
    return g.reshape(n, c, h2 * 2, w2 * 2)


class NumpyLeNet5:
    """LeNet-5 on 1x28x28 (conv 6@5x5 pad 2, ReLU, max-pool 2; conv 16@5x5,
    ReLU, max-pool 2; 400-120-84-10 with ReLU), softmax cross-entropy, SGD
    with momentum; convolutions by the im2col functions above."""

    def __init__(self, lr=0.01, momentum=0.9, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)

        def u(shape, fan_in):
            b = 1 / np.sqrt(fan_in)
            return rng.uniform(-b, b, shape).astype(dtype)
        self.p = {"c1w": u((6, 1, 5, 5), 25), "c1b": u(6, 25), "c2w": u((16, 6, 5, 5), 150), "c2b": u(16, 150)}
        self.fc = NumpyMLP([400, 120, 84, 10], lr=lr, momentum=momentum, seed=seed, dtype=dtype)
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.lr, self.momentum = dtype(lr), dtype(momentum)

    def step(self, x, y):
        p = self.p
        a1 = conv2d(x, p["c1w"], p["c1b"], padding=2)
        np.maximum(a1, 0, out=a1)
        h1, m1 = _maxpool2(a1)
        a2 = conv2d(h1, p["c2w"], p["c2b"])
        np.maximum(a2, 0, out=a2)
        h2, m2 = _maxpool2(a2)
        flat = h2.reshape(x.shape[0], -1)
        loss, gflat = self.fc.step_with_input_grad(flat, y)
        g2 = _maxpool2_backward(gflat.reshape(h2.shape), m2) * (a2 > 0)
        grads = {"c2w": conv2d_grad_weight(g2, h1, p["c2w"].shape), "c2b": g2.sum(axis=(0, 2, 3))}
        g1 = conv2d_grad_input(g2, h1.shape, p["c2w"])
        g1 = _maxpool2_backward(g1, m1) * (a1 > 0)
        grads["c1w"] = conv2d_grad_weight(g1, x, p["c1w"].shape, padding=2)
        grads["c1b"] = g1.sum(axis=(0, 2, 3))
        for k, g in grads.items():
            v = self.v[k]
            v *= self.momentum
            v += g
            p[k] -= self.lr * v
        return loss
