"""Hand-written NumPy baselines of whole training steps, for the "train"
benchmark group (fastnn bench, benchmarks/bench_train.py).  Written as a
competent NumPy user would: BLAS matmuls through `@`, in-place updates,
no Python loops over elements."""
import numpy as np


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
            if i > 0:
                g = g @ self.W[i]
                g *= acts[i] > 0
            for p, v, d in ((self.W[i], self.vW[i], gw), (self.b[i], self.vb[i], gb)):
                v *= self.momentum
                v += d
                p -= self.lr * v
        return loss
