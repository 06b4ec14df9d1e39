"""fastnn.save / fastnn.load in the safetensors format, written and read here
with NumPy (no pickle, ever).

File layout (https://github.com/huggingface/safetensors): an 8-byte
little-endian header length N, N bytes of JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
then the tensor bytes (little-endian, C order).

Nested dicts (an optimizer's state dict) are stored flat, their keys joined
by dots; the exact nesting, and which leaves were Python scalars, tuples,
lists, strings or None, is recorded as JSON under the header's
__metadata__["fastnn"], so load() returns what save() was given.  A file
without that entry (from another tool) loads as a flat {name: array} dict.

load() checks everything before returning anything: a truncated file, a
header that is not JSON, unknown dtypes, offsets out of range or inconsistent
with the shape raise SafetensorsError (a ValueError).  Nothing is allocated
from a size the file declares before it is checked against the file's real
size.
"""
import json
import math
import os

import numpy as np

__all__ = ["save", "load", "SafetensorsError"]

_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "|i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "|u1", "BOOL": "|b1",
}
_NAMES = {np.dtype(v).newbyteorder("=") if np.dtype(v).byteorder != "|" else np.dtype(v): k
          for k, v in _DTYPES.items()}
_FORMAT_VERSION = 1
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A file that is not a valid safetensors file (or not one fastnn can read)."""


# ---------------------------------------------------------------- save

def _flatten(obj, prefix, tensors, entries):
    if isinstance(obj, dict):
        if not obj and prefix:
            entries.append([prefix, "dict", None, None])
        for k, v in obj.items():
            if not isinstance(k, (str, int, np.integer)) or isinstance(k, bool):
                raise TypeError(f"save: keys must be str or int, got {type(k).__name__} at {prefix}")
            _flatten(v, prefix + [str(k)], tensors, entries)
        return
    if isinstance(obj, (list, tuple)) and any(isinstance(v, (dict, list, tuple, str)) or v is None for v in obj):
        # a sequence of containers (an optimizer's param_groups): stored as a
        # dict keyed by position, marked to come back as a list or tuple
        if not prefix:
            raise TypeError("save: expected a dict at the top level")
        entries.append([prefix, "seq", None, type(obj).__name__])
        for i, v in enumerate(obj):
            _flatten(v, prefix + [str(i)], tensors, entries)
        return
    name = ".".join(prefix)
    if name in tensors or any(e[2] == name for e in entries):
        raise ValueError(f"save: two entries would both be stored as {name!r}")
    if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
        arr = np.asarray(obj)
        kind = "array" if isinstance(obj, np.ndarray) else "npscalar"
    elif isinstance(obj, bool):
        arr, kind = np.array(obj, np.bool_), "bool"
    elif isinstance(obj, int):
        arr, kind = np.array(obj, np.int64), "int"
    elif isinstance(obj, float):
        arr, kind = np.array(obj, np.float64), "float"
    elif isinstance(obj, (tuple, list)):
        arr = np.asarray(obj)
        if arr.dtype.kind not in "biuf" or (arr.ndim != 1 and len(obj)):
            raise TypeError(f"save: {name!r} is a {type(obj).__name__} that is not a flat sequence of numbers")
        kind = type(obj).__name__
    elif isinstance(obj, str) or obj is None:
        entries.append([prefix, "str" if obj is not None else "none", None, obj])
        return
    else:
        raise TypeError(f"save: cannot store {type(obj).__name__} at {name!r} (arrays, numbers, "
                        f"strings, None and dicts of them only)")
    if arr.dtype.newbyteorder("=") not in _NAMES and arr.dtype not in _NAMES:
        raise TypeError(f"save: {name!r} has dtype {arr.dtype}, which safetensors cannot store")
    tensors[name] = arr
    entries.append([prefix, kind, name, None])


def save(obj, path):
    """Write a state dict (or anything with .state_dict(), nested dicts of
    arrays and numbers included) to `path` in the safetensors format."""
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (a state dict), got {type(obj).__name__}")
    tensors, entries = {}, []
    _flatten(obj, [], tensors, entries)
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        a = np.asarray(arr, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder not in ("|",) else a.dtype
        a = a.astype(dt, copy=False)
        key = _NAMES[np.dtype(a.dtype).newbyteorder("=") if a.dtype.byteorder != "|" else a.dtype]
        b = a.tobytes()
        header[name] = {"dtype": key, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    header["__metadata__"] = {"format": "np",
                              "fastnn": json.dumps({"version": _FORMAT_VERSION, "entries": entries})}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(len(raw).to_bytes(8, "little"))
            f.write(raw)
            for b in chunks:
                f.write(b)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---------------------------------------------------------------- load

def _fail(path, msg):
    raise SafetensorsError(f"load({os.fspath(path)!r}): {msg}")


def _parse(path, data):
    if len(data) < 8:
        _fail(path, f"truncated: {len(data)} bytes, fewer than the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8 or n > _MAX_HEADER:
        _fail(path, f"header length {n} exceeds the {len(data) - 8} bytes after it (truncated or corrupt)")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        _fail(path, f"bad header JSON ({e})")
    if not isinstance(header, dict):
        _fail(path, "bad header: not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and (not isinstance(meta, dict)
                             or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())):
        _fail(path, "bad header: __metadata__ must map strings to strings")
    base = 8 + n
    size = len(data) - base
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            _fail(path, f"bad header entry for {name!r}: need exactly dtype, shape and data_offsets")
        dt = info["dtype"]
        if dt not in _DTYPES:
            _fail(path, f"tensor {name!r} has unsupported dtype {dt!r} (supported: {', '.join(_DTYPES)})")
        shape, offs = info["shape"], info["data_offsets"]
        if (not isinstance(shape, list) or
                not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            _fail(path, f"tensor {name!r} has a bad shape {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2 or
                not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            _fail(path, f"tensor {name!r} has bad data_offsets {offs!r}")
        b, e = offs
        if not 0 <= b <= e <= size:
            _fail(path, f"tensor {name!r} has data_offsets [{b}, {e}] outside the {size} data bytes "
                        f"(truncated or corrupt)")
        need = math.prod(shape) * np.dtype(_DTYPES[dt]).itemsize
        if need != e - b:
            _fail(path, f"tensor {name!r} of dtype {dt} and shape {shape} needs {need} bytes, "
                        f"its data_offsets span {e - b}")
        spans.append((b, e, name))
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            _fail(path, f"tensor {name!r} starts at {b}, expected {pos} (overlapping or misaligned data)")
        pos = e
    if pos != size:
        _fail(path, f"the tensors cover {pos} of the {size} data bytes")
    tensors = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = np.dtype(_DTYPES[info["dtype"]])
        a = np.frombuffer(data, dtype=dt, count=(e - b) // dt.itemsize, offset=base + b).reshape(tuple(info["shape"]))
        tensors[name] = a.astype(dt.newbyteorder("=") if dt.byteorder != "|" else dt, copy=True)
    return tensors, meta or {}


def _rebuild(path, tensors, meta):
    try:
        spec = json.loads(meta["fastnn"])
        entries = spec["entries"]
        assert isinstance(entries, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        _fail(path, "bad __metadata__['fastnn'] structure")
    out, used, seqs = {}, set(), []
    for entry in entries:
        if isinstance(entry, list) and len(entry) == 4 and entry[1] == "seq":
            if not isinstance(entry[0], list) or not entry[0] or entry[3] not in ("list", "tuple"):
                _fail(path, f"bad structure entry {entry!r}")
            seqs.append(entry)
            continue
        if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], list)
                and all(isinstance(k, str) for k in entry[0])):
            _fail(path, f"bad structure entry {entry!r}")
        keys, kind, name, value = entry
        if kind in ("str", "none", "dict"):
            if (kind == "str" and not isinstance(value, str)) or not keys:
                _fail(path, f"bad structure entry {entry!r}")
            leaf = value if kind == "str" else ({} if kind == "dict" else None)
        else:
            if name not in tensors:
                _fail(path, f"structure names tensor {name!r}, which the file does not hold")
            a = tensors[name]
            used.add(name)
            if kind == "array":
                leaf = a
            elif kind in ("int", "float", "bool", "npscalar") and a.ndim == 0:
                leaf = {"int": int, "float": float, "bool": bool, "npscalar": lambda v: v[()]}[kind](a)
            elif kind in ("tuple", "list") and a.ndim == 1:
                leaf = tuple(a.tolist()) if kind == "tuple" else a.tolist()
            else:
                _fail(path, f"structure entry {entry!r} does not fit tensor of shape {a.shape}")
        if not keys:
            _fail(path, "bad structure entry with an empty key")
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                _fail(path, f"conflicting structure at {'.'.join(keys)!r}")
        if keys[-1] in node:
            _fail(path, f"duplicate structure entry {'.'.join(keys)!r}")
        node[keys[-1]] = leaf
    if used != set(tensors):
        _fail(path, f"tensors not named by the structure: {sorted(set(tensors) - used)}")
    for keys, _, _, typ in sorted(seqs, key=lambda e: -len(e[0])):  # innermost first
        node = out
        for k in keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        items = node.get(keys[-1], {}) if isinstance(node, dict) else None
        if not isinstance(items, dict) or sorted(items) != sorted(str(i) for i in range(len(items))):
            _fail(path, f"bad sequence entry at {'.'.join(keys)!r}")
        seq = [items[str(i)] for i in range(len(items))]
        node[keys[-1]] = tuple(seq) if typ == "tuple" else seq
    return out


def load(path):
    """Read a file written by save() (or any safetensors file of NumPy dtypes).
    Returns the saved dict; raises SafetensorsError on a corrupt file, having
    returned or changed nothing."""
    with open(path, "rb") as f:
        data = f.read()
    tensors, meta = _parse(path, data)
    if "fastnn" in meta:
        return _rebuild(path, tensors, meta)
    return tensors
