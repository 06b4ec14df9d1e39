"""Shared helpers of the nn/optim/io tests: ISAs, thread counts, finite differences."""
import contextlib
import os

import numpy as np
import pytest

import fastnn

ISAS = fastnn.config()["isa_available"]
DTYPES = [np.float32, np.float64]
CI = bool(os.environ.get("CI"))


def examples(n):
    """Hypothesis example count: scaled down (never to zero) on CI."""
    return max(5, n // 5) if CI else n


@contextlib.contextmanager
def using(isa=None, threads=None):
    old_isa, old_threads = fastnn.get_isa(), fastnn.get_num_threads()
    try:
        if isa is not None:
            fastnn.set_isa(isa)
        if threads is not None:
            fastnn.set_num_threads(threads)
        yield
    finally:
        fastnn.set_isa(old_isa)
        fastnn.set_num_threads(old_threads)


@pytest.fixture(params=ISAS)
def isa(request):
    with using(isa=request.param):
        yield request.param


def at_threads(fn, counts=(1, 2)):
    """fn() run at each thread count; the results (tuples of arrays/floats)."""
    out = []
    for n in counts:
        with using(threads=n):
            out.append(fn())
    return out


def assert_bit_identical(results):
    first = results[0]
    for other in results[1:]:
        for a, b in zip(_leaves(first), _leaves(other)):
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes(), "results differ between thread counts"


def _leaves(x):
    if isinstance(x, (tuple, list)):
        for v in x:
            yield from _leaves(v)
    else:
        yield x


def numeric_grad(f, x, eps=1e-6):
    """Central differences of the scalar f() w.r.t. every element of x (in place)."""
    g = np.zeros_like(x, dtype=np.float64)
    flat, gf = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gf[i] = (fp - fm) / (2 * eps)
    return g


def tol(dtype, f32=2e-5, f64=1e-12):
    return f32 if np.dtype(dtype) == np.float32 else f64


def backward_grads(fn, inputs, grad_out):
    """Leaf Tensors of inputs (requiring grads), out = fn(*tensors),
    out.backward(grad_out): returns (out as an ndarray, the inputs' grads)."""
    ts = [fastnn.tensor(np.array(x, copy=True), requires_grad=True) for x in inputs]
    out = fn(*ts)
    out.backward(grad_out)
    return out.numpy(), [t.grad for t in ts]
