"""MultiheadAttention, the Transformer encoder and decoder layers and stacks
(torch's names, shapes and defaults) and positional embeddings.  Attention
runs in fastnn's blocked online-softmax kernel (F.fused_attention) when no
attention weights are asked for: no (seq x seq) array is formed, masks are
read tile by tile, the forward keeps each score row's log-sum-exp and the
backward recomputes the probabilities block by block.  Attention weights and
attention dropout need the probabilities, so they take the explicit path
(F.explicit_attention), as torch does.  Projections run through the GEMM."""
import copy
import math

import numpy as np

from .. import ops
from .._random import generator
from ..autograd import Tensor, wrap
from . import functional as F
from .activation import Dropout
from .containers import ModuleList
from .linear import Linear
from .module import Module, Parameter
from .normalization import LayerNorm


def _xavier(rows, cols, dtype):
    a = math.sqrt(6.0 / (rows + cols))  # xavier_uniform_, as torch
    return Parameter(generator().uniform(-a, a, (rows, cols)).astype(dtype))


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention: in_proj_weight (3E, E) (or q_proj_weight,
    k_proj_weight (E, kdim), v_proj_weight (E, vdim) when kdim or vdim
    differ from E), in_proj_bias (3E), out_proj.weight, out_proj.bias.

    forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) ->
    (output, weights or None), inputs (L, N, E) or (N, L, E) with
    batch_first, or unbatched (L, E).  attn_mask (L, S) or (N*num_heads, L,
    S), key_padding_mask (N, S): boolean (True = hidden) or additive float.
    need_weights=False (with no attention dropout in training) runs the fused
    kernel; weights are (N, L, S) averaged over heads or (N, num_heads, L, S).
    is_causal hides key j from query i > j; unlike torch it needs no attn_mask
    (with one, both apply).  mha(x, x, x) projects once with (3E, E); fastnn
    also takes mha(x) for it.  A query whose keys are all hidden gets a zero
    attention row (then out_proj) with need_weights=False and NaN with
    need_weights=True, as in torch."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=np.float32):
        super().__init__()
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        if self.embed_dim <= 0 or self.num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got "
                             f"({embed_dim}, {num_heads})")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        if device not in (None, "cpu"):
            raise NotImplementedError(f"MultiheadAttention: device {device!r}; fastnn runs on the CPU")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        e = self.embed_dim
        self.kdim = e if kdim is None else int(kdim)
        self.vdim = e if vdim is None else int(vdim)
        self._qkv_same_embed_dim = self.kdim == e and self.vdim == e
        self.head_dim = e // self.num_heads
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _xavier(3 * e, e, dtype)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            self.q_proj_weight = _xavier(e, e, dtype)
            self.k_proj_weight = _xavier(e, self.kdim, dtype)
            self.v_proj_weight = _xavier(e, self.vdim, dtype)
        self.in_proj_bias = Parameter(np.zeros(3 * e, dtype)) if bias else None
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype)
        if bias:
            self.out_proj.bias.data[...] = 0

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"

    def _input(self, x, what, dim, dtype, ndim):
        self._check_input(x, dtype=dtype)
        a = x.data if isinstance(x, Tensor) else x
        if a.ndim != ndim:
            raise self._error(f"{what} must be {ndim}-D like query, got shape {a.shape}")
        if a.shape[-1] != dim:
            raise self._error(f"{what} has embedding size {a.shape[-1]} (shape {a.shape}), expected {dim}")
        t = x if isinstance(x, Tensor) else wrap(a)
        if ndim == 2:
            return t.reshape(1, *a.shape)
        return t if self.batch_first else t.transpose(1, 0, 2)

    def _proj(self, i, x):
        e = self.embed_dim
        b = None if self.in_proj_bias is None else self.in_proj_bias[i * e:(i + 1) * e]
        w = (self.in_proj_weight[i * e:(i + 1) * e] if self._qkv_same_embed_dim else
             (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[i])
        return F.linear(x, w, b)

    def forward(self, query, key=None, value=None, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        name = type(self).__name__
        key = query if key is None else key
        value = key if value is None else value
        dtype = self.out_proj.weight.data.dtype
        qa = self._check_input(query, dtype=dtype)
        qa = qa.data if isinstance(qa, Tensor) else qa
        if qa.ndim not in (2, 3):
            raise self._error(f"query must be 2-D (seq, embed_dim) or 3-D (batch, seq, embed_dim) or "
                              f"(seq, batch, embed_dim), got shape {qa.shape}")
        batched = qa.ndim == 3
        same = key is query and value is query
        q_in = self._input(query, "query", self.embed_dim, dtype, qa.ndim)
        h = self.num_heads
        # the projections' rows: one packed (N, L, 3 E) for self-attention
        if same and self._qkv_same_embed_dim:
            q = F.linear(q_in, self.in_proj_weight, self.in_proj_bias)
            k = v = None
            l = s = q.shape[1]
        else:
            k_in = self._input(key, "key", self.kdim, dtype, qa.ndim)
            v_in = self._input(value, "value", self.vdim, dtype, qa.ndim)
            if k_in.shape[:2] != v_in.shape[:2] or k_in.shape[0] != q_in.shape[0]:
                raise self._error(f"query {tuple(qa.shape)}, key {_shape(key)} and value {_shape(value)} do not "
                                  f"agree in batch size and key length")
            q, k, v = self._proj(0, q_in), self._proj(1, k_in), self._proj(2, v_in)
            l, s = q.shape[1], k.shape[1]
        kpm = F._mask_array(key_padding_mask, name, "key_padding_mask")
        if kpm is not None and not batched:
            kpm = np.asarray(kpm)[None] if np.ndim(kpm) == 1 else kpm
        mask, key_mask = ops.attention_masks(F._mask_array(attn_mask, name, "attn_mask"), kpm,
                                             (q.shape[0], h, l, self.head_dim), s, dtype, name, hide=True)
        drop = self.dropout if self.training else 0.0
        if need_weights or drop:
            q, k, v = F.split_heads(q, h, 3) if k is None else (F.split_heads(x, h) for x in (q, k, v))
            o, p = F.explicit_attention(q, k, v, mask, key_mask, is_causal, None, drop, name)
            o = F.merge_heads(o)
        else:
            o, p = F.heads_attention(q, k, v, h, mask, key_mask, is_causal, name), None
        out = self.out_proj(o)
        if not batched:
            out = out.reshape(l, self.embed_dim)
        elif not self.batch_first:
            out = out.transpose(1, 0, 2)
        if not need_weights:
            return out, None
        w = p.mean(axis=1) if average_attn_weights else p
        return out, (w if batched else w.reshape(*w.shape[1:]))


def _shape(x):
    return tuple((x.data if isinstance(x, Tensor) else np.asarray(x)).shape)


_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation, name):
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{name}: activation should be 'relu' or 'gelu' (or a callable), got {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"{name}: activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: the feed-forward block, the
    norms and dropouts (torch's names), the activation and the input check."""

    def _build(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
               bias, device, dtype, norms):
        self.d_model = int(d_model)
        self.norm_first, self.batch_first = bool(norm_first), bool(batch_first)
        kw = dict(dropout=dropout, bias=bias, batch_first=batch_first, device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, **kw)
        if norms == 3:
            self.multihead_attn = MultiheadAttention(d_model, nhead, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        for i in range(1, norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        for i in range(1, norms + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation, type(self).__name__)

    def extra_repr(self):
        return f"d_model={self.d_model}, norm_first={self.norm_first}, batch_first={self.batch_first}"

    def _check(self, x, what):
        a = self._check_input(x, dtype=self.linear1.weight.data.dtype)
        a = a.data if isinstance(a, Tensor) else a
        if a.ndim not in (2, 3) or a.shape[-1] != self.d_model:
            raise self._error(f"{what} must be 2-D (seq, d_model) or 3-D (batch, seq, d_model) / (seq, batch, "
                              f"d_model) with d_model {self.d_model}, got shape {a.shape}")
        return x

    def _attend(self, attn, x, mem, mask, kpm, causal, drop):
        return drop(attn(x, mem, mem, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                         is_causal=causal)[0])

    def _ff_block(self, x, drop):
        h = self.linear1(x)
        if (self.activation is F.gelu and type(self.linear2) is Linear and type(self.dropout) is Dropout
                and (self.dropout.p == 0 or not self.dropout.training)):
            # GELU's output feeds linear2 alone: one node, GELU's derivative
            # applied in linear2's input-gradient GEMM
            return drop(F._gelu_linear(h, self.linear2.weight, self.linear2.bias))
        return drop(self.linear2(self.dropout(self.activation(h))))


class TransformerEncoderLayer(_TransformerLayer):
    """torch.nn.TransformerEncoderLayer (post-norm, relu by default):
        norm_first=False: x = norm1(x + sa(x)); x = norm2(x + ff(x))
        norm_first=True:  x = x + sa(norm1(x)); x = x + ff(norm2(x))
    with sa the self-attention (its dropout is `dropout`) and ff =
    dropout2(linear2(dropout(activation(linear1(x))))).  forward(src,
    src_mask=None, src_key_padding_mask=None, is_causal=None).  fastnn's
    keyword causal=True makes is_causal=None mean True (for a Sequential of
    causal layers, which passes no mask); otherwise None means False."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=np.float32, *, causal=False):
        super().__init__()
        self._build(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                    bias, device, dtype, 2)
        self.causal = bool(causal)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=None):
        x = self._check(src, "src")
        causal = self.causal if is_causal is None else bool(is_causal)
        if self.norm_first:
            y = self.norm1(x)
            x = x + self._attend(self.self_attn, y, y, src_mask, src_key_padding_mask, causal, self.dropout1)
            return x + self._ff_block(self.norm2(x), self.dropout2)
        x = self.norm1(x + self._attend(self.self_attn, x, x, src_mask, src_key_padding_mask, causal, self.dropout1))
        return self.norm2(x + self._ff_block(x, self.dropout2))


class TransformerDecoderLayer(_TransformerLayer):
    """torch.nn.TransformerDecoderLayer: self-attention (self_attn) over the
    target, cross-attention (multihead_attn) to the memory, feed-forward;
    norm1-3, dropout1-3; post-norm by default, pre-norm with norm_first.
    forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=False, memory_is_causal=False)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=np.float32):
        super().__init__()
        self._build(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                    bias, device, dtype, 3)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = self._check(tgt, "tgt")
        mem = self._check(memory, "memory")
        sa = (self.self_attn, tgt_mask, tgt_key_padding_mask, bool(tgt_is_causal), self.dropout1)
        ca = (self.multihead_attn, memory_mask, memory_key_padding_mask, bool(memory_is_causal), self.dropout2)
        if self.norm_first:
            y = self.norm1(x)
            x = x + self._attend(sa[0], y, y, *sa[1:])
            x = x + self._attend(ca[0], self.norm2(x), mem, *ca[1:])
            return x + self._ff_block(self.norm3(x), self.dropout3)
        x = self.norm1(x + self._attend(sa[0], x, x, *sa[1:]))
        x = self.norm2(x + self._attend(ca[0], x, mem, *ca[1:]))
        return self.norm3(x + self._ff_block(x, self.dropout3))


class _TransformerStack(Module):
    def __init__(self, layer, num_layers, norm, kind):
        super().__init__()
        if not isinstance(layer, kind):
            raise TypeError(f"{type(self).__name__}: expected a {kind.__name__}, got {type(layer).__name__}")
        if int(num_layers) < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be positive, got {num_layers}")
        self.layers = ModuleList([copy.deepcopy(layer) for _ in range(int(num_layers))])
        self.num_layers = int(num_layers)
        self.norm = norm

    def extra_repr(self):
        return f"num_layers={self.num_layers}"


class TransformerEncoder(_TransformerStack):
    """torch.nn.TransformerEncoder: num_layers deep copies of encoder_layer
    (layers.0, layers.1, ...) then norm, if given.  forward(src, mask=None,
    src_key_padding_mask=None, is_causal=None): is_causal is a hint that mask
    is causal in torch; here True applies the causal mask (with mask, if
    given, as well)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__(encoder_layer, num_layers, norm, TransformerEncoderLayer)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(_TransformerStack):
    """torch.nn.TransformerDecoder: num_layers deep copies of decoder_layer,
    then norm, if given; forward as TransformerDecoderLayer's."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__(decoder_layer, num_layers, norm, TransformerDecoderLayer)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


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
