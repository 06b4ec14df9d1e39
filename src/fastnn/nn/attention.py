"""MultiheadAttention, TransformerEncoderLayer (pre-norm) and positional
embeddings.  Attention runs in fastnn's blocked online-softmax kernel
(ops.scaled_dot_product_attention): no (seq x seq) array is formed; the
forward keeps each score row's log-sum-exp and the backward recomputes the
probabilities block by block.  Projections run through the GEMM."""
import math

import numpy as np

from .. import _C, ops
from .._random import generator
from .activation import GELU, Dropout
from .linear import Linear
from .module import Module, Parameter
from .normalization import LayerNorm


def _mm_acc(a2, b2, out, trans_a=False, trans_b=False):
    """out += op(a2) @ op(b2) through the GEMM."""
    ops.matmul(a2, b2, out=out, trans_a=trans_a, trans_b=trans_b, beta=1.0)


class MultiheadAttention(Module):
    """PyTorch's MultiheadAttention (batch_first=True): in_proj_weight (3E, E),
    in_proj_bias (3E), out_proj.weight, out_proj.bias.  forward(query,
    key=None, value=None, *, causal=False) -> output (N, L, E); key and value
    default to query (self-attention).  backward(grad) returns grad_query for
    self-attention, else (grad_query, grad_key, grad_value)."""

    def __init__(self, embed_dim, num_heads, bias=True, batch_first=True, dropout=0.0, dtype=np.float32):
        super().__init__()
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        if self.embed_dim <= 0 or self.num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got "
                             f"({embed_dim}, {num_heads})")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if not batch_first:
            raise NotImplementedError("MultiheadAttention: only batch_first=True is supported")
        if dropout:
            raise NotImplementedError("MultiheadAttention: attention dropout is not supported")
        self.head_dim = self.embed_dim // self.num_heads
        self.batch_first = True
        e = self.embed_dim
        a = math.sqrt(6.0 / (e + 3 * e))  # xavier_uniform_ on (3E, E), as PyTorch
        self.in_proj_weight = Parameter(generator().uniform(-a, a, (3 * e, e)).astype(dtype))
        self.in_proj_bias = Parameter(np.zeros(3 * e, dtype)) if bias else None
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype)
        if bias:
            self.out_proj.bias.data[...] = 0
        self._saved = None

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

    def _input(self, x, what, dtype):
        x = self._check_input(x, dtype=dtype)
        if x.ndim != 3:
            raise self._error(f"{what} must be 3-D (batch, seq, embed_dim), got shape {x.shape}")
        if x.shape[2] != self.embed_dim:
            raise self._error(f"{what} has embedding size {x.shape[2]} (shape {x.shape}), expected {self.embed_dim}")
        return x

    def _heads(self, y, key):
        """(N, L, E) -> (N, H, L, D) contiguous."""
        n, l, _ = y.shape
        out = self._buffer(key, (n, self.num_heads, l, self.head_dim), y.dtype)
        np.copyto(out, y.reshape(n, l, self.num_heads, self.head_dim).transpose(0, 2, 1, 3))
        return out

    def forward(self, query, key=None, value=None, *, causal=False):
        dtype = self.in_proj_weight.data.dtype
        self_attn = key is None and value is None
        q_in = self._input(query, "query", dtype)
        e = self.embed_dim
        w, b = self.in_proj_weight.data, self.in_proj_bias.data if self.in_proj_bias is not None else None
        n, lq = q_in.shape[0], q_in.shape[1]
        if self_attn:
            qkv = self._buffer("qkv", (n, lq, 3 * e), dtype)
            ops.linear(q_in.reshape(-1, e), w, b, out=qkv.reshape(-1, 3 * e))
            heads = self._buffer("heads", (3, n, self.num_heads, lq, self.head_dim), dtype)
            np.copyto(heads, qkv.reshape(n, lq, 3, self.num_heads, self.head_dim).transpose(2, 0, 3, 1, 4))
            q, k, v = heads[0], heads[1], heads[2]
            inputs = (q_in,)
        else:
            k_in = self._input(key if key is not None else query, "key", dtype)
            v_in = self._input(value if value is not None else k_in, "value", dtype)
            if k_in.shape[:2] != v_in.shape[:2] or k_in.shape[0] != n:
                raise self._error(f"query {q_in.shape}, key {k_in.shape} and value {v_in.shape} do not agree in "
                                  f"batch size and key length")
            parts = []
            for i, (x_in, nm) in enumerate(((q_in, "q"), (k_in, "k"), (v_in, "v"))):
                y = self._buffer(f"p{nm}", x_in.shape, dtype)
                ops.linear(x_in.reshape(-1, e), w[i * e:(i + 1) * e], None if b is None else b[i * e:(i + 1) * e],
                           out=y.reshape(-1, e))
                parts.append(self._heads(y, f"h{nm}"))
            q, k, v = parts
            inputs = (q_in, k_in, v_in)
        o, lse = ops.attention_forward_lse(q, k, v, causal=causal)
        merged = self._buffer("merged", (n, lq, e), dtype)
        np.copyto(merged, o.transpose(0, 2, 1, 3).reshape(n, lq, e))
        out = self.out_proj(merged)
        self._saved = (self_attn, inputs, q, k, v, o, lse, bool(causal))
        self._out = out
        return out

    def backward(self, grad_out):
        g = self._check_grad(grad_out, self._out if self._saved is not None else None)
        self_attn, inputs, q, k, v, o, lse, causal = self._saved
        e, h, d = self.embed_dim, self.num_heads, self.head_dim
        gm = self.out_proj.backward(g)  # (N, Lq, E)
        n, lq = gm.shape[0], gm.shape[1]
        go = np.ascontiguousarray(gm.reshape(n, lq, h, d).transpose(0, 2, 1, 3))
        dq, dk, dv = ops.attention_backward_lse(go, q, k, v, o, lse, causal=causal)
        w = self.in_proj_weight
        bias = self.in_proj_bias
        if self_attn:
            (x,) = inputs
            dqkv = self._buffer("dqkv", (n, lq, 3 * e), g.dtype)
            dqkv5 = dqkv.reshape(n, lq, 3, h, d)
            for i, dpart in enumerate((dq, dk, dv)):
                dqkv5[:, :, i] = dpart.transpose(0, 2, 1, 3)
            d2 = dqkv.reshape(-1, 3 * e)
            _mm_acc(d2, x.reshape(-1, e), w.grad, trans_a=True)
            if bias is not None:
                bias.grad += d2.sum(0)
            dx = self._buffer("dx", x.shape, g.dtype)
            ops.matmul(d2, w.data, out=dx.reshape(-1, e))
            return dx
        grads = []
        for i, (x, dpart) in enumerate(zip(inputs, (dq, dk, dv))):
            l = x.shape[1]
            d2 = np.ascontiguousarray(dpart.transpose(0, 2, 1, 3)).reshape(-1, e)
            _mm_acc(d2, x.reshape(-1, e), w.grad[i * e:(i + 1) * e], trans_a=True)
            if bias is not None:
                bias.grad[i * e:(i + 1) * e] += d2.sum(0)
            grads.append(ops.matmul(d2, w.data[i * e:(i + 1) * e]).reshape(n, l, e))
        return tuple(grads)


class TransformerEncoderLayer(Module):
    """Pre-norm encoder layer (norm_first=True, batch_first=True):
        x = x + dropout1(self_attn(norm1(x)))
        x = x + dropout2(linear2(dropout(gelu(linear1(norm2(x))))))
    with PyTorch's parameter names.  forward(src, *, causal=None): the causal
    mask of self-attention; None takes the layer's default `causal` (so a
    Sequential of causal layers works)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="gelu", norm_first=True,
                 batch_first=True, layer_norm_eps=1e-5, causal=False, dtype=np.float32):
        super().__init__()
        if activation != "gelu":
            raise NotImplementedError(f"TransformerEncoderLayer: only activation='gelu' is supported, got "
                                      f"{activation!r}")
        if not norm_first or not batch_first:
            raise NotImplementedError("TransformerEncoderLayer: only norm_first=True, batch_first=True")
        self.d_model = int(d_model)
        self.causal = bool(causal)
        self.self_attn = MultiheadAttention(d_model, nhead, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, dtype=dtype)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = GELU()
        self._out = None

    def extra_repr(self):
        return f"d_model={self.d_model}, causal={self.causal}"

    def forward(self, src, *, causal=None):
        causal = self.causal if causal is None else bool(causal)
        x = self._check_input(src, dtype=self.norm1.weight.data.dtype)
        if x.ndim != 3:
            raise self._error(f"expected a 3-D input (batch, seq, d_model), got shape {x.shape}")
        a = self.dropout1(self.self_attn(self.norm1(x), causal=causal))
        x1 = self._buffer("x1", x.shape, x.dtype)
        np.add(x, a, out=x1)
        f = self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(self.norm2(x1))))))
        out = self._buffer("out", x.shape, x.dtype)
        np.add(x1, f, out=out)
        self._out = out
        return out

    def backward(self, grad_out):
        g = self._check_grad(grad_out, self._out)
        gf = self.dropout2.backward(g)
        gf = self.linear1.backward(self.activation.backward(self.dropout.backward(self.linear2.backward(gf))))
        g1 = self._buffer("g1", g.shape, g.dtype)
        np.add(g, self.norm2.backward(gf), out=g1)
        ga = self.norm1.backward(self.self_attn.backward(self.dropout1.backward(g1)))
        dx = self._buffer("dx", g.shape, g.dtype)
        np.add(g1, ga, out=dx)
        return dx


class SinusoidalPositionalEncoding(Module):
    """x + PE[:seq], PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...);
    input (batch, seq, d_model).  No parameters."""

    def __init__(self, d_model, max_len=5000, dtype=np.float32):
        super().__init__()
        self.d_model, self.max_len = int(d_model), int(max_len)
        pos = np.arange(self.max_len, dtype=np.float64)[:, None]
        div = np.exp(np.arange(0, self.d_model, 2, dtype=np.float64) * (-math.log(10000.0) / self.d_model))
        pe = np.zeros((self.max_len, self.d_model))
        pe[:, 0::2] = np.sin(pos * div)
        pe[:, 1::2] = np.cos(pos * div[: self.d_model // 2])
        self._pe = pe
        self._out = None

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}"

    def forward(self, x):
        x = self._check_input(x, ndims=(3,))
        if x.shape[2] != self.d_model or x.shape[1] > self.max_len:
            raise self._error(f"expected (batch, seq <= {self.max_len}, {self.d_model}), got shape {x.shape}")
        y = self._buffer("y", x.shape, x.dtype)
        np.add(x, self._pe[: x.shape[1]].astype(x.dtype), out=y)
        self._out = y
        return y

    def backward(self, grad_out):
        return self._check_grad(grad_out, self._out)


class LearnedPositionalEmbedding(Module):
    """x + weight[:seq] with a trained weight (max_len, d_model) ~ N(0, 0.02^2)."""

    def __init__(self, max_len, d_model, dtype=np.float32):
        super().__init__()
        self.max_len, self.d_model = int(max_len), int(d_model)
        self.weight = Parameter((generator().standard_normal((self.max_len, self.d_model)) * 0.02).astype(dtype))
        self._out = None

    def extra_repr(self):
        return f"{self.max_len}, {self.d_model}"

    def forward(self, x):
        x = self._check_input(x, ndims=(3,), dtype=self.weight.data.dtype)
        if x.shape[2] != self.d_model or x.shape[1] > self.max_len:
            raise self._error(f"expected (batch, seq <= {self.max_len}, {self.d_model}), got shape {x.shape}")
        y = self._buffer("y", x.shape, x.dtype)
        np.add(x, self.weight.data[: x.shape[1]], out=y)
        self._out = y
        return y

    def backward(self, grad_out):
        g = self._check_grad(grad_out, self._out)
        self.weight.grad[: g.shape[1]] += g.sum(0)
        return g
