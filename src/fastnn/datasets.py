"""Small bundled data sets: scikit-learn's 8x8 digits, and a character corpus
that ships with Python itself (pydoc_data's topics text)."""
from collections import namedtuple

import numpy as np

Split = namedtuple("Split", "X_train y_train X_test y_test")
TextCorpus = namedtuple("TextCorpus", "train test vocab text")


def load_digits(test_fraction=0.2, seed=0):
    """scikit-learn's digits (1797 images of 8x8): X float32 (N, 64) scaled to
    [0, 1], y int64 (N,).  The train/test split is a fixed permutation
    (np.random.default_rng(seed)); returns Split(X_train, y_train, X_test, y_test)."""
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("fastnn.datasets.load_digits needs scikit-learn: pip install 'fastnn[demo]'") from e
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits: test_fraction must be in (0, 1), got {test_fraction}")
    d = _sk_load_digits()
    X = (np.asarray(d.data, np.float32) / np.float32(16.0))
    y = np.asarray(d.target, np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Split(np.ascontiguousarray(X[train]), y[train], np.ascontiguousarray(X[test]), y[test])


def load_text(test_fraction=0.1):
    """A character corpus from the standard library (pydoc_data.topics: the
    text of Python's help topics, in sorted topic order).  Characters are
    encoded as int64 ids into `vocab` (the sorted distinct characters); the
    last test_fraction of the text is held out.  Returns
    TextCorpus(train ids, test ids, vocab (list of str), text)."""
    from pydoc_data.topics import topics
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_text: test_fraction must be in (0, 1), got {test_fraction}")
    text = "\n".join(topics[k] for k in sorted(topics))
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    alphabet = np.unique(codes)
    ids = np.searchsorted(alphabet, codes).astype(np.int64)
    vocab = [chr(c) for c in alphabet.tolist()]
    cut = len(ids) - int(round(len(ids) * test_fraction))
    return TextCorpus(ids[:cut], ids[cut:], vocab, text)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx(path):
    """One IDX file (the MNIST format), gzip-compressed when its name ends in
    .gz: returns the ndarray it holds.  A bad magic number, an unknown type or
    a size that does not match the header raises ValueError."""
    import gzip
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES or data[3] == 0:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number)")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"read_idx: {path} is truncated in its header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    count = int(np.prod(shape, dtype=np.int64))
    body = data[4 + 4 * ndim:]
    if len(body) != count * dtype.itemsize:
        raise ValueError(f"read_idx: {path} holds {len(body)} bytes of data; its header {shape} "
                         f"of {dtype} needs {count * dtype.itemsize}")
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(path):
    """MNIST (or Fashion-MNIST) from the standard IDX files in directory `path`
    (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    t10k-labels-idx1-ubyte, each optionally .gz).  Returns Split(X_train,
    y_train, X_test, y_test) with X float32 (N, rows*cols) scaled to [0, 1]
    and y int64, like load_digits."""
    import os
    arrays = {}
    for key, stem in MNIST_FILES.items():
        for name in (stem, stem + ".gz"):
            full = os.path.join(path, name)
            if os.path.exists(full):
                arrays[key] = read_idx(full)
                break
        else:
            raise FileNotFoundError(f"load_mnist: neither {stem} nor {stem}.gz in {path}")
    out = {}
    for split in ("train", "test"):
        X, y = arrays["X_" + split], arrays["y_" + split]
        if X.ndim != 3 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(f"load_mnist: {split} images {X.shape} and labels {y.shape} do not match")
        out["X_" + split] = (X.reshape(X.shape[0], -1).astype(np.float32) / np.float32(255.0))
        out["y_" + split] = y.astype(np.int64)
    return Split(out["X_train"], out["y_train"], out["X_test"], out["y_test"])
