"""fastnn.datasets.load_mnist on small IDX files written here, gzip or not."""
import gzip

import numpy as np
import pytest

from fastnn import datasets


def write_idx(path, arr, gz=False):
    arr = np.asarray(arr, np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = head + arr.tobytes()
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_reads_idx_files(tmp_path, gz):
    rng = np.random.default_rng(0)
    Xtr, ytr = rng.integers(0, 256, (7, 5, 4)), rng.integers(0, 10, 7)
    Xte, yte = rng.integers(0, 256, (3, 5, 4)), rng.integers(0, 10, 3)
    sfx = ".gz" if gz else ""
    for stem, a in (("train-images-idx3-ubyte", Xtr), ("train-labels-idx1-ubyte", ytr),
                    ("t10k-images-idx3-ubyte", Xte), ("t10k-labels-idx1-ubyte", yte)):
        write_idx(tmp_path / (stem + sfx), a, gz)
    d = datasets.load_mnist(tmp_path)
    assert d.X_train.shape == (7, 20) and d.X_train.dtype == np.float32
    np.testing.assert_allclose(d.X_train, Xtr.reshape(7, 20) / 255.0, rtol=1e-7)
    np.testing.assert_array_equal(d.y_train, ytr)
    np.testing.assert_array_equal(d.y_test, yte)
    assert d.y_test.dtype == np.int64 and d.X_test.max() <= 1.0


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        datasets.load_mnist(tmp_path)
    bad = tmp_path / "x"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        datasets.read_idx(bad)
    write_idx(bad, np.zeros((2, 3)))
    bad.write_bytes(bad.read_bytes()[:-1])
    with pytest.raises(ValueError, match="needs 6"):
        datasets.read_idx(bad)
