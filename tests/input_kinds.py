"""Arrays of the kinds C cannot use in place, built from a native array with
the same values: non-native byte order, an odd byte offset (unaligned),
memory owned by a bytes object (read-only) or by a memoryview."""
import numpy as np


def swapped(a):
    """The same values stored in the other byte order ('>f4' on x86)."""
    return a.astype(a.dtype.newbyteorder("S"))


def swapped_strided(a):
    """Byte-swapped and not C-contiguous (Fortran order, or every other
    element of a twice-as-long array for 1-D)."""
    s = swapped(a)
    if s.ndim >= 2:
        return np.asfortranarray(s)
    doubled = np.empty((2 * s.size,), s.dtype)
    doubled[::2] = s.reshape(-1)
    return doubled[::2].reshape(s.shape)


def unaligned(a):
    """The same values at an odd byte offset of a larger buffer."""
    buf = np.empty(a.nbytes + 1, np.uint8)
    u = buf[1:].view(a.dtype).reshape(a.shape)
    u[...] = a
    assert a.dtype.alignment == 1 or a.size == 0 or not u.flags.aligned
    return u


def bytes_base(a):
    """A read-only array whose memory is a bytes object."""
    b = np.frombuffer(a.tobytes(), a.dtype).reshape(a.shape)
    assert not b.flags.writeable
    return b


def memoryview_base(a):
    """A writeable array whose base is a memoryview of a bytearray."""
    flat = np.frombuffer(memoryview(bytearray(a.tobytes())), a.dtype)
    assert flat.flags.writeable and isinstance(flat.base, memoryview)
    return flat.reshape(a.shape)


INPUT_KINDS = {"swapped": swapped, "swapped_strided": swapped_strided, "unaligned": unaligned,
               "bytes_base": bytes_base, "memoryview_base": memoryview_base}


def as_kind(kind, a):
    """`a` rebuilt as `kind` when it is a non-empty ndarray, else `a`."""
    if isinstance(a, np.ndarray) and a.size:
        return INPUT_KINDS[kind](a)
    return a


def flat_results(r):
    """A result (array, float, tuple of them, None) as a list of arrays."""
    if isinstance(r, (tuple, list)):
        out = []
        for v in r:
            out += flat_results(v)
        return out
    return [None] if r is None else [np.asarray(r)]


def assert_same_result(got, want):
    got, want = flat_results(got), flat_results(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
            continue
        assert g.shape == w.shape
        assert g.dtype.newbyteorder("=") == w.dtype.newbyteorder("=")
        assert np.array_equal(g.astype(w.dtype.newbyteorder("=")), w, equal_nan=True), (g, w)
