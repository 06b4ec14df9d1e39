"""Attention at sequence length 4096, head dim 64, forward and backward,
with and without masks, never forms a (seq x seq) array.  Bound asserted:
the peak resident memory grows by less than 1/4 of one float32 4096 x 4096
matrix (64 MiB), i.e. < 16 MiB, while q, k, v, out and the three gradients
take 7 MiB; NumPy-side allocations (tracemalloc) peak below 8 MiB without
masks (below 16 MiB with MultiheadAttention's projections around them).
Measured in a fresh process so the peak RSS belongs to this computation
only."""
import os
import subprocess
import sys
import textwrap

import numpy as np

from fastnn import ops

SCRIPT = textwrap.dedent("""
    import resource, tracemalloc, numpy as np
    from fastnn import ops
    s, d = 4096, 64
    rng = np.random.default_rng(0)
    q, k, v, g = (rng.standard_normal((1, 1, s, d), dtype=np.float32) for _ in range(4))
    # warm up: code pages, thread pool, allocator arenas
    ops.scaled_dot_product_attention_backward(g[:, :, :256], q[:, :, :256], k[:, :, :256], v[:, :, :256])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    for causal in (False, True):
        o, lse = ops.attention_forward_lse(q, k, v, causal=causal)
        dq, dk, dv = ops.attention_backward_lse(g, q, k, v, o, lse, causal=causal)
        del o, lse, dq, dk, dv
    peak_np = tracemalloc.get_traced_memory()[1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((peak - base) * 1024, peak_np)
""")


def _measure(script):
    """(peak RSS growth, NumPy-side peak) in bytes, from a fresh process."""
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(src)] + env.get("PYTHONPATH", "").split(os.pathsep))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return tuple(int(v) for v in r.stdout.split())


def test_attention_4096_memory_is_linear_in_sequence_length():
    rss_growth, np_peak = _measure(SCRIPT)
    square = 4096 * 4096 * 4
    assert rss_growth < square // 4, f"peak RSS grew by {rss_growth / 2**20:.1f} MiB"
    assert np_peak < 8 * 2**20, f"NumPy-side peak {np_peak / 2**20:.1f} MiB"


MASKED_SCRIPT = textwrap.dedent("""
    import resource, tracemalloc, numpy as np
    import fastnn
    from fastnn import nn
    s, e = 4096, 64
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, s, e), dtype=np.float32)
    g = rng.standard_normal((1, s, e), dtype=np.float32)
    mask = rng.standard_normal((s, s), dtype=np.float32)  # the caller's float attn_mask: S x S itself
    pad = np.zeros((1, s), bool)
    pad[0, s - 100:] = True
    mha = nn.MultiheadAttention(e, 1, batch_first=True)
    # warm up: code pages, thread pool, allocator arenas
    xs = fastnn.tensor(x[:, :256], requires_grad=True)
    mha(xs, xs, xs, need_weights=False, attn_mask=mask[:256, :256], key_padding_mask=pad[:, :256])[0].backward(
        g[:, :256])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    xt = fastnn.tensor(x, requires_grad=True)
    y, w = mha(xt, xt, xt, need_weights=False, attn_mask=mask, key_padding_mask=pad)
    y.backward(g)
    assert w is None and np.isfinite(xt.grad).all()
    del y, xt
    peak_np = tracemalloc.get_traced_memory()[1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((peak - base) * 1024, peak_np)
""")


def test_masked_multihead_attention_4096_forms_no_square_array():
    """MultiheadAttention with a float attn_mask (S x S, the caller's) and a
    key padding mask, need_weights=False, forward and backward: the masks
    are read tile by tile, so nothing else of size S x S is allocated (the
    bound is a quarter of one float32 S x S array, as above)."""
    rss_growth, np_peak = _measure(MASKED_SCRIPT)
    square = 4096 * 4096 * 4
    assert rss_growth < square // 4, f"peak RSS grew by {rss_growth / 2**20:.1f} MiB"
    assert np_peak < square // 4, f"NumPy-side peak {np_peak / 2**20:.1f} MiB"


def test_attention_4096_still_correct_on_a_slice():
    """The long-sequence path gives the same rows as a dense reference (a few
    query rows checked against all 4096 keys)."""
    s, d = 4096, 64
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((1, 1, s, d), dtype=np.float32) for _ in range(3))
    o = ops.scaled_dot_product_attention(q, k, v, causal=True)
    rows = np.array([0, 1, 63, 64, 2047, 4095])
    sc = (q[0, 0, rows].astype(np.float64) @ k[0, 0].T.astype(np.float64)) / 8.0
    sc = np.where(np.arange(s)[None, :] > rows[:, None], -np.inf, sc)
    p = np.exp(sc - sc.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(o[0, 0, rows], p @ v[0, 0].astype(np.float64), rtol=2e-4, atol=2e-5)
