"""DataLoader, manual_seed and the bundled data sets."""
import numpy as np
import pytest

import fastnn
from fastnn.data import DataLoader


def test_batches_in_order_with_and_without_drop_last():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    batches = list(DataLoader(X, y, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X)
    assert len(DataLoader(X, y, 4)) == 3 and len(DataLoader(X, y, 4, drop_last=True)) == 2
    assert [len(b[1]) for b in DataLoader(X, y, batch_size=4, drop_last=True)] == [4, 4]


def test_shuffle_is_seeded_and_new_each_epoch():
    X, y = np.arange(50).reshape(50, 1), np.arange(50)
    a = DataLoader(X, y, 8, shuffle=True, seed=3)
    e1 = np.concatenate([b[1] for b in a])
    e2 = np.concatenate([b[1] for b in a])
    assert sorted(e1) == list(range(50)) and not np.array_equal(e1, e2)
    b = DataLoader(X, y, 8, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([t for _, t in b]), e1)
    for xb, yb in DataLoader(X, y, 8, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb[:, 0], yb)  # X and y stay paired


def test_manual_seed_drives_unseeded_shuffles():
    X, y = np.zeros((30, 1)), np.arange(30)
    fastnn.manual_seed(5)
    a = np.concatenate([t for _, t in DataLoader(X, y, 7, shuffle=True)])
    fastnn.manual_seed(5)
    b = np.concatenate([t for _, t in DataLoader(X, y, 7, shuffle=True)])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError):
        fastnn.manual_seed(1.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="10.*9"):
        DataLoader(np.zeros((10, 2)), np.zeros(9), 2)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((10, 2)), np.zeros(10), 0)


def test_load_digits():
    pytest.importorskip("sklearn")
    s = fastnn.datasets.load_digits()
    X_train, y_train, X_test, y_test = s
    assert X_train.dtype == np.float32 and X_train.shape[1] == 64 and len(X_train) + len(X_test) == 1797
    assert X_train.min() >= 0 and X_train.max() <= 1 and X_train.max() == 1
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == set(range(10))
    again = fastnn.datasets.load_digits()
    np.testing.assert_array_equal(again.X_test, X_test)
    np.testing.assert_array_equal(again.y_train, y_train)


def test_load_text():
    c = fastnn.datasets.load_text()
    assert len(c.train) > 100_000 and len(c.test) > 10_000
    assert c.train.dtype == np.int64 and c.train.max() < len(c.vocab)
    assert "".join(c.vocab[i] for i in c.train[:200]) == c.text[:200]
    assert "".join(c.vocab[i] for i in c.test[-50:]) == c.text[-50:]
    np.testing.assert_array_equal(fastnn.datasets.load_text().test, c.test)
