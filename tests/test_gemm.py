"""GEMM (fastnn.ops.matmul, fastnn.ops.linear, fnn_sgemm/fnn_dgemm).

Every result is checked against float64 np.matmul with a bound that scales
with k: |err| <= 4 k eps max|a| max|b| |alpha| + 4 eps |beta| max|C| (+ the
bias), on every ISA the CPU has and at 1 and 2 threads; results at 1 and 2
threads must be bit-identical.  The driver's test hook forces each path
(packed / in-place operands, K split, tiny cache blocks) on small shapes.
"""
import itertools
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import _C, ops

ISAS = fastnn.config()["isa_available"]
THREADS = (1, 2)
DTYPES = (np.float32, np.float64)
PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67)

# driver test flags (csrc/gemm/gemm_test_hook.h)
# ALL_THREADS makes small products use every thread (they would run on one)
PACK_A, DIRECT_A, PACK_B, DIRECT_B, KSPLIT, NO_KSPLIT, TINY, ALL_THREADS = 1, 2, 4, 8, 16, 32, 64, 128
# TRANS_C runs A B^T as C^T = B A^T (the kernels storing C^T's tiles into C)
# wherever the layout allows, NO_TRANS_C never
TRANS_C, NO_TRANS_C = 256, 512
PATHS = tuple(ALL_THREADS | p for p in (0, PACK_A | PACK_B, DIRECT_A | DIRECT_B, PACK_A | DIRECT_B,
                                        DIRECT_A | PACK_B, KSPLIT, TINY, TINY | DIRECT_A | DIRECT_B, TINY | KSPLIT,
                                        TRANS_C, TRANS_C | TINY, TRANS_C | PACK_A | PACK_B,
                                        TRANS_C | TINY | DIRECT_A | DIRECT_B))


@pytest.fixture
def env():
    """Yields a setter (isa, threads, flags); restores everything after."""
    isa0, nt0 = fastnn.get_isa(), fastnn.get_num_threads()

    def set_(isa=None, threads=None, flags=0):
        if isa is not None:
            fastnn.set_isa(isa)
        if threads is not None:
            fastnn.set_num_threads(threads)
        _C._gemm_test_flags(flags)
    yield set_
    _C._gemm_test_flags(0)
    fastnn.set_isa(isa0)
    fastnn.set_num_threads(nt0)


def rand(rng, shape, dtype):
    return rng.uniform(-1, 1, size=shape).astype(dtype)


def reference(a, b, ta, tb, alpha=1.0, beta=0.0, c=None):
    A = np.swapaxes(a, -1, -2) if ta else a
    B = np.swapaxes(b, -1, -2) if tb else b
    r = alpha * np.matmul(A.astype(np.float64), B.astype(np.float64))
    if beta != 0.0:
        r = r + beta * c.astype(np.float64)
    return r


def bound(a, b, k, dtype, alpha=1.0, beta=0.0, c=None):
    eps = np.finfo(dtype).eps
    amax = np.abs(a).max(initial=0.0)
    bmax = np.abs(b).max(initial=0.0)
    tol = 4 * max(k, 1) * eps * amax * bmax * abs(alpha)
    if beta != 0.0:
        tol += 4 * eps * abs(beta) * np.abs(c).max(initial=0.0)
    return tol + np.finfo(dtype).tiny


def check_matmul(rng, m, n, k, dtype, ta=False, tb=False, alpha=1.0, beta=0.0, batch=None):
    lead = () if batch is None else (batch,)
    a = rand(rng, lead + ((k, m) if ta else (m, k)), dtype)
    b = rand(rng, lead + ((n, k) if tb else (k, n)), dtype)
    c0 = rand(rng, lead + (m, n), dtype)
    out = c0.copy()
    got = ops.matmul(a, b, out=out, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta)
    assert got is out
    ref = reference(a, b, ta, tb, alpha, beta, c0)
    err = np.abs(got - ref).max(initial=0.0)
    tol = bound(a, b, k, dtype, alpha, beta, c0)
    assert err <= tol, (m, n, k, dtype, ta, tb, alpha, beta, err, tol)
    return got


def grid():
    """Sampled shapes 1..70 in each dimension, primes and k = 0."""
    rng = np.random.default_rng(1234)
    dims = sorted(set([1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 17, 28, 31, 32, 33, 47, 48, 64, 65, 70]))
    shapes = [tuple(int(x) for x in rng.choice(dims, 3)) for _ in range(40)]
    shapes += [tuple(int(x) for x in rng.choice(PRIMES, 3)) for _ in range(12)]
    shapes += [(5, 7, 0), (33, 17, 0), (1, 1, 1), (70, 70, 70), (14, 32, 256), (15, 33, 300)]
    return shapes


SHAPES = grid()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", THREADS)
def test_matmul_grid(env, isa, threads):
    env(isa, threads, ALL_THREADS)
    rng = np.random.default_rng(0)
    for i, (m, n, k) in enumerate(SHAPES):
        dtype = DTYPES[i % 2]
        ta, tb = bool(i & 2), bool(i & 4)
        check_matmul(rng, m, n, k, dtype, ta, tb)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("path", PATHS)
def test_matmul_paths(env, isa, path):
    """Every driver path on every ISA, 2 threads, all four transposes."""
    env(isa, 2, path)
    rng = np.random.default_rng(path)
    for i, (m, n, k) in enumerate(SHAPES[::3]):
        for ta, tb in itertools.product((False, True), repeat=2):
            check_matmul(rng, m, n, k, DTYPES[i % 2], ta, tb, alpha=-0.75, beta=0.5 if i % 3 else 0.0)


@pytest.mark.parametrize("isa", ISAS)
def test_alpha_beta(env, isa):
    env(isa, 2)
    rng = np.random.default_rng(5)
    for dtype in DTYPES:
        for alpha, beta in [(1, 0), (2.5, 0), (-1, 1), (0.5, -2), (0, 1), (0, 0), (1, 1), (-0.3, 0.7)]:
            for m, n, k in [(7, 9, 11), (33, 65, 70), (64, 64, 1100)]:
                check_matmul(rng, m, n, k, dtype, alpha=alpha, beta=beta)


def test_beta_zero_does_not_read_c():
    a = np.ones((5, 3), np.float32)
    b = np.ones((3, 4), np.float32)
    out = np.full((5, 4), np.nan, np.float32)
    np.testing.assert_array_equal(ops.matmul(a, b, out=out), np.full((5, 4), 3, np.float32))
    out[:] = np.nan  # k == 0 and alpha == 0 give beta * C = 0
    np.testing.assert_array_equal(ops.matmul(a[:, :0], b[:0], out=out), np.zeros((5, 4)))
    out[:] = np.nan
    np.testing.assert_array_equal(ops.matmul(a, b, out=out, alpha=0.0), np.zeros((5, 4)))


def test_k_zero_and_empty():
    for dtype in DTYPES:
        a = np.empty((4, 0), dtype)
        b = np.empty((0, 6), dtype)
        np.testing.assert_array_equal(ops.matmul(a, b), np.zeros((4, 6)))
        c = np.full((4, 6), 2.0, dtype)
        np.testing.assert_array_equal(ops.matmul(a, b, out=c, beta=1.5), np.full((4, 6), 3.0))
        assert ops.matmul(np.empty((0, 3), dtype), np.ones((3, 5), dtype)).shape == (0, 5)
        assert ops.matmul(np.ones((2, 3), dtype), np.ones((3, 0), dtype)).shape == (2, 0)


def test_nan_inf_propagate():
    a = np.ones((20, 20), np.float32)
    b = np.ones((20, 40), np.float32)
    a[3, 5] = np.nan
    b[7, 30] = np.inf
    y = ops.matmul(a, b)
    ref = a.astype(np.float64) @ b
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))


@pytest.mark.parametrize("isa", ISAS)
def test_strided_and_transposed_views(env, isa):
    env(isa, 2)
    rng = np.random.default_rng(7)
    for dtype in DTYPES:
        base_a = rand(rng, (2, 80, 90), dtype)
        base_b = rand(rng, (2, 90, 80), dtype)
        views = [
            (base_a[0, :33, :47], base_b[0, :47, :29]),            # row stride > cols
            (base_a[0, ::-1, :47][:33], base_b[0, :47, ::-1][:, :29]),  # negative strides (copied)
            (base_a[0, :47, :33].T, base_b[0, :29, :47].T),        # transposed views (read in place)
            (base_a[0, ::2, ::3][:20, :25], base_b[0, ::3, ::2][:25, :31]),  # no unit stride (copied)
            (base_a[:, 1:34, 2:49], base_b[:, 2:49, 3:20]),       # batched, strided
            (base_a[:, :33, :47], base_b[0, :47, :29]),            # 3-D @ 2-D
            (base_a[:1, :33, :47], base_b[:, :47, :29]),           # batch broadcast 1 -> 2
            (np.broadcast_to(base_a[0, :33, :47], (3, 33, 47)), base_b[0, :47, :29]),  # batch stride 0
        ]
        for a, b in views:
            got = ops.matmul(a, b)
            ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
            assert got.shape == ref.shape
            assert np.abs(got - ref).max() <= bound(a, b, a.shape[-1], dtype)
        for ta, tb in itertools.product((False, True), repeat=2):
            a = base_a[1, 3:50, 5:40]
            b = base_b[1, 2:37, 1:60]
            a_op = a if not ta else a.T
            b_op = b if not tb else b.T
            got = ops.matmul(a_op, b_op, trans_a=ta, trans_b=tb)
            ref = a.astype(np.float64) @ b.astype(np.float64)
            assert np.abs(got - ref).max() <= bound(a, b, a.shape[1], dtype)


@pytest.mark.parametrize("isa", ISAS)
def test_batched(env, isa):
    env(isa, 2)
    rng = np.random.default_rng(8)  # (batches of small products run one per thread)
    for dtype in DTYPES:
        for batch, m, n, k in [(3, 5, 7, 9), (17, 16, 16, 16), (64, 8, 8, 8), (2, 70, 33, 65)]:
            for ta, tb in itertools.product((False, True), repeat=2):
                check_matmul(rng, m, n, k, dtype, ta, tb, alpha=1.5, beta=-0.5, batch=batch)


def test_out_aliasing_input_is_handled():
    rng = np.random.default_rng(9)
    a = rand(rng, (16, 16), np.float64)
    b = rand(rng, (16, 16), np.float64)
    ref = a @ b
    got = ops.matmul(a, b, out=a)  # out is a: a is copied before C is written
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)


BIT_SHAPES = [(64, 64, 4096, False, False), (300, 300, 300, False, False), (129, 77, 520, True, True),
              (13, 70, 33, True, False), (47, 5, 61, False, True),
              (16, 256, 2048, False, True), (64, 512, 784, False, False), (1000, 33, 40, True, False),
              (300, 200, 24, True, False)]


@pytest.mark.parametrize("isa", ISAS)
def test_bit_identical_threads(env, isa):
    rng = np.random.default_rng(10)
    for dtype in DTYPES:
        for m, n, k, ta, tb in BIT_SHAPES:
            for flags in (0, ALL_THREADS, ALL_THREADS | TINY | KSPLIT, ALL_THREADS | DIRECT_A | DIRECT_B,
                          ALL_THREADS | TINY, ALL_THREADS | TINY | PACK_A | PACK_B):
                a = rand(rng, (k, m) if ta else (m, k), dtype)
                b = rand(rng, (n, k) if tb else (k, n), dtype)
                w = rand(rng, (n, k), dtype)
                bias = rand(rng, (n,), dtype)
                c0 = rand(rng, (m, n), dtype)
                res = []
                for nt in (1, 2):
                    env(isa, nt, flags)
                    res.append((ops.matmul(a, b, out=c0.copy(), trans_a=ta, trans_b=tb, alpha=0.7, beta=0.3),
                                ops.linear(a if not ta else a.T, w, bias, activation="gelu")))
                for x, y in zip(res[0], res[1]):
                    assert np.array_equal(x, y), (isa, dtype, m, n, k, flags)
                assert np.abs(res[0][0] - reference(a, b, ta, tb, 0.7, 0.3, c0)).max() <= \
                    bound(a, b, k, dtype, 0.7, 0.3, c0)


@pytest.mark.parametrize("isa", ISAS)
def test_transposed_output_is_bit_identical(env, isa):
    """A B^T run as C^T = B A^T (as x W^T with a batch of whole micro-panels
    is) gives the bits of the product as posed: matmul with alpha and beta,
    and linear with a bias and an activation, over several k blocks, at 1
    and 2 threads, on each driver path."""
    rng = np.random.default_rng(12)
    for dtype in DTYPES:
        for m, n, k in ((32, 200, 50), (64, 130, 1100), (16, 300, 900), (5, 40, 17), (33, 70, 3)):
            x, w, c0 = rand(rng, (m, k), dtype), rand(rng, (n, k), dtype), rand(rng, (m, n), dtype)
            bias = rand(rng, (n,), dtype)
            res = {}
            for path in (0, TINY, PACK_A | PACK_B, DIRECT_A | DIRECT_B):  # TINY cuts k otherwise: compare like with like
                for trans in (NO_TRANS_C, TRANS_C):
                    for nt in (1, 2):
                        env(isa, nt, path | trans | ALL_THREADS)
                        res[path, trans, nt] = (
                            ops.matmul(x, w, out=c0.copy(), trans_b=True, alpha=0.7, beta=0.3),
                            ops.linear(x, w, bias, activation="relu"), ops.linear(x, w, bias))
                want = res[path, NO_TRANS_C, 1]
                for key in ((path, NO_TRANS_C, 2), (path, TRANS_C, 1), (path, TRANS_C, 2)):
                    for g, r in zip(res[key], want):
                        assert g.tobytes() == r.tobytes(), (isa, dtype, m, n, k, key)
            want = res[0, NO_TRANS_C, 1]
            assert np.abs(want[0] - reference(x, w, False, True, 0.7, 0.3, c0)).max() <= \
                bound(x, w, k, dtype, 0.7, 0.3, c0)
            env(isa, 2, 0)  # the shape's own choice
            assert ops.matmul(x, w, out=c0.copy(), trans_b=True, alpha=0.7, beta=0.3).tobytes() == want[0].tobytes()


@pytest.mark.parametrize("isa", ISAS)
def test_few_columns_transposed_a(env, isa):
    """A^T B with few columns (n <= 12) takes the column-oriented kernel
    (gemm_ukr_cm): every row-tile edge, strided and transposed operands,
    alpha/beta; bit-identical at 1 and 2 threads and to the blocked path
    (forced by PACK_A) when k fits one k block."""
    def cases(row):  # lda = m + pad; B transposed in every third case
        return [(m, n, k, m + (3 if i % 2 else 0), i % 3 == 2)
                for i, (m, n, k) in enumerate([(1, 1, 1), (5, 3, 7), (16, 12, 33), (17, 10, 128), (31, 7, 64),
                                               (32, 10, 300), (33, 12, 5), (70, 1, 90), (100, 6, 257),
                                               (512, 10, 128)])]
    _check_transposed_a(env, isa, 0, cases, 11, PACK_A)


@pytest.mark.parametrize("isa", ISAS)
def test_transposed_a_with_4k_row_stride(env, isa):
    """A^T B with few columns, a long k and A's k steps a multiple of 4 KB
    apart is packed, where such an A would otherwise be read in place:
    every row-tile edge, alpha/beta; the same bits as the in-place path
    (forced by DIRECT_A) at 1 and 2 threads."""
    def cases(row):  # A^T stored (k, m), rows 4 or 8 KB apart
        return [(m, n, k, row * (2 if m > row else 1), False)
                for m, n, k in [(row, 64, 256), (row - 5, 40, 300), (100, 17, 1024), (row + 3, 64, 2048)]]
    _check_transposed_a(env, isa, 4096, cases, 12, DIRECT_A)


def _check_transposed_a(env, isa, row_bytes, cases, seed, other_path):
    """A^T B for each (m, n, k, stride, trans_b) of cases(row), row =
    row_bytes in elements, A^T stored (k, stride)[:, :m]: the same bits at
    1 and 2 threads and on the path other_path forces, within the
    reference's bound; alpha/beta in every other case."""
    rng = np.random.default_rng(seed)
    for dtype in DTYPES:
        for i, (m, n, k, stride, tb) in enumerate(cases(row_bytes // np.dtype(dtype).itemsize)):
            a = rand(rng, (k, stride), dtype)[:, :m]
            b = rand(rng, (n, k) if tb else (k, n), dtype)
            c0 = rand(rng, (m, n), dtype)
            alpha, beta = (0.7, 0.3) if i % 2 else (1.0, 0.0)
            res = []
            for nt, flags in ((1, 0), (2, ALL_THREADS), (1, other_path)):
                env(isa, nt, flags)
                res.append(ops.matmul(a, b, out=c0.copy(), trans_a=True, trans_b=tb, alpha=alpha, beta=beta))
            assert np.array_equal(res[0], res[1]), (isa, dtype, m, n, k)
            assert np.array_equal(res[0], res[2]), (isa, dtype, m, n, k)
            err = np.abs(res[0] - reference(a, b, True, tb, alpha, beta, c0)).max()
            assert err <= bound(a, b, k, dtype, alpha, beta, c0), (isa, dtype, m, n, k, err)


@pytest.mark.parametrize("isa", ISAS)
def test_transposed_a_with_2k_row_stride(env, isa):
    """A^T B read by one or two column panels, k >= 512 and A's k steps 2 KB
    or more apart (not a multiple of 4 KB) is packed on AVX-512, read in
    place elsewhere: row-tile edges, a last column panel of 1 to NR columns,
    alpha/beta; the same bits as the in-place path (forced by DIRECT_A) at
    1 and 2 threads, and within the float64 reference's bound."""
    def cases(row):  # A^T stored (k, m), rows 2 KB or more apart, not a multiple of 4 KB
        return [(row + 16, 64, 512, row + 16, False), (row - 7, 33, 600, row + 40, False),
                (2 * row + 5, 48, 1030, 2 * row + 24, False), (300, 20, 700, 3 * row - 8, False)]
    _check_transposed_a(env, isa, 2048, cases, 13, DIRECT_A)


@pytest.mark.parametrize("isa", ISAS)
def test_few_columns_row_major_a(env, isa):
    """A B and A B^T with few columns (n <= 12), A's rows contiguous and
    k >= 32 take the row-oriented kernel (gemm_ukr_dot): every row and
    column tile edge, k tails, strided operands, alpha/beta, and linear's
    bias and activation in its epilogue; bit-identical at 1 and 2 threads,
    within the bound of the float64 reference."""
    rng = np.random.default_rng(12)
    for dtype in DTYPES:
        eps = np.finfo(dtype).eps
        for i, (m, n, k) in enumerate([(1, 1, 32), (3, 2, 33), (4, 5, 40), (5, 6, 47), (7, 10, 64), (9, 11, 100),
                                       (13, 12, 129), (128, 10, 512), (33, 7, 1000), (70, 3, 2048)]):
            a = rand(rng, (m, k + (3 if i % 2 else 0)), dtype)[:, :k]  # lda = k + pad
            tb = i % 3 != 0
            b = rand(rng, (n, k) if tb else (k, n), dtype)
            if i % 4 == 3:  # B with a column stride of 2 elements
                b = np.repeat(b, 2, axis=1)[:, ::2]
            w = rand(rng, (n, k), dtype)
            bias = rand(rng, (n,), dtype)
            c0 = rand(rng, (m, n), dtype)
            alpha, beta = (0.7, 0.3) if i % 2 else (1.0, 0.0)
            res = []
            for nt, flags in ((1, 0), (2, ALL_THREADS)):
                env(isa, nt, flags)
                res.append((ops.matmul(a, b, out=c0.copy(), trans_b=tb, alpha=alpha, beta=beta),
                            ops.linear(a, w, bias, activation="tanh")))
            for x, y in zip(res[0], res[1]):
                assert np.array_equal(x, y), (isa, dtype, m, n, k)
            err = np.abs(res[0][0] - reference(a, b, False, tb, alpha, beta, c0)).max()
            assert err <= bound(a, b, k, dtype, alpha, beta, c0), (isa, dtype, m, n, k, err)
            ref = np.tanh(a.astype(np.float64) @ w.T.astype(np.float64) + bias)
            tol = bound(a, w, k, dtype) * 1.2 + 4 * eps * np.abs(bias).max() + 8 * eps
            assert np.abs(res[0][1] - ref).max() <= tol, (isa, dtype, m, n, k)


# ---------------------------------------------------------------- linear

def act_ref(name, z):
    from scipy.special import erf, expit
    if name is None:
        return z
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z >= 0, z, 0.01 * z)
    if name == "sigmoid":
        return expit(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "gelu":
        return 0.5 * z * (1 + erf(z / np.sqrt(2)))
    if name == "gelu_tanh":
        return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))
    raise AssertionError(name)


ACTS = [None, "relu", "gelu", "tanh", "sigmoid", "leaky_relu", "gelu_tanh"]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", THREADS)
def test_linear(env, isa, threads):
    rng = np.random.default_rng(11)
    for i, flags in enumerate((0, TINY, KSPLIT)):
        env(isa, threads, flags | ALL_THREADS)
        for dtype in DTYPES:
            for j, (lead, fin, fout) in enumerate([((13,), 17, 10), ((4, 7), 33, 65), ((64,), 70, 40),
                                                   ((3,), 1100, 20)]):
                x = rand(rng, lead + (fin,), dtype) * 2
                w = rand(rng, (fout, fin), dtype)
                bias = rand(rng, (fout,), dtype) if (i + j) % 2 == 0 else None
                z = x.astype(np.float64) @ w.T.astype(np.float64)
                if bias is not None:
                    z = z + bias
                eps = np.finfo(dtype).eps
                tol = bound(x, w, fin, dtype) * 1.2 + 4 * eps * (1 if bias is None else np.abs(bias).max())
                for act in ACTS:
                    y = ops.linear(x, w, bias, activation=act)
                    assert y.shape == lead + (fout,) and y.dtype == dtype
                    ref = act_ref(act, z)
                    err = np.abs(y - ref)
                    assert (err <= tol + 8 * eps * np.abs(ref)).all(), (act, dtype, err.max(), tol)


def test_linear_out_and_errors():
    rng = np.random.default_rng(12)
    x = rand(rng, (8, 5), np.float32)
    w = rand(rng, (3, 5), np.float32)
    b = rand(rng, (3,), np.float32)
    out = np.empty((8, 3), np.float32)
    assert ops.linear(x, w, b, activation="relu", out=out) is out
    np.testing.assert_allclose(out, np.maximum(x @ w.T + b, 0), atol=1e-6)
    with pytest.raises(ValueError, match="x has shape"):
        ops.linear(x, rand(rng, (3, 6), np.float32))
    with pytest.raises(ValueError, match="bias"):
        ops.linear(x, w, rand(rng, (4,), np.float32))
    with pytest.raises(TypeError):
        ops.linear(x, w.astype(np.float64))
    with pytest.raises(TypeError):
        ops.linear(x, w, b.astype(np.float64))
    with pytest.raises(ValueError, match="activation"):
        ops.linear(x, w, b, activation="swish")
    with pytest.raises(ValueError):
        ops.linear(x, w, out=np.empty((8, 4), np.float32))
    with pytest.raises(ValueError):
        ops.linear(x, w[None])
    with pytest.raises(ValueError):
        ops.linear(x[None, None], w)


# ---------------------------------------------------------------- bad input

def test_matmul_bad_input():
    f32 = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        ops.matmul(f32, np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match="inner"):
        ops.matmul(f32, np.ones((4, 3), np.float32), trans_b=True)
    with pytest.raises(ValueError, match="1-D"):
        ops.matmul(np.ones(4, np.float32), np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="4-D"):
        ops.matmul(np.ones((1, 1, 3, 4), np.float32), np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="int64"):
        ops.matmul(np.ones((3, 4), np.int64), np.ones((4, 2), np.int64))
    with pytest.raises(TypeError, match="float16"):
        ops.matmul(f32.astype(np.float16), np.ones((4, 2), np.float16))
    with pytest.raises(TypeError, match="float32.*float64"):
        ops.matmul(f32, np.ones((4, 2), np.float64))
    with pytest.raises(TypeError):
        ops.matmul([[1.0]], [[1.0]])
    with pytest.raises(ValueError, match="broadcast"):
        ops.matmul(np.ones((2, 3, 4), np.float32), np.ones((3, 4, 2), np.float32))
    b = np.ones((4, 2), np.float32)
    for bad_out in (np.empty((3, 3), np.float32), np.empty((3, 2), np.float64), np.empty((2, 3), np.float32).T,
                    np.empty((1, 3, 2), np.float32)):
        with pytest.raises(ValueError, match="out"):
            ops.matmul(f32, b, out=bad_out)
    ro = np.empty((3, 2), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.matmul(f32, b, out=ro)
    with pytest.raises(TypeError):
        ops.matmul(f32, b, out=[[0.0]])
    with pytest.raises(ValueError, match="beta"):
        ops.matmul(f32, b, beta=1.0)
    with pytest.raises(TypeError, match="alpha"):
        ops.matmul(f32, b, alpha="2")


def test_c_api_error_codes():
    EINVAL, EOVERFLOW = -1, -4
    buf = np.zeros(64, np.float32)
    d = np.zeros(64, np.float64)
    ok = _C.gemm_raw("N", "N", 2, 3, 4, 1.0, buf, 4, buf.copy(), 3, 0.0, buf.copy(), 3)
    assert ok == 0
    assert _C.gemm_raw("N", "N", 2, 3, 4, 1.0, d, 4, d.copy(), 3, 0.0, d.copy(), 3) == 0
    c = np.full(64, 7.0, np.float32)
    cases = [
        dict(transa="X"), dict(transb="?"), dict(m=-1), dict(n=-2), dict(k=-3),
        dict(lda=3),            # lda < k for 'N'
        dict(transa="T", lda=1),  # lda < m for 'T'
        dict(ldb=2), dict(transb="T", ldb=3), dict(ldc=2), dict(ldc=0),
        dict(a=None), dict(b=None), dict(c=None),
    ]
    for case in cases:
        args = dict(transa="N", transb="N", m=2, n=3, k=4, alpha=1.0, a=buf, lda=4, b=buf, ldb=3, beta=0.0, c=c, ldc=3)
        args.update(case)
        rc = _C.gemm_raw(args["transa"], args["transb"], args["m"], args["n"], args["k"], args["alpha"], args["a"],
                         args["lda"], args["b"], args["ldb"], args["beta"], args["c"], args["ldc"])
        assert rc == EINVAL, case
        assert (c == 7.0).all(), case  # nothing written
    # null pointers are fine for empty matrices
    assert _C.gemm_raw("N", "N", 0, 3, 4, 1.0, None, 4, buf, 3, 0.0, None, 3) == 0
    assert _C.gemm_raw("N", "N", 2, 3, 0, 1.0, None, 1, None, 3, 0.0, c, 3) == 0
    assert (c[:6] == 0).all()
    # extents that overflow int64
    big = 1 << 62
    assert _C.gemm_raw("N", "N", 4, 2, 2, 1.0, buf, big, buf, 2, 0.0, c, 2) == EOVERFLOW
    assert _C.gemm_raw("N", "N", 2, 2, 2, 1.0, buf, 2, buf, 2, 0.0, c, big) == EOVERFLOW


def test_gemm_info_and_peak(env):
    rounds = {}
    for isa in ISAS:
        env(isa=isa)
        for dt in DTYPES:
            mr, nr = _C.gemm_info(dt)
            assert mr >= 1 and nr >= 1
            assert _C.gemm_fma_peak(dt, 1, 0.02) > 0
            # the meter runs the ISA in use, over its GEMM tile's registers
            # (a count, not a time: a test never asserts a speed)
            assert _C.gemm_fma_peak_round(dt) == 2 * mr * nr, (isa, dt)
            rounds[isa, np.dtype(dt).name] = 2 * mr * nr
        # the meter is a benchmark helper, not a kernel of the ISA's table
        assert not any("peak" in name for name in fastnn.config()["kernels"])
    assert any(name.startswith("fnn_f32_gemm_ukr__") for name in fastnn.config()["kernels"])
    # a vector ISA's tile holds several lanes per register
    for isa in ISAS[1:]:
        assert rounds[isa, "float32"] > rounds["generic", "float32"], rounds
    with pytest.raises(ValueError, match="float16"):
        _C.gemm_fma_peak_round(np.float16)


# ---------------------------------------------------------------- property test

_EXAMPLES = 40 if os.environ.get("CI") else 150


@settings(max_examples=_EXAMPLES, deadline=None)
@given(m=st.integers(1, 70), n=st.integers(1, 70), k=st.integers(0, 70), ta=st.booleans(), tb=st.booleans(),
       dt=st.sampled_from(DTYPES), alpha=st.sampled_from([1.0, -2.0, 0.5]), beta=st.sampled_from([0.0, 1.0, -0.25]),
       isa=st.sampled_from(ISAS), threads=st.sampled_from(THREADS), path=st.sampled_from(PATHS))
def test_matmul_property(m, n, k, ta, tb, dt, alpha, beta, isa, threads, path):
    isa0, nt0 = fastnn.get_isa(), fastnn.get_num_threads()
    try:
        fastnn.set_isa(isa)
        fastnn.set_num_threads(threads)
        _C._gemm_test_flags(path)
        check_matmul(np.random.default_rng(m * 10007 + n * 101 + k), m, n, k, dt, ta, tb, alpha, beta)
    finally:
        _C._gemm_test_flags(0)
        fastnn.set_isa(isa0)
        fastnn.set_num_threads(nt0)


@pytest.mark.parametrize("isa", ISAS)
def test_product_by_a_derivative_in_the_epilogue(env, isa):
    """matmul_mul (fnn_gemm_mul_*): (a @ b) * d with the product by d in the
    epilogue is the product of the plain GEMM and d, bit for bit, on every
    driver path (several k blocks, the K split, the transposed store, the
    few-column kernels, edge tiles) at 1 and 2 threads."""
    rng = np.random.default_rng(21)
    for dtype in DTYPES:
        for m, n, k, tb in ((70, 200, 50, False), (64, 130, 1100, False), (32, 300, 90, True), (5, 40, 17, False),
                            (300, 10, 40, False), (100, 100, 1500, False), (33, 70, 3, True), (1, 1, 1, False)):
            a, b = rand(rng, (m, k), dtype), rand(rng, (n, k) if tb else (k, n), dtype)
            d = rand(rng, (m, n), dtype)
            d.flat[::7] = 0.0
            for path in (0,) + PATHS:
                for nt in (1, 2):
                    env(isa, nt, path)
                    want = _C.mul(_C.matmul(a, b, trans_b=tb), d)
                    out = np.full((m, n), np.nan, dtype)
                    got = _C.matmul_mul(a, b, d, out, tb)
                    assert got is out and got.tobytes() == want.tobytes(), (isa, dtype, m, n, k, tb, path, nt)


def test_product_by_a_derivative_checks():
    a, b, d = np.ones((4, 3), np.float32), np.ones((3, 5), np.float32), np.ones((4, 5), np.float32)
    assert _C.matmul_mul(a, b, d).shape == (4, 5)
    assert _C.matmul_mul(np.ones((0, 3), np.float32), b, np.ones((0, 5), np.float32)).shape == (0, 5)
    with pytest.raises(ValueError, match="do not match"):
        _C.matmul_mul(a, b, np.ones((4, 4), np.float32))
    with pytest.raises(TypeError, match="dtype mismatch"):
        _C.matmul_mul(a, b, d.astype(np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.matmul_mul(a, np.ones((5, 3), np.float32).T, d)
    with pytest.raises(ValueError, match="overlaps"):
        _C.matmul_mul(a, b, d, d)
    with pytest.raises(TypeError, match="unsupported dtype"):
        _C.matmul_mul(a.astype(np.int64), b, d)
