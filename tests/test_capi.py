"""The C API: the capsule table, fastnn_capi.h and fastnn/capi.pxd.

At test time this builds, in a temporary directory and with setuptools, the
example extensions of examples/capi/ (one in C, one in Cython; the README
shows them, and tests/test_readme.py checks that it shows them as they are)
plus a few test-only C modules (ABI mismatches, a module of two C files),
none linked to fastnn, and runs them in subprocesses (the test process never
imports them), the README's code that uses them included.  Every entry of
the table is also called through the capsule with ctypes, with good and with
bad arguments.
"""
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn import _C, ops

import conv_reference as ref

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "capi")
INC = fastnn.get_include()
FNN_OK, FNN_EINVAL, FNN_EOVERFLOW = 0, -1, -4


def header(name):
    with open(os.path.join(INC, "fastnn", name)) as f:
        return f.read()


def header_define(text, name):
    return int(re.search(rf"#define {name} \(?(-?\d+)\)?", text).group(1))


# ---------------------------------------------------------------- the table via ctypes

CTYPES = {"char": ctypes.c_char, "int": ctypes.c_int, "int64_t": ctypes.c_int64, "float": ctypes.c_float,
          "double": ctypes.c_double}
NP_TYPES = {"float": np.float32, "double": np.float64, "int64_t": np.int64, "int32_t": np.int32}


def parse_params(params):
    """'(int op, const float *x)' -> [('op', 'int', False), ('x', 'float', True)]."""
    inner = params.strip()[1:-1].strip()
    if inner == "void":
        return []
    out = []
    for p in inner.split(","):
        m = re.fullmatch(r"(?:const\s+)?(\w+)\s*(\*?)\s*(\w+)", " ".join(p.split()))
        assert m, f"cannot parse parameter {p!r} of {params}"
        out.append((m.group(3), m.group(1), bool(m.group(2))))
    return out


FUNCTIONS = _C.capi_functions()


def table():
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    addr = get(_C._C_API, b"fastnn._C._C_API")

    class Table(ctypes.Structure):
        _fields_ = ([("abi_major", ctypes.c_uint), ("abi_minor", ctypes.c_uint), ("size", ctypes.c_size_t)]
                    + [(name[len("fnn_"):], ctypes.c_void_p) for name, _, _ in FUNCTIONS])

    return Table.from_address(addr), Table


def c_function(name):
    t, _ = table()
    ret, params = next((r, p) for n, r, p in FUNCTIONS if n == name)
    argtypes = [ctypes.c_void_p if ptr else CTYPES[base] for _, base, ptr in parse_params(params)]
    restype = ctypes.c_char_p if ret.replace(" ", "") == "constchar*" else CTYPES[ret]
    return ctypes.CFUNCTYPE(restype, *argtypes)(getattr(t, name[len("fnn_"):]))


def test_capsule_header_matches_the_headers():
    text = header("fastnn_capi_table.h")
    t, Table = table()
    assert (t.abi_major, t.abi_minor) == (header_define(text, "FNN_CAPI_ABI_MAJOR"),
                                          header_define(text, "FNN_CAPI_ABI_MINOR"))
    assert t.size == ctypes.sizeof(Table) == _C.capi_version()[2]
    assert all(getattr(t, name[len("fnn_"):]) for name, _, _ in FUNCTIONS)
    assert _C._C_API.__class__.__name__ == "PyCapsule" and "fastnn._C._C_API" in repr(_C._C_API)


def test_every_public_function_is_in_the_table_macros_and_pxd_in_order():
    """fastnn.h's functions, the table list, fastnn_capi.h's macros and
    capi.pxd's declarations (with the same parameter lists) agree."""
    names = [n for n, _, _ in FUNCTIONS]
    assert len(set(names)) == len(names)
    declared = re.findall(r"^\s*(?:int|const char \*)\s*(fnn_\w+)\(", header("fastnn.h"), re.M)
    assert sorted(declared) == sorted(names), "a fastnn.h function is missing from FNN_CAPI_FUNCTIONS (or vice versa)"
    macros = re.findall(r"^#define (fnn_\w+) \(fnn_capi_table->(\w+)\)$", header("fastnn_capi.h"), re.M)
    assert [m for m, _ in macros] == names
    assert all(m == "fnn_" + member for m, member in macros)
    with open(os.path.join(os.path.dirname(fastnn.__file__), "capi.pxd")) as f:
        pxd = f.read()
    with open(os.path.join(INC, "fastnn", "capi.pxd")) as f:
        assert f.read() == pxd, "get_include()'s copy of capi.pxd is stale: rebuild"
    decls = re.findall(r"^    (?:int|const char \*)\s*(fnn_\w+)(\([^)]*\))", pxd, re.M)
    assert [d for d, _ in decls] == names
    for (name, _, params), (_, pxd_params) in zip(FUNCTIONS, decls):
        norm = " ".join(params.split()).replace("(void)", "()")
        assert norm == " ".join(pxd_params.split()), name
    assert "import_fastnn" in pxd


# Values of the scalar parameters for a valid call (names as in fastnn.h).
SIZE = 3
SCALARS = {
    "op": 0, "reduction": 1, "training": 1, "nesterov": 0, "first_step": 0, "centered": 1,
    "alpha": 0.9, "beta": 0.0, "act_alpha": 0.01, "eps": 1e-5, "momentum": 0.9, "dampening": 0.0,
    "lr": 0.1, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.01, "step": 1, "act": 0,
    "transa": b"N", "transb": b"N",
    "mode": 0, "causal": 1, "scale": 0.5, "padding_idx": -1, "ndim": 2,
}
# Integer arrays that describe the others, as their valid call needs them:
# the strided copy of a 3 x 4 array into its transpose.
# Strided attention: 2 batch elements of 3 heads of 3 x 3, heads of a batch
# element side by side in (seq, heads * d) rows.
ATTN_STRIDES = [27, 3, 9]
INDEX_ARRAYS = {"copy_strided": {"shape": [3, 4], "src_strides": [4, 1], "dst_strides": [1, 3]},
                "attention_strided_forward": {f"stride_{t}": ATTN_STRIDES for t in ("q", "k", "v", "o")},
                "attention_strided_backward": {f"stride_{t}": ATTN_STRIDES for t in
                                               ("q", "k", "v", "o", "grad_out", "grad_q", "grad_k", "grad_v")}}
SIZE_NAMES = {"m", "n", "k", "rows", "cols", "c", "s", "batch", "num", "dim", "steps", "n_in", "hid", "bh", "sq", "sk",
              "d", "heads", "b"}
# Pointers that may be NULL in the valid call above (documented in fastnn.h).
NULLABLE = {"batch_norm_forward": {"weight", "bias"}, "batch_norm_backward": {"weight"}, "linear": {"bias"},
            "conv2d_forward": {"bias"}, "conv2d_backward_weight": {"grad_weight", "grad_bias"},
            "lstm_cell_forward": {"c_prev"}, "lstm_cell_backward": {"c_prev", "grad_c"},
            "gru_cell_forward": {"h_prev"}, "gru_cell_backward": {"h_prev"},
            # mode 0 (tanh RNN) in the valid call: no cells or gates
            "rnn_layer_forward": {"b_ih", "b_hh", "h0", "c0", "cells", "gates"},
            "rnn_layer_backward": {"h0", "c0", "cells", "gates", "grad_y", "grad_hn", "grad_cn", "grad_x", "grad_b_ih",
                                   "grad_b_hh", "grad_c0"},
            "attention_masked_forward": {"mask", "key_mask"}, "attention_masked_backward": {"mask", "key_mask"},
            "attention_strided_forward": {"mask", "key_mask"}, "attention_strided_backward": {"mask", "key_mask"}}
# Convolution and pooling entries take a geometry instead: the scalar
# arguments of their valid call (names as in fastnn.h), from which every
# array gets its exact size.
CONV_GEOM = dict(n=2, c=4, h=5, w=6, k=6, r=3, s=2, stride_h=2, stride_w=1, pad_h=1, pad_w=0, dil_h=1, dil_w=2,
                 groups=2)  # grouped implicit GEMM: y (2, 6, 3, 4)
POOL_GEOM = dict(n=2, c=3, h=5, w=6, kh=3, kw=2, stride_h=2, stride_w=1, pad_h=1, pad_w=1)  # y (2, 3, 3, 7)
GEOMETRY = {"conv2d_forward": CONV_GEOM, "conv2d_backward_input": CONV_GEOM, "conv2d_backward_weight": CONV_GEOM,
            "max_pool2d_forward": POOL_GEOM, "avg_pool2d_forward": POOL_GEOM, "avg_pool2d_backward": POOL_GEOM,
            "max_pool2d_backward": dict(n=2, c=3, h=5, w=6, p=3, q=7)}
CONFIG = {"fnn_get_num_threads", "fnn_set_num_threads", "fnn_get_isa", "fnn_best_isa", "fnn_set_isa",
          "fnn_isa_name"}
KERNELS = [n for n, _, _ in FUNCTIONS if n not in CONFIG]


def base_name(name):
    return re.sub(r"_f(32|64)$", "", name[len("fnn_"):])


def array_sizes(base, g):
    """Elements of each array of a conv or pooling entry with geometry g."""
    if base.startswith("conv2d"):
        p = ref.out_size(g["h"], g["r"], g["stride_h"], g["pad_h"], g["dil_h"])
        q = ref.out_size(g["w"], g["s"], g["stride_w"], g["pad_w"], g["dil_w"])
        x, wt, y = g["n"] * g["c"] * g["h"] * g["w"], g["k"] * g["c"] // g["groups"] * g["r"] * g["s"], \
            g["n"] * g["k"] * p * q
        return dict(x=x, grad_x=x, weight=wt, grad_weight=wt, bias=g["k"], grad_bias=g["k"], y=y, grad_out=y)
    if "p" in g:
        p, q = g["p"], g["q"]
    else:
        p = ref.out_size(g["h"], g["kh"], g["stride_h"], g["pad_h"])
        q = ref.out_size(g["w"], g["kw"], g["stride_w"], g["pad_w"])
    x, y = g["n"] * g["c"] * g["h"] * g["w"], g["n"] * g["c"] * p * q
    return dict(x=x, grad_x=x, y=y, grad_out=y, argmax=y)


class Call:
    """A valid call of one table entry, with every array filled, that can be
    varied one argument at a time."""

    def __init__(self, name):
        self.name = name
        self.fn = c_function(name)
        self.params = parse_params(next(p for n, _, p in FUNCTIONS if n == name))
        self.args, self.arrays = {}, {}
        geom = GEOMETRY.get(base_name(name))
        sizes = array_sizes(base_name(name), geom) if geom else {}
        for i, (pname, base, ptr) in enumerate(self.params):
            if ptr:  # positive values, different in each array
                size = sizes.get(pname, 64)
                if pname in INDEX_ARRAYS.get(base_name(name), {}):
                    a = np.array(INDEX_ARRAYS[base_name(name)][pname], np.int64)
                elif pname == "target" and base == "int64_t":
                    a = np.zeros(size, np.int64)
                elif pname == "argmax":  # indices within an h x w plane
                    a = (np.arange(size) * 7 % (geom["h"] * geom["w"])).astype(np.int32)
                else:
                    a = (np.linspace(0.25, 0.75, size) * (1 + 0.125 * i)).astype(NP_TYPES[base])
                self.arrays[pname] = a
            elif geom:
                self.args[pname] = geom[pname]
            elif pname in SIZE_NAMES:
                self.args[pname] = 2 if pname in ("batch", "b") else SIZE
            elif pname.startswith("ld"):
                self.args[pname] = SIZE
            elif pname.startswith("stride_"):
                self.args[pname] = SIZE * SIZE
            else:
                assert pname in SCALARS, f"{name}: no test value for parameter {pname}"
                self.args[pname] = SCALARS[pname]

    def __call__(self, **changes):
        argv = []
        for pname, _, ptr in self.params:
            v = changes.get(pname, self.arrays.get(pname) if ptr else self.args[pname])
            argv.append(None if v is None else v.ctypes.data if ptr else v)
        return self.fn(*argv)

    def snapshot(self):
        return {k: a.tobytes() for k, a in self.arrays.items()}


def bad_cases(call):
    """(description, changes, expected code) for every bad argument of a call."""
    cases = []
    for pname, base, ptr in call.params:
        if ptr and pname not in NULLABLE.get(base_name(call.name), ()):
            cases.append((f"{pname}=NULL", {pname: None}, FNN_EINVAL))
        elif pname in SIZE_NAMES:
            cases.append((f"{pname}=-1", {pname: -1}, FNN_EINVAL))
        elif pname.startswith("ld"):
            cases.append((f"{pname} too small", {pname: SIZE - 1}, FNN_EINVAL))
        elif pname.startswith("stride_"):
            cases.append((f"{pname}=-1", {pname: -1}, FNN_EINVAL))
        elif pname == "op":
            cases += [("op=-1", {"op": -1}, FNN_EINVAL), ("op=99", {"op": 99}, FNN_EINVAL)]
        elif pname == "act":
            cases.append(("act=99", {"act": 99}, FNN_EINVAL))
        elif pname == "reduction":
            cases.append(("reduction=7", {"reduction": 7}, FNN_EINVAL))
        elif pname.startswith("trans"):
            cases.append((f"{pname}='X'", {pname: b"X"}, FNN_EINVAL))
        elif pname == "step":
            cases.append(("step=0", {"step": 0}, FNN_EINVAL))
    sizes = [p for p, _, ptr in call.params if not ptr and p in SIZE_NAMES and p != "batch"]
    if len(sizes) >= 2:  # a product of sizes beyond int64 (leading dimensions to match)
        big = {p: 1 << 32 for p in sizes}
        big.update({p: 1 << 32 for p, _, _ in call.params if p.startswith("ld")})
        cases.append(("sizes overflow int64", big, FNN_EOVERFLOW))
    if "stride_c" in call.args:  # outputs of consecutive products would overlap
        cases.append(("stride_c < (m-1)*ldc + n", {"stride_c": SIZE * SIZE - 1}, FNN_EINVAL))
    if "target" in call.arrays and call.arrays["target"].dtype == np.int64:
        t = call.arrays["target"].copy()
        t[SIZE - 1] = SIZE  # a class index out of range, in the last row
        cases.append(("target out of range", {"target": t}, FNN_EINVAL))
    base = base_name(call.name)
    if base == "copy_strided":
        cases += copy_strided_bad_cases()
    if base.startswith("attention_strided"):
        cases += attention_strided_bad_cases(call)
    if base.startswith("conv2d"):
        cases += conv_bad_cases()
    elif base == "max_pool2d_backward":
        cases += max_pool_backward_bad_cases(call)
    elif base in GEOMETRY:
        cases += pool_bad_cases()
    return cases


def conv_bad_cases():
    """Bad geometries of CONV_GEOM (c=4, h=5, w=6, k=6, r=3, s=2, padded input
    7 x 6, dilated kernel 3 x 3, groups=2)."""
    big = 1 << 40
    return ([(f"{p}=0", {p: 0}, FNN_EINVAL) for p in ("c", "h", "w", "k", "r", "s", "groups")]
            + [(f"{p}=-1", {p: -1}, FNN_EINVAL) for p in ("h", "w", "r", "pad_h", "pad_w", "dil_h", "dil_w",
                                                          "groups")]
            + [(f"{p}=0", {p: 0}, FNN_EINVAL) for p in ("stride_h", "stride_w", "dil_h", "dil_w")]
            + [(f"{p}=-(2**63)", {p: -(1 << 63)}, FNN_EINVAL) for p in ("n", "h", "stride_w", "pad_h")]
            + [("groups=3 does not divide c=4", {"groups": 3}, FNN_EINVAL),
               ("groups=4 does not divide k=6", {"groups": 4}, FNN_EINVAL),
               ("groups=8 > c", {"groups": 8, "k": 8}, FNN_EINVAL),
               ("kernel taller than the padded input", {"r": 8}, FNN_EINVAL),
               ("kernel wider than the padded input", {"s": 7, "dil_w": 1}, FNN_EINVAL),
               ("dilated kernel larger than the padded input", {"dil_h": 4}, FNN_EINVAL),
               ("dilated kernel wider than the padded input", {"s": 4}, FNN_EINVAL),
               ("n*c*h*w overflows int64", {"n": 1 << 62}, FNN_EOVERFLOW),
               ("k*c*r*s overflows int64", {"c": big, "k": big}, FNN_EOVERFLOW),
               ("h*w overflows int64", {"h": big, "w": big}, FNN_EOVERFLOW),
               ("h + 2 pad_h overflows int64", {"pad_h": (1 << 63) - 1}, FNN_EOVERFLOW),
               ("dil_w*(s-1) overflows int64", {"dil_w": 1 << 62}, FNN_EOVERFLOW)])


def copy_strided_bad_cases():
    """Bad shapes of the strided copy (ndim 2, shape 3 x 4)."""
    shape = lambda *v: {"shape": np.array(v, np.int64)}  # noqa: E731
    return [("ndim=0", {"ndim": 0}, FNN_EINVAL), ("ndim=-1", {"ndim": -1}, FNN_EINVAL),
            ("ndim=9 > FNN_COPY_MAX_DIMS", {"ndim": 9}, FNN_EINVAL),
            ("shape[0]=-1", shape(-1, 4), FNN_EINVAL), ("shape[1]=-1", shape(3, -1), FNN_EINVAL),
            ("2^62 rows of 4 overflow int64", shape(1 << 62, 4), FNN_EOVERFLOW),
            ("3 rows of 2^62 overflow int64", shape(3, 1 << 62), FNN_EOVERFLOW)]


def attention_strided_bad_cases(call):
    """Negative strides of any tensor, the rows of a written one closer than
    d, and offsets beyond int64."""
    cases = []
    for name in call.arrays:
        if name.startswith("stride_"):
            for i in range(3):
                s = np.array(ATTN_STRIDES, np.int64)
                s[i] = -1
                cases.append((f"{name}[{i}]=-1", {name: s}, FNN_EINVAL))
            s = np.array(ATTN_STRIDES, np.int64)
            s[0] = 1 << 62
            cases.append((f"{name}[0]=2^62", {name: s}, FNN_EOVERFLOW))
    written = ("stride_grad_q", "stride_grad_k", "stride_grad_v") if "backward" in call.name else ("stride_o",)
    for name in written:
        if name in call.arrays:
            cases.append((f"{name}: rows 2 apart, d = 3", {name: np.array([27, 3, 2], np.int64)}, FNN_EINVAL))
    return cases


def pool_bad_cases():
    """Bad geometries of POOL_GEOM (h=5, w=6, window 3 x 2, padding 1 x 1)."""
    return ([(f"{p}=0", {p: 0}, FNN_EINVAL) for p in ("h", "w", "kh", "kw", "stride_h", "stride_w")]
            + [(f"{p}=-1", {p: -1}, FNN_EINVAL) for p in ("h", "w", "kh", "kw", "pad_h", "pad_w")]
            + [(f"{p}=-(2**63)", {p: -(1 << 63)}, FNN_EINVAL) for p in ("n", "w", "stride_h", "pad_w")]
            + [("pad_h=2 > kh/2", {"pad_h": 2}, FNN_EINVAL),
               ("pad_w=2 > kw/2", {"pad_w": 2}, FNN_EINVAL),
               ("pad_h huge (2 pad_h overflows)", {"pad_h": (1 << 63) - 1}, FNN_EINVAL),
               ("window taller than the padded input", {"kh": 8}, FNN_EINVAL),
               ("window wider than the padded input", {"kw": 9}, FNN_EINVAL),
               ("n*c*h*w overflows int64", {"n": 1 << 62}, FNN_EOVERFLOW),
               ("h*w beyond int32 argmax indices", {"h": 1 << 16, "w": 1 << 16}, FNN_EOVERFLOW),
               ("h*w overflows int64", {"h": 1 << 40, "w": 1 << 40}, FNN_EOVERFLOW)])


def max_pool_backward_bad_cases(call):
    """Bad sizes of max_pool2d_backward (h=5, w=6, p=3, q=7) and argmax
    indices outside the h x w plane (checked before anything is written)."""
    cases = ([(f"{p}=0", {p: 0}, FNN_EINVAL) for p in ("h", "w", "p", "q")]
             + [(f"{p}=-1", {p: -1}, FNN_EINVAL) for p in ("h", "w", "p", "q")]
             + [("n*c*h*w overflows int64", {"n": 1 << 32, "c": 1 << 32}, FNN_EOVERFLOW),
                ("h*w beyond int32 argmax indices", {"h": 1 << 16, "w": 1 << 16}, FNN_EOVERFLOW),
                ("p*q beyond int32", {"p": 1 << 16, "q": 1 << 16}, FNN_EOVERFLOW),
                ("h*w overflows int64", {"h": 1 << 32, "w": 1 << 32}, FNN_EOVERFLOW),
                ("p*q overflows int64", {"p": 1 << 32, "q": 1 << 32}, FNN_EOVERFLOW)])
    for where, value in ((0, -1), (-1, 30), (17, 1 << 30)):
        a = call.arrays["argmax"].copy()
        a[where] = value
        cases.append((f"argmax[{where}]={value} outside [0, h*w)", {"argmax": a}, FNN_EINVAL))
    return cases


@pytest.mark.parametrize("name", KERNELS)
def test_every_kernel_entry_runs_and_rejects_bad_arguments_writing_nothing(name, isa):
    call = Call(name)
    before = call.snapshot()
    assert call() == FNN_OK, f"{name}: the valid call failed"
    assert call.snapshot() != before, f"{name}: the valid call wrote nothing"
    cases = bad_cases(call)
    assert any("NULL" in d for d, _, _ in cases) and any("-1" in d for d, _, _ in cases)
    for what, changes, code in cases:
        call = Call(name)  # fresh arrays
        before = call.snapshot()
        rc = call(**changes)
        assert rc == code, f"{name} with {what}: returned {rc}, expected {code}"
        assert call.snapshot() == before, f"{name} with {what}: wrote to an array although it failed"


def ptr(a):
    return None if a is None else a.ctypes.data


def sfx(dtype):
    return "f32" if dtype == np.float32 else "f64"


def close_to(y, reference, dtype):
    tol = 2e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(y, reference, rtol=tol, atol=tol * max(1.0, float(np.max(np.abs(reference)))))


# (n, c, h, w, k, r, s, stride, padding, dilation, groups): one per path of
# csrc/conv (grouped implicit GEMM, 1x1 GEMM, depthwise direct).
CONV_CASES = [(2, 4, 5, 6, 6, 3, 2, (2, 1), (1, 0), (1, 2), 2),
              (2, 3, 4, 5, 5, 1, 1, (1, 1), (0, 0), (1, 1), 1),
              (1, 4, 6, 7, 8, 3, 3, (1, 2), (1, 1), (1, 1), 4)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=["grouped", "1x1", "depthwise"])
def test_conv_entries_match_ops_and_numpy(case, dtype, isa):
    """fnn_conv2d_* through the capsule: bit-identical to fastnn.ops (the same
    kernels through _C) and close to a float64 NumPy reference, with and
    without the optional outputs and inputs."""
    n, c, h, w, k, r, s, stride, pad, dil, groups = case
    geo = (n, c, h, w, k, r, s, *stride, *pad, *dil, groups)
    kw = dict(stride=stride, padding=pad, dilation=dil, groups=groups)
    fwd, bwd_in, bwd_w = (c_function(f"fnn_conv2d_{f}_{sfx(dtype)}")
                          for f in ("forward", "backward_input", "backward_weight"))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((k, c // groups, r, s)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)

    y_ops = ops.conv2d(x, wt, b, **kw)
    y = np.full(y_ops.shape, np.nan, dtype)
    assert fwd(*geo, ptr(x), ptr(wt), ptr(b), ptr(y)) == FNN_OK
    assert np.array_equal(y, y_ops)
    close_to(y, ref.conv2d(x, wt, b, stride, pad, dil, groups), dtype)
    y0 = np.full_like(y, np.nan)
    assert fwd(*geo, ptr(x), ptr(wt), None, ptr(y0)) == FNN_OK  # no bias
    assert np.array_equal(y0, ops.conv2d(x, wt, **kw))

    gy = rng.standard_normal(y.shape).astype(dtype)
    gx_ops, gw_ops, gb_ops = ops.conv2d_backward(gy, x, wt, **kw)
    gx_ref, gw_ref, gb_ref = ref.conv2d_backward(gy, x, wt, stride, pad, dil, groups)
    gx = np.full_like(x, np.nan)
    assert bwd_in(*geo, ptr(gy), ptr(wt), ptr(gx)) == FNN_OK
    assert np.array_equal(gx, gx_ops)
    close_to(gx, gx_ref, dtype)
    gw, gb = np.full_like(wt, np.nan), np.full_like(b, np.nan)
    assert bwd_w(*geo, ptr(gy), ptr(x), ptr(gw), ptr(gb)) == FNN_OK
    assert np.array_equal(gw, gw_ops) and np.array_equal(gb, gb_ops)
    close_to(gw, gw_ref, dtype)
    close_to(gb, gb_ref, dtype)
    gw1, gb1 = np.full_like(wt, np.nan), np.full_like(b, np.nan)
    assert bwd_w(*geo, ptr(gy), ptr(x), ptr(gw1), None) == FNN_OK  # grad_weight only
    assert np.array_equal(gw1, gw_ops)
    assert bwd_w(*geo, ptr(gy), None, None, ptr(gb1)) == FNN_OK  # grad_bias only: x unused, may be NULL
    assert np.array_equal(gb1, gb_ops)

    # an empty batch: nothing to read; grad_weight and grad_bias are sums over nothing
    empty = (0,) + geo[1:]
    assert fwd(*empty, None, None, None, None) == FNN_OK
    assert bwd_in(*empty, None, None, None) == FNN_OK
    gw2, gb2 = np.full_like(wt, np.nan), np.full_like(b, np.nan)
    assert bwd_w(*empty, None, None, ptr(gw2), ptr(gb2)) == FNN_OK
    assert not gw2.any() and not gb2.any()


def max_pool_backward_numpy(gy, argmax, x_shape):
    n, c, h, w = x_shape
    gx = np.zeros((n * c, h * w))
    np.add.at(gx, (np.arange(n * c)[:, None], argmax.reshape(n * c, -1)), gy.reshape(n * c, -1))
    return gx.reshape(x_shape)


# (x shape, window, stride, padding): general, global average, strided.
POOL_CASES = [((2, 3, 5, 6), (3, 2), (2, 1), (1, 1)),
              ((2, 3, 4, 5), (4, 5), (1, 1), (0, 0)),
              ((1, 2, 7, 5), (2, 2), (2, 2), (0, 1))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES, ids=["padded", "global", "strided"])
def test_pool_entries_match_ops_and_numpy(case, dtype, isa):
    """fnn_max_pool2d_* and fnn_avg_pool2d_* through the capsule:
    bit-identical to fastnn.ops and equal or close to NumPy references."""
    shape, win, stride, pad = case
    n, c, h, w = shape
    geo = (n, c, h, w, *win, *stride, *pad)
    mfwd, mbwd, afwd, abwd = (c_function(f"fnn_{op}_{sfx(dtype)}") for op in (
        "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"))
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dtype)

    y_ops, arg_ops = ops.max_pool2d(x, win, stride, pad)
    y, arg = np.full(y_ops.shape, np.nan, dtype), np.full(y_ops.shape, -7, np.int32)
    assert mfwd(*geo, ptr(x), ptr(y), ptr(arg)) == FNN_OK
    assert np.array_equal(y, y_ops) and np.array_equal(arg, arg_ops)
    assert np.array_equal(y, ref.max_pool2d(x, win, stride, pad).astype(dtype))
    assert np.array_equal(np.take_along_axis(x.reshape(n, c, -1), arg.reshape(n, c, -1), 2).reshape(y.shape), y)
    p, q = y.shape[2:]
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = np.full_like(x, np.nan)
    assert mbwd(n, c, h, w, p, q, ptr(gy), ptr(arg), ptr(gx)) == FNN_OK
    assert np.array_equal(gx, ops.max_pool2d_backward(gy, arg, shape))
    close_to(gx, max_pool_backward_numpy(gy, arg, shape), dtype)

    ya = np.full(y.shape, np.nan, dtype)
    assert afwd(*geo, ptr(x), ptr(ya)) == FNN_OK
    assert np.array_equal(ya, ops.avg_pool2d(x, win, stride, pad))
    close_to(ya, ref.avg_pool2d(x, win, stride, pad), dtype)
    gxa = np.full_like(x, np.nan)
    assert abwd(*geo, ptr(gy), ptr(gxa)) == FNN_OK
    assert np.array_equal(gxa, ops.avg_pool2d_backward(gy, shape, win, stride, pad))
    close_to(gxa, ref.avg_pool2d_backward(gy, shape, win, stride, pad), dtype)

    # an empty batch or no channels: nothing to read or write
    for e in ((0, c), (n, 0)):
        assert mfwd(*e, *geo[2:], None, None, None) == FNN_OK
        assert mbwd(*e, h, w, p, q, None, None, None) == FNN_OK
        assert afwd(*e, *geo[2:], None, None) == FNN_OK
        assert abwd(*e, *geo[2:], None, None) == FNN_OK


def test_config_entries_reject_bad_arguments(restore_threads):
    get_nt, set_nt = c_function("fnn_get_num_threads"), c_function("fnn_set_num_threads")
    get_isa, set_isa = c_function("fnn_get_isa"), c_function("fnn_set_isa")
    best, isa_name = c_function("fnn_best_isa"), c_function("fnn_isa_name")
    assert set_nt(1) == FNN_OK and get_nt() == 1 == fastnn.get_num_threads()
    for bad in (0, -3):
        assert set_nt(bad) == FNN_EINVAL and get_nt() == 1
    before = get_isa()
    assert isa_name(before).decode() == fastnn.get_isa() and isa_name(best()).decode() in fastnn.config()["isa_available"]
    for bad in (-1, 3, 1 << 20):
        assert set_isa(bad) == FNN_EINVAL and get_isa() == before
    assert isa_name(99) == b"unknown"


# ---------------------------------------------------------------- external modules

def example_files():
    if not os.path.isdir(EXAMPLES):
        pytest.skip("no source checkout (examples/capi)")
    blocks = {}
    for name in ("setup.py", "fnn_example.c", "fnn_example_cy.pyx"):
        with open(os.path.join(EXAMPLES, name)) as f:
            blocks[name] = f.read()
    return blocks


# Test-only modules: import_fastnn() against headers claiming another ABI, and
# one module of two C files sharing the table (FASTNN_CAPI_UNIQUE_SYMBOL),
# whose second file passes raw pointers (NULL included) to the kernels.
ABI_SOURCE = """
#include <Python.h>
#include <fastnn/fastnn_capi.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "NAME", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_NAME(void) {
    if (import_fastnn() < 0) return NULL;
    return PyModule_Create(&def);
}
"""
MULTI_A = """
#define FASTNN_CAPI_UNIQUE_SYMBOL fnn_multi_capi
#include <Python.h>
#include <fastnn/fastnn_capi.h>
extern PyMethodDef fnn_multi_methods[];
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "fnn_multi", NULL, -1, fnn_multi_methods};
PyMODINIT_FUNC PyInit_fnn_multi(void) {
    if (import_fastnn() < 0) return NULL;
    return PyModule_Create(&def);
}
"""
MULTI_B = """
#define FASTNN_CAPI_UNIQUE_SYMBOL fnn_multi_capi
#define FASTNN_CAPI_NO_IMPORT
#include <Python.h>
#include <fastnn/fastnn_capi.h>
/* sgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) with
 * addresses as integers (0 is NULL): the return code of fnn_sgemm. */
static PyObject *sgemm(PyObject *self, PyObject *args) {
    int ta, tb; long long m, n, k, lda, ldb, ldc; float alpha, beta; unsigned long long a, b, c;
    (void)self;
    if (!PyArg_ParseTuple(args, "CCLLLfKLKLfKL", &ta, &tb, &m, &n, &k, &alpha, &a, &lda, &b, &ldb, &beta, &c, &ldc))
        return NULL;
    return PyLong_FromLong(fnn_sgemm((char)ta, (char)tb, m, n, k, alpha, (const float *)(uintptr_t)a, lda,
                                     (const float *)(uintptr_t)b, ldb, beta, (float *)(uintptr_t)c, ldc));
}
static PyObject *act(PyObject *self, PyObject *args) {
    int op; long long n; unsigned long long x, y; float alpha;
    (void)self;
    if (!PyArg_ParseTuple(args, "iLKKf", &op, &n, &x, &y, &alpha)) return NULL;
    return PyLong_FromLong(fnn_act_forward_f32(op, n, (const float *)(uintptr_t)x, (float *)(uintptr_t)y, alpha));
}
PyMethodDef fnn_multi_methods[] = {
    {"sgemm", sgemm, METH_VARARGS, NULL}, {"act", act, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};
"""
EXTRA_SETUP = """
from setuptools import Extension, setup
import fastnn
inc = fastnn.get_include()
setup(name="fnn-capi-test", ext_modules=[
    Extension("fnn_abi_major", ["fnn_abi_major.c"], include_dirs=["inc_major"]),
    Extension("fnn_abi_newer", ["fnn_abi_newer.c"], include_dirs=["inc_newer"]),
    Extension("fnn_multi", ["multi_a.c", "multi_b.c"], include_dirs=[inc]),
])
"""


def patched_headers(dst, edit):
    os.makedirs(os.path.join(dst, "fastnn"))
    for h in ("fastnn.h", "fastnn_capi.h", "fastnn_capi_table.h"):
        text = header(h)
        with open(os.path.join(dst, "fastnn", h), "w") as f:
            f.write(edit(text) if h == "fastnn_capi_table.h" else text)


def env_for(path):
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([path, src] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["OPENBLAS_NUM_THREADS"] = "1"  # keep NumPy's BLAS threads out of the thread counts
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The example extensions and the test modules, built in a temporary
    directory (two setuptools builds in parallel)."""
    d = str(tmp_path_factory.mktemp("capi_ext"))
    ex, extra = os.path.join(d, "example"), os.path.join(d, "extra")
    os.makedirs(ex)
    os.makedirs(extra)
    for name, text in example_files().items():
        with open(os.path.join(ex, name), "w") as f:
            f.write(text)
    major = header_define(header("fastnn_capi_table.h"), "FNN_CAPI_ABI_MAJOR")
    minor = header_define(header("fastnn_capi_table.h"), "FNN_CAPI_ABI_MINOR")
    patched_headers(os.path.join(extra, "inc_major"), lambda t: t.replace(
        f"#define FNN_CAPI_ABI_MAJOR {major}", f"#define FNN_CAPI_ABI_MAJOR {major + 1}"))
    patched_headers(os.path.join(extra, "inc_newer"), lambda t: t.replace(
        f"#define FNN_CAPI_ABI_MINOR {minor}", f"#define FNN_CAPI_ABI_MINOR {minor + 1}").replace(
        "\n/* clang-format on */", " \\\n    X(int, future_kernel, (int64_t n))\n/* clang-format on */"))
    for name, text in {"fnn_abi_major.c": ABI_SOURCE.replace("NAME", "fnn_abi_major"),
                       "fnn_abi_newer.c": ABI_SOURCE.replace("NAME", "fnn_abi_newer"),
                       "multi_a.c": MULTI_A, "multi_b.c": MULTI_B, "setup.py": EXTRA_SETUP}.items():
        with open(os.path.join(extra, name), "w") as f:
            f.write(textwrap.dedent(text))
    procs = [subprocess.Popen([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=where,
                              env=env_for(where), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for where in (ex, extra)]
    for p, where in zip(procs, (ex, extra)):
        out = p.communicate(timeout=300)[0]
        assert p.returncode == 0, f"building {where} failed:\n{out}"
        own = [line for line in out.splitlines() if "warning:" in line and d in line]
        assert not own, "warnings in the example modules:\n" + "\n".join(own)
    yield {"example": ex, "extra": extra, "minor": minor, "major": major}
    shutil.rmtree(d, ignore_errors=True)


def run(where, code):
    """Run code in a fresh interpreter with the built modules importable;
    returns what it printed as JSON."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=where, env=env_for(where),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"subprocess failed:\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else None


def test_external_modules_match_numpy(built):
    run(built["example"], """
        import numpy as np
        import fnn_example, fnn_example_cy
        rng = np.random.default_rng(0)
        for m, n, k in [(1, 1, 1), (7, 5, 3), (64, 48, 32), (37, 131, 29), (100, 3, 200), (0, 4, 3), (4, 5, 0)]:
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            ref = a.astype(np.float64) @ b.astype(np.float64)
            tol = 1e-5 * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)) + 1e-30
            for f in (lambda c: fnn_example.matmul(a, b, c, m, n, k), lambda c: fnn_example_cy.matmul(a, b, c)):
                c = np.full((m, n), np.nan, np.float32)
                f(c)
                assert np.all(np.abs(c - ref) <= tol), (m, n, k, np.max(np.abs(c - ref)))
        x = np.concatenate([rng.standard_normal(10000, dtype=np.float32) * 8,
                            np.array([0, -0.0, 88, -88, 200, -200, np.inf, -np.inf], np.float32)])
        ref = 1 / (1 + np.exp(-x.astype(np.float64)))
        for mod in (fnn_example, fnn_example_cy):
            y = np.full_like(x, np.nan)
            mod.sigmoid(x, y)
            err = np.abs(y - ref) / np.spacing(ref.astype(np.float32)).astype(np.float64)
            assert np.max(err) <= 4, np.max(err)
        z = np.array([np.nan], np.float32)
        fnn_example.sigmoid(z, z)
        assert np.isnan(z[0])
    """)


def readme_usage_block():
    """The README's Python block that uses the example modules."""
    readme = os.path.join(ROOT, "README.md")
    if not os.path.exists(readme):
        pytest.skip("README.md not beside the tests")
    with open(readme) as f:
        blocks = [b for b in re.findall(r"```python\n(.*?)```", f.read(), re.S) if "import fnn_example" in b]
    assert len(blocks) == 1, blocks
    return blocks[0]


def test_readme_usage_of_the_examples_runs(built):
    run(built["example"], readme_usage_block() + """
import json
assert np.allclose(c, a @ b, rtol=1e-5, atol=1e-5)
assert np.allclose(y, 1 / (1 + np.exp(-a.ravel())), rtol=1e-6)
print(json.dumps(True))
""")


def test_external_modules_report_fastnn_errors_and_write_nothing(built):
    run(built["example"], """
        import numpy as np
        import fnn_example, fnn_example_cy
        a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
        c = np.full((2, 4), 7, np.float32)
        for m, n, k in [(-1, 4, 3), (2, -1, 3), (2, 4, -1)]:
            try:
                fnn_example.matmul(a, b, c, m, n, k)
            except ValueError as e:
                assert "fnn_sgemm failed with error -1" in str(e), e
            else:
                raise AssertionError("no error for a negative size")
            assert np.all(c == 7)
        try:
            fnn_example.sigmoid(np.ones(3, np.float32), np.ones(2, np.float32))
        except ValueError as e:
            assert "error -1" in str(e)
        else:
            raise AssertionError("no error")
    """)


def test_raw_c_calls_with_bad_arguments_return_codes_and_write_nothing(built):
    """From a compiled module of two C files sharing the table: NULL pointers,
    negative sizes, leading dimensions too small, bad characters."""
    run(built["extra"], """
        import numpy as np
        import fnn_multi
        a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(12, dtype=np.float32).reshape(3, 4)
        c = np.full((2, 4), 7, np.float32)
        A, B, C = a.ctypes.data, b.ctypes.data, c.ctypes.data
        good = dict(ta="N", tb="N", m=2, n=4, k=3, alpha=1.0, a=A, lda=3, b=B, ldb=4, beta=0.0, c=C, ldc=4)
        def gemm(**kw):
            args = dict(good, **kw)
            return fnn_multi.sgemm(*args.values())
        bad = [dict(m=-1), dict(n=-1), dict(k=-1), dict(a=0), dict(b=0), dict(c=0), dict(lda=2), dict(ldb=3),
               dict(ldc=3), dict(ta="X"), dict(tb="?"), dict(ta="T", lda=1), dict(tb="T", ldb=2)]
        for kw in bad:
            assert gemm(**kw) == -1, kw
            assert np.all(c == 7), kw
        assert gemm() == 0 and np.array_equal(c, a @ b)
        x, y = np.linspace(-2, 2, 5, dtype=np.float32), np.full(5, 7, np.float32)
        for args in [(2, -1, x.ctypes.data, y.ctypes.data, 0.0), (2, 5, 0, y.ctypes.data, 0.0),
                     (2, 5, x.ctypes.data, 0, 0.0), (-1, 5, x.ctypes.data, y.ctypes.data, 0.0),
                     (8, 5, x.ctypes.data, y.ctypes.data, 0.0)]:  # 8 = FNN_ACT_COUNT, the first unknown op
            assert fnn_multi.act(*args) == -1 and np.all(y == 7), args
        assert fnn_multi.act(0, 5, x.ctypes.data, y.ctypes.data, 0.0) == 0 and np.array_equal(y, np.maximum(x, 0))
    """)


def test_abi_mismatch_raises_a_clear_import_error(built):
    out = run(built["extra"], """
        import json
        msgs = []
        for name in ("fnn_abi_major", "fnn_abi_newer"):
            try:
                __import__(name)
            except ImportError as e:
                msgs.append(str(e))
            else:
                msgs.append(None)
        print(json.dumps(msgs))
    """)
    major, minor = built["major"], built["minor"]
    n = len(FUNCTIONS)
    assert out[0] is not None and f"built against ABI {major + 1}.{minor}" in out[0], out[0]
    assert f"provides ABI {major}.{minor}" in out[0] and "rebuild" in out[0]
    assert out[1] is not None and f"built against ABI {major}.{minor + 1} ({n + 1} functions)" in out[1], out[1]
    assert f"provides ABI {major}.{minor} ({n} functions)" in out[1]


def test_external_calls_use_fastnns_openmp_pool_and_thread_setting(built):
    out = run(built["example"], """
        import json, os
        import numpy as np
        import fastnn, fnn_example, fnn_example_cy
        from threadpoolctl import threadpool_info, threadpool_limits

        def tasks():
            return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None

        x = np.random.default_rng(0).standard_normal(1 << 21, dtype=np.float32)
        y = np.empty_like(x)
        mods = (fnn_example, fnn_example_cy)
        fastnn.set_num_threads(1)
        seen = {"one": [m.num_threads() for m in mods] + [fastnn.get_num_threads()]}
        t0 = tasks()
        for m in mods:
            m.sigmoid(x, y)
        seen["tasks_at_1"] = (t0, tasks())
        fastnn.set_num_threads(2)
        seen["two"] = [m.num_threads() for m in mods] + [fastnn.get_num_threads()]
        for m in mods:
            m.sigmoid(x, y)
        seen["tasks_at_2"] = (t0, tasks())
        with threadpool_limits(limits=1, user_api="openmp"):
            seen["limited"] = [m.num_threads() for m in mods]
        seen["after"] = [m.num_threads() for m in mods]
        seen["openmp"] = [(i["internal_api"], i["filepath"]) for i in threadpool_info() if i["user_api"] == "openmp"]
        print(json.dumps(seen))
    """)
    assert out["one"] == [1, 1, 1]
    assert out["two"] == [2, 2, 2]
    assert out["limited"] == [1, 1] and out["after"] == [2, 2]
    # one OpenMP runtime in the process: fastnn's libgomp, none from the examples
    assert len(out["openmp"]) == 1 and out["openmp"][0][0] == "openmp", out["openmp"]
    if out["tasks_at_1"][0] is not None:
        t0, t1 = out["tasks_at_1"]
        assert t1 == t0, "a call at one thread started threads"
        assert out["tasks_at_2"][1] > t0, "a call at two threads did not use a pool thread"


def test_only_fastnn_capi_h_includes_python_and_no_kernel_source_includes_it():
    csrc = os.path.join(ROOT, "csrc")
    if not os.path.isdir(csrc):
        pytest.skip("no source checkout")
    for d, _, files in os.walk(csrc):
        for f in files:
            with open(os.path.join(d, f)) as fh:
                text = fh.read()
            if f != "fastnn_capi.h":
                assert not re.search(r"#\s*include\s*[<\"]Python\.h", text), f
                assert not re.search(r"#\s*include\s*[<\"]fastnn/fastnn_capi\.h", text), f
