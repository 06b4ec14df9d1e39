"""The cache of large freed NumPy blocks (cpu/memcache.c, installed as
NumPy's memory handler at import)."""
import os
import threading

import numpy as np
import pytest

import fastnn
from fastnn import _C

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import get_handler_name

BIG = 1 << 20  # elements of float64: 8 MiB, far above the 128 KiB floor


@pytest.fixture
def limit():
    before = fastnn.config()["memory_cache"]["limit"]
    yield
    _C.memory_cache_install(before)


def test_installed_for_new_arrays_only_above_the_floor():
    assert get_handler_name() == "fastnn_memory_cache"
    assert get_handler_name(np.empty(BIG)) == "fastnn_memory_cache"
    s0 = fastnn.config()["memory_cache"]
    small = np.empty(100)
    del small
    assert fastnn.config()["memory_cache"]["misses"] == s0["misses"]  # small requests pass through



def test_new_blocks_start_on_a_cache_line():
    # every size a distinct one, so each block is new, not a kept one
    arrays = [np.empty(BIG + 11 * i, np.float32) for i in range(1, 9)]
    assert [a.ctypes.data % 64 for a in arrays] == [0] * len(arrays)
    assert np.empty((300, 999)).ctypes.data % 64 == 0

def _vm_flags_at(addr):
    """The VmFlags of the mapping of this process that holds addr."""
    start = None
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                start = lo if lo <= addr < hi else None
            elif start is not None and head == "VmFlags:":
                return line.split()[1:]
    return None


@pytest.mark.skipif(not os.path.exists("/sys/kernel/mm/transparent_hugepage/enabled"),
                    reason="no transparent huge pages on this OS")
def test_large_blocks_are_advised_huge_pages_as_numpy_advises_its_own():
    # NumPy's own handler asks for huge pages for its large arrays; the
    # cache replacing it must not take that away (a large product's operands
    # and output in 4 KB pages outnumber the TLB)
    a = np.empty(4 * BIG + 3, np.float32)  # 16 MiB and a bit: new, not a kept block
    assert a.ctypes.data % (2 << 20) == 0
    flags = _vm_flags_at(a.ctypes.data)
    assert flags is not None and "hg" in flags, flags


def test_a_freed_block_is_handed_out_again_for_the_same_size():
    fnn_blocks = [np.empty(BIG + 7) for _ in range(80)]  # more than the limit: older blocks make room
    del fnn_blocks
    a = np.empty(BIG + 3)
    addr = a.ctypes.data
    del a
    hits = fastnn.config()["memory_cache"]["hits"]
    b = np.empty(BIG + 3)
    assert b.ctypes.data == addr
    assert fastnn.config()["memory_cache"]["hits"] == hits + 1
    c = np.empty(BIG + 5)  # another size: not that block
    assert c.ctypes.data != addr


def test_a_reused_block_is_zeroed_for_zeros_and_arrays_are_fresh():
    a = np.full(BIG, 7.0)
    del a
    z = np.zeros(BIG)
    assert not z.any()
    x = np.ones(BIG)
    y = x * 2
    del x
    w = y + 1  # may reuse x's block; y must not change
    assert (y == 2).all() and (w == 3).all()


def test_the_limit_holds_and_empty_cache_frees_everything(limit):
    _C.memory_cache_install(3 * BIG * 8)
    arrays = [np.empty(BIG) for _ in range(6)]
    del arrays
    st = fastnn.config()["memory_cache"]
    assert 0 < st["bytes"] <= 3 * BIG * 8
    freed = fastnn.empty_cache()
    assert freed == st["bytes"]
    assert fastnn.config()["memory_cache"]["bytes"] == 0
    _C.memory_cache_install(0)
    a = np.empty(BIG)
    del a
    assert fastnn.config()["memory_cache"]["bytes"] == 0


def test_blocks_freed_and_allocated_from_many_threads():
    arrays = [np.full(BIG // 4 + i % 3, float(i)) for i in range(64)]
    errors = []

    def work(k):
        try:
            for i in range(k, len(arrays), 4):
                assert arrays[i][-1] == i
                arrays[i] = None  # freed in this thread, through the array's handler
            for _ in range(20):
                b = np.ones(BIG // 4)
                assert b.sum() == BIG // 4
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    c = np.ones(BIG // 4 + 1)
    assert c.sum() == BIG // 4 + 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_allocates_and_frees():
    a = np.empty(BIG)
    del a
    pid = os.fork()
    if pid == 0:
        ok = True
        try:
            for _ in range(5):
                b = np.ones(BIG)
                ok &= bool(b.sum() == BIG)
                del b
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
