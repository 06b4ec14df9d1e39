"""Training on fastnn.datasets.load_text(): a character-level LSTM and a
2-layer pre-norm Transformer each lower the next-character loss steadily,
well below the unigram entropy of the corpus (what a model that ignores the
context can reach), within a small budget of steps."""
import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.datasets import load_text
from nn_helpers import using

# The models here are small (a few MFLOP per GEMM), so each step is dozens of
# short parallel regions; on a shared 2-core machine a second thread that is
# descheduled makes every fork/join wait a scheduler tick (measured: 6.6 s at
# 1 thread vs 114 s at 2 under load 4).  These tests are about learning, so
# they run at one thread; 1-vs-2-thread bit-identity is tested per kernel and
# per layer in test_seq_kernels.py and test_seq_layers.py.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def one_thread():
    with using(threads=1):
        yield


@pytest.fixture(scope="module")
def corpus():
    c = load_text()
    p = np.bincount(c.train, minlength=len(c.vocab)) / len(c.train)
    p = p[p > 0]
    return c, float(-(p * np.log(p)).sum())


def _batches(ids, batch, seq, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        starts = rng.integers(0, len(ids) - seq - 1, batch)
        win = np.stack([ids[s:s + seq + 1] for s in starts])
        yield win[:, :-1], win[:, 1:]


class CharLSTM(nn.Module):
    def __init__(self, vocab, emb=32, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx):
        y, _ = self.lstm(self.embed(idx))
        return self.head(y)


class CharTransformer(nn.Module):
    def __init__(self, vocab, d=64, heads=4, layers=2, ff=128, max_len=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.LearnedPositionalEmbedding(max_len, d)
        self.blocks = nn.Sequential(*[nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation="gelu",
                                                                norm_first=True, batch_first=True) for _ in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):
        x = self.pos(self.embed(idx) * np.float32(8.0))
        for b in self.blocks:
            x = b(x, is_causal=True)
        return self.head(self.norm(x))


def _train(model, corpus, steps, batch, seq, lr):
    c, _ = corpus
    opt = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for xb, yb in _batches(c.train, batch, seq, steps, seed=0):
        logits = model(xb)
        v = logits.shape[-1]
        loss = loss_fn(logits.reshape(-1, v), yb.reshape(-1))
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.array(losses)


def _assert_learns(losses, entropy):
    assert np.isfinite(losses).all()
    quarters = [q.mean() for q in np.array_split(losses, 4)]
    assert all(b < a for a, b in zip(quarters, quarters[1:])), f"loss not falling steadily: {quarters}"
    final = losses[-20:].mean()
    assert final < entropy - 0.5, f"final loss {final:.3f} is not well below the unigram entropy {entropy:.3f}"


def test_char_lstm_learns(corpus):
    fastnn.manual_seed(0)
    losses = _train(CharLSTM(len(corpus[0].vocab)), corpus, steps=300, batch=32, seq=32, lr=1e-2)
    _assert_learns(losses, corpus[1])


def test_char_transformer_learns(corpus):
    fastnn.manual_seed(0)
    losses = _train(CharTransformer(len(corpus[0].vocab)), corpus, steps=300, batch=16, seq=64, lr=3e-3)
    _assert_learns(losses, corpus[1])
