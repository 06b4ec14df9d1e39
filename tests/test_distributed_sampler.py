"""DistributedSampler and DataLoader(rank=, world_size=): each rank's shard of every epoch."""
import numpy as np
import pytest

from fastnn.data import DataLoader, DistributedSampler


def shards(n, r, **kw):
    return [DistributedSampler(n, r, k, **kw).indices() for k in range(r)]


@pytest.mark.parametrize("n", [0, 1, 5, 10, 11, 12, 13])
@pytest.mark.parametrize("r", [1, 2, 3, 4])
def test_shards_split_or_pad_as_pytorch_does(n, r):
    # no shuffle: the padded order is 0..n-1 repeated; the shards interleave
    got = shards(n, r, shuffle=False)
    per = -(-n // r)
    padded = [i % n for i in range(per * r)] if n else []
    assert [s.tolist() for s in got] == [padded[k::r] for k in range(r)]
    kept = shards(n, r, shuffle=False, drop_last=True)
    assert [s.tolist() for s in kept] == [list(range(n // r * r))[k::r] for k in range(r)]
    assert all(len(s) == len(DistributedSampler(n, r, 0, drop_last=True)) == n // r for s in kept)


def test_matches_torch_without_shuffle():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler
    for n in (7, 10, 3):
        for r in (2, 3, 4, 5):
            for drop in (False, True):
                theirs = [list(TorchSampler(range(n), r, k, shuffle=False, drop_last=drop)) for k in range(r)]
                assert [list(DistributedSampler(n, r, k, shuffle=False, drop_last=drop)) for k in range(r)] == theirs


def test_shuffled_shards_cover_the_data_once_and_change_with_the_epoch():
    n, r = 103, 4
    s = [DistributedSampler(n, r, k, seed=7) for k in range(r)]
    e0 = [x.indices() for x in s]
    everything = np.concatenate(e0)
    assert len(everything) == 104 and set(everything.tolist()) == set(range(n))
    for x in s:
        x.set_epoch(1)
    e1 = [x.indices() for x in s]
    assert not all(np.array_equal(a, b) for a, b in zip(e0, e1))
    assert set(np.concatenate(e1).tolist()) == set(range(n))
    # the order is a function of (seed, epoch) alone: another sampler agrees
    again = DistributedSampler(n, r, 2, seed=7)
    again.set_epoch(1)
    assert np.array_equal(again.indices(), e1[2])
    assert not np.array_equal(DistributedSampler(n, r, 2, seed=8).indices(), e0[2])


def test_dataloader_rank_world_size():
    X, y = np.arange(46).reshape(23, 2), np.arange(23)
    loaders = [DataLoader(X, y, 4, shuffle=True, seed=3, rank=k, world_size=2) for k in range(2)]
    assert [len(d) for d in loaders] == [3, 3]  # 12 samples each (one padded), batches 4, 4, 4
    for epoch in range(2):
        seen = []
        for d in loaders:
            batches = list(d)
            assert [len(b) for _, b in batches] == [4, 4, 4]
            for xb, yb in batches:
                np.testing.assert_array_equal(xb[:, 0], 2 * yb)  # X and y stay paired
            seen.append(np.concatenate([b for _, b in batches]))
        assert set(np.concatenate(seen).tolist()) == set(range(23))
        if epoch == 0:
            first = seen
    assert not np.array_equal(first[0], seen[0])  # each iteration is a new epoch
    # set_epoch(1) replays the second epoch
    d = DataLoader(X, y, 4, shuffle=True, seed=3, rank=0, world_size=2)
    d.set_epoch(1)
    np.testing.assert_array_equal(np.concatenate([b for _, b in d]), seen[0])
    dropped = DataLoader(X, y, 5, shuffle=False, drop_last=True, rank=1, world_size=2)
    assert [b.tolist() for _, b in dropped] == [[1, 3, 5, 7, 9], [11, 13, 15, 17, 19]]


def test_dataloader_with_a_sampler_object():
    X, y = np.zeros((10, 1)), np.arange(10)
    s = DistributedSampler(10, 3, 1, shuffle=False)
    assert [b.tolist() for _, b in DataLoader(X, y, 2, sampler=s)] == [[1, 4], [7, 0]]
    assert len(DataLoader(X, y, 3, sampler=s)) == 2
    assert [b.tolist() for _, b in DataLoader(X, y, 3, sampler=[9, 8, 7, 6])] == [[9, 8, 7], [6]]


def test_bad_arguments():
    X, y = np.zeros((10, 1)), np.zeros(10)
    with pytest.raises(ValueError, match="rank 2 is not in"):
        DistributedSampler(10, 2, 2)
    with pytest.raises(ValueError, match="num_replicas must be an int >= 1"):
        DistributedSampler(10, 0, 0)
    with pytest.raises(ValueError, match="both rank= and world_size="):
        DataLoader(X, y, 2, rank=0)
    with pytest.raises(ValueError, match="rank 3 is not in"):
        DataLoader(X, y, 2, rank=3, world_size=2)
    with pytest.raises(ValueError, match="replaces shuffle"):
        DataLoader(X, y, 2, shuffle=True, sampler=DistributedSampler(10, 2, 0))
    with pytest.raises(ValueError, match="only a loader over a DistributedSampler"):
        DataLoader(X, y, 2).set_epoch(1)
    with pytest.raises(TypeError, match="sample count or a sized"):
        DistributedSampler(2.5, 2, 0)
