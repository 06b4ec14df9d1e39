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
