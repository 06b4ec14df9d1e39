"""MultiheadAttention, TransformerEncoderLayer (pre-norm) and positional
embeddings.  Attention runs in fastnn's blocked online-softmax kernel
(ops.scaled_dot_product_attention): no (seq x seq) array is formed; the
forward keeps each score row's log-sum-exp and the backward recomputes the
probabilities block by block.  Projections run through the GEMM."""
import math

import numpy as np

from .._random import generator
from ..autograd import Tensor
from . import functional as F
from .activation import GELU, Dropout
from .linear import Linear
from .module import Module, Parameter
from .normalization import LayerNorm


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

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

    def _input(self, x, what, dtype):
        self._check_input(x, dtype=dtype)
        if x.ndim != 3:
            raise self._error(f"{what} must be 3-D (batch, seq, embed_dim), got shape {x.shape}")
        if x.shape[2] != self.embed_dim:
            raise self._error(f"{what} has embedding size {x.shape[2]} (shape {x.shape}), expected {self.embed_dim}")
        return x

    def forward(self, query, key=None, value=None, *, causal=False):
        """Self-attention when key and value are None or are query itself
        (mha(x, x, x)): one (3E, E) projection; else cross-attention."""
        dtype = self.in_proj_weight.data.dtype
        e, h = self.embed_dim, self.num_heads
        q_in = self._input(query, "query", dtype)
        w, b = self.in_proj_weight, self.in_proj_bias
        if (key is None or key is query) and (value is None or value is query):
            qkv = F.linear(q_in, w, b)
            q, k, v = F.split_heads(qkv, h, 3)
        else:
            k_in = self._input(key if key is not None else query, "key", dtype)
            v_in = self._input(value if value is not None else k_in, "value", dtype)
            if k_in.shape[:2] != v_in.shape[:2] or k_in.shape[0] != q_in.shape[0]:
                raise self._error(f"query {q_in.shape}, key {k_in.shape} and value {v_in.shape} do not agree in "
                                  f"batch size and key length")
            q, k, v = (F.split_heads(F.linear(x_in, w[i * e:(i + 1) * e], None if b is None else b[i * e:(i + 1) * e]),
                                     h) for i, x_in in enumerate((q_in, k_in, v_in)))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out_proj(F.merge_heads(o))


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

    def extra_repr(self):
        return f"d_model={self.d_model}, causal={self.causal}"

    def forward(self, src, *, causal=None):
        causal = self.causal if causal is None else bool(causal)
        x = self._check_input(src, dtype=self.norm1.weight.data.dtype)
        if x.ndim != 3:
            raise self._error(f"expected a 3-D input (batch, seq, d_model), got shape {x.shape}")
        x = x + self.dropout1(self.self_attn(self.norm1(x), causal=causal))
        f = self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(self.norm2(x))))))
        return x + f


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

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}"

    def forward(self, x):
        x = self._check_input(x, ndims=(3,))
        if x.shape[2] != self.d_model or x.shape[1] > self.max_len:
            raise self._error(f"expected (batch, seq <= {self.max_len}, {self.d_model}), got shape {x.shape}")
        xt = x if isinstance(x, Tensor) else Tensor(x)
        return xt + self._pe[: x.shape[1]].astype(xt.dtype)


class LearnedPositionalEmbedding(Module):
    """x + weight[:seq] with a trained weight (max_len, d_model) ~ N(0, 0.02^2)."""

    def __init__(self, max_len, d_model, dtype=np.float32):
        super().__init__()
        self.max_len, self.d_model = int(max_len), int(d_model)
        self.weight = Parameter((generator().standard_normal((self.max_len, self.d_model)) * 0.02).astype(dtype))

    def extra_repr(self):
        return f"{self.max_len}, {self.d_model}"

    def forward(self, x):
        x = self._check_input(x, ndims=(3,), dtype=self.weight.data.dtype)
        if x.shape[2] != self.d_model or x.shape[1] > self.max_len:
            raise self._error(f"expected (batch, seq <= {self.max_len}, {self.d_model}), got shape {x.shape}")
        xt = x if isinstance(x, Tensor) else Tensor(x)
        return xt + self.weight[: x.shape[1]]
