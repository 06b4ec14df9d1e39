"""fastnn.save / fastnn.load (safetensors): bit-exact round trips, and every
kind of corrupt file raising SafetensorsError with the model left unchanged."""
import json
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fastnn
from fastnn import nn, optim
from fastnn.io import SafetensorsError
from nn_helpers import examples


def model():
    m = nn.Sequential(nn.LayerNorm(5), nn.BatchNorm1d(5), nn.GELU())
    rng = np.random.default_rng(0)
    for p in m.parameters():
        p.data[:] = rng.standard_normal(p.data.shape)
    m(rng.standard_normal((8, 5)).astype(np.float32))  # moves the running statistics
    return m


def same_state(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes(), k


def test_model_round_trip_is_bit_exact(tmp_path):
    m = model()
    path = tmp_path / "m.safetensors"
    fastnn.save(m, path)  # a module saves its state dict
    loaded = fastnn.load(path)
    same_state(m.state_dict(), loaded)
    fresh = nn.Sequential(nn.LayerNorm(5), nn.BatchNorm1d(5), nn.GELU())
    fresh.load_state_dict(loaded)
    same_state(m.state_dict(), fresh.state_dict())


def test_nested_values_round_trip(tmp_path):
    obj = {"a": {"b": np.arange(6, dtype=np.int32).reshape(2, 3), "c": 3, "d": 2.5, "e": True, "f": None,
                 "g": "text"}, "t": (0.9, 0.999), "l": [1, 2], "groups": [{"lr": 0.1, "params": [0]}],
           "x.y": np.float64(1.5), "z": np.zeros((0, 4), np.float16), "u": np.array([1, 255], np.uint8)}
    fastnn.save(obj, tmp_path / "o")
    back = fastnn.load(tmp_path / "o")
    assert back["a"]["c"] == 3 and isinstance(back["a"]["c"], int)
    assert back["a"]["d"] == 2.5 and back["a"]["e"] is True and back["a"]["f"] is None and back["a"]["g"] == "text"
    assert back["t"] == (0.9, 0.999) and back["l"] == [1, 2] and back["groups"] == [{"lr": 0.1, "params": [0]}]
    assert back["x.y"] == 1.5 and back["z"].shape == (0, 4) and back["z"].dtype == np.float16
    np.testing.assert_array_equal(back["a"]["b"], obj["a"]["b"])
    np.testing.assert_array_equal(back["u"], obj["u"])


def test_file_is_plain_safetensors(tmp_path):
    path = tmp_path / "m.safetensors"
    fastnn.save({"w": np.arange(3, dtype=np.float32)}, path)
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    assert header["w"] == {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}
    assert np.frombuffer(raw[8 + n:], "<f4").tolist() == [0, 1, 2]
    assert b"pickle" not in raw and (8 + n) % 8 == 0
    try:
        from safetensors.numpy import load_file
    except ImportError:
        return
    np.testing.assert_array_equal(load_file(str(path))["w"], [0, 1, 2])


def test_foreign_file_without_metadata_loads_flat(tmp_path):
    header = json.dumps({"0.weight": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}).encode()
    (tmp_path / "f").write_bytes(struct.pack("<Q", len(header)) + header + np.array([1.0, 2.0]).tobytes())
    assert list(fastnn.load(tmp_path / "f")) == ["0.weight"]


def test_save_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="object"):
        fastnn.save({"a": object()}, tmp_path / "x")
    with pytest.raises(TypeError, match="complex"):
        fastnn.save({"a": np.zeros(2, np.complex64)}, tmp_path / "x")
    with pytest.raises(TypeError, match="dict"):
        fastnn.save([1, 2], tmp_path / "x")
    with pytest.raises(ValueError, match="a.b"):
        fastnn.save({"a.b": np.zeros(1), "a": {"b": np.zeros(1)}}, tmp_path / "x")
    assert not os.listdir(tmp_path)


def _valid(tmp_path):
    path = tmp_path / "good.safetensors"
    fastnn.save(model(), path)
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, n, json.loads(raw[8:8 + n])


def _with_header(header, data):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def corrupt_cases(raw, n, header):
    data = raw[8 + n:]
    first = next(k for k in header if k != "__metadata__")
    cases = {
        "empty": b"",
        "short length": raw[:5],
        "header cut": raw[:8 + n // 2],
        "data cut": raw[:-3],
        "huge header length": struct.pack("<Q", 2**63) + raw[8:],
        "header length past end": struct.pack("<Q", len(raw)) + raw[8:],
        "bad json": struct.pack("<Q", n) + b"{" + b" " * (n - 1) + data,
        "not utf8": struct.pack("<Q", n) + b"\xff" * n + data,
        "json list": _with_header([1, 2], data),
    }

    def edit(fn):
        h = json.loads(json.dumps(header))
        fn(h)
        return _with_header(h, data)
    cases["wrong dtype"] = edit(lambda h: h[first].update(dtype="F33"))
    cases["bf16"] = edit(lambda h: h[first].update(dtype="BF16"))
    cases["offsets past end"] = edit(lambda h: h[first].update(data_offsets=[0, len(data) + 4]))
    cases["negative offset"] = edit(lambda h: h[first].update(data_offsets=[-4, 0]))
    cases["huge shape"] = edit(lambda h: h[first].update(shape=[2**40, 2**40]))
    cases["shape mismatch"] = edit(lambda h: h[first].update(shape=[h[first]["shape"][0] + 1]))
    cases["negative dim"] = edit(lambda h: h[first].update(shape=[-1]))
    cases["overlap"] = edit(lambda h: [h[k].update(data_offsets=[0, h[k]["data_offsets"][1] - h[k]["data_offsets"][0]])
                                       for k in h if k != "__metadata__"])
    cases["extra key"] = edit(lambda h: h[first].update(extra=1))
    cases["metadata not strings"] = edit(lambda h: h["__metadata__"].update(fastnn=5))
    cases["structure names missing tensor"] = edit(lambda h: h.pop(first) and None)
    cases["bad structure json"] = edit(lambda h: h["__metadata__"].update(fastnn="{"))
    return cases


@pytest.mark.parametrize("case", [
    "empty", "short length", "header cut", "data cut", "huge header length", "header length past end", "bad json",
    "not utf8", "json list", "wrong dtype", "bf16", "offsets past end", "negative offset", "huge shape",
    "shape mismatch", "negative dim", "overlap", "extra key", "metadata not strings",
    "structure names missing tensor", "bad structure json"])
def test_corrupt_file_raises_and_model_is_unchanged(tmp_path, case):
    raw, n, header = _valid(tmp_path)
    bad = corrupt_cases(raw, n, header)[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(bad)
    m = nn.Sequential(nn.LayerNorm(5), nn.BatchNorm1d(5), nn.GELU())
    before = m.state_dict()
    with pytest.raises(SafetensorsError):
        m.load_state_dict(fastnn.load(path))
    same_state(before, m.state_dict())


def test_optimizer_state_round_trip(tmp_path):
    m = model()
    opt = optim.AdamW(m.parameters(), lr=0.01)
    for p in m.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    fastnn.save(opt, tmp_path / "o")
    back = fastnn.load(tmp_path / "o")
    assert back["state"]["0"]["step"] == 1
    assert back["param_groups"][0]["betas"] == (0.9, 0.999)
    for i, st in opt.state_dict()["state"].items():
        assert st["exp_avg"].tobytes() == back["state"][str(i)]["exp_avg"].tobytes()


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(0, 10**6), value=st.integers(0, 255), cut=st.booleans())
def test_random_corruption_never_crashes(tmp_path, pos, value, cut):
    path = tmp_path / "good.safetensors"
    if not path.exists():
        fastnn.save(model(), path)
    raw = bytearray(path.read_bytes())
    pos %= len(raw)
    if cut:
        raw = raw[:pos]
    else:
        raw[pos] = value
    bad = tmp_path / "fuzz.safetensors"
    bad.write_bytes(bytes(raw))
    try:
        out = fastnn.load(bad)
    except SafetensorsError:
        return
    assert isinstance(out, dict)  # a byte inside the data (or harmless) changed: still a dict


def test_corrupt_files_never_allocate_more_than_the_file(tmp_path):
    """Declared sizes are checked against the file before anything is
    allocated: peak Python-visible allocation stays near the file's size."""
    import tracemalloc
    raw, n, header = _valid(tmp_path)
    path = tmp_path / "bad.safetensors"
    for name, bad in corrupt_cases(raw, n, header).items():
        path.write_bytes(bad)
        tracemalloc.start()
        try:
            with pytest.raises(SafetensorsError):
                fastnn.load(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak <= 4 * len(bad) + 64 * 1024, f"{name}: peak {peak} bytes for a {len(bad)}-byte file"
