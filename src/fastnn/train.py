"""Training runs behind `fastnn train` and `fastnn demo`: the four classic
networks on bundled data, with evaluation, progress, checkpoints that resume
bit-identically, and (for the CNN) pictures of what the layers learn.

Every source of randomness is derived from the run's seed: the weights
(fastnn.manual_seed), each epoch's shuffle or sampling (a generator seeded by
(seed, epoch)) and dropout (fastnn's generator, whose state is checkpointed).
So a run stopped after epoch k and resumed gives the same bits as one that
never stopped."""
import json
import math
import time

import numpy as np

from . import _random, datasets, nn, optim
from .autograd import no_grad
from .io import load, save

MODELS = ("mlp", "cnn", "lstm", "transformer")

# defaults of `fastnn train` (full runs) and of `fastnn demo` (brief runs)
DEFAULTS = {
    "mlp": dict(epochs=30, batch_size=32, lr=0.05),
    "cnn": dict(epochs=25, batch_size=32, lr=0.1),
    "lstm": dict(epochs=20, batch_size=32, lr=3e-3),
    "transformer": dict(epochs=20, batch_size=32, lr=3e-3),
}
DEMO = {
    "mlp": dict(epochs=12, batch_size=32, lr=0.05),
    "cnn": dict(epochs=8, batch_size=32, lr=0.1),
    "lstm": dict(epochs=4, batch_size=32, lr=3e-3),
    "transformer": dict(epochs=4, batch_size=32, lr=3e-3),
}
SEQ_LEN = 64
STEPS_PER_EPOCH = 100  # text models: sampled windows per epoch


# ---------------------------------------------------------------- models

def build_mlp():
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def build_cnn():
    # digits are 1x8x8: conv 3x3 -> 32x8x8 -> pool -> 32x4x4 -> conv -> 64x4x4 -> pool -> 64x2x2
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> Linear over the vocabulary, for next-character prediction."""

    def __init__(self, vocab, embed=64, hidden=256, layers=1):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        out, _ = self.lstm(self.embed(ids), state)
        return self.head(out)


class CharTransformer(nn.Module):
    """Token + learned position embeddings -> pre-norm encoder layers with a
    causal mask -> LayerNorm -> Linear over the vocabulary."""

    def __init__(self, vocab, d_model=128, nhead=4, layers=2, ff=256, context=SEQ_LEN, dropout=0.0):
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter((np.random.default_rng(0).standard_normal((context, d_model)) * 0.02)
                                .astype(np.float32))
        self.blocks = nn.Sequential(*[nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=ff,
                                                                 dropout=dropout, activation="gelu",
                                                                 norm_first=True, batch_first=True, causal=True)
                                      for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, ids):
        t = ids.shape[1]
        if t > self.context:
            raise ValueError(f"CharTransformer: sequence of {t} is longer than the context {self.context}")
        x = self.embed(ids) + self.pos[:t]
        return self.head(self.norm(self.blocks(x)))


def build(model, vocab=None):
    if model == "mlp":
        return build_mlp()
    if model == "cnn":
        return build_cnn()
    if model == "lstm":
        return CharLSTM(vocab)
    if model == "transformer":
        return CharTransformer(vocab)
    raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")


# ---------------------------------------------------------------- data

def _digits(model):
    d = datasets.load_digits()
    if model == "cnn":
        return d._replace(X_train=d.X_train.reshape(-1, 1, 8, 8), X_test=d.X_test.reshape(-1, 1, 8, 8))
    return d


def _text_batches(ids, rng, steps, batch_size, seq_len):
    """`steps` batches of random windows: inputs ids[s:s+T], targets ids[s+1:s+T+1]."""
    starts = rng.integers(0, len(ids) - seq_len - 1, size=(steps, batch_size))
    offs = np.arange(seq_len)
    for s in starts:
        idx = s[:, None] + offs
        yield ids[idx], ids[idx + 1]


def _heldout_windows(ids, seq_len, max_windows=256):
    n = min(max_windows, (len(ids) - 1) // seq_len)
    idx = np.arange(n)[:, None] * seq_len + np.arange(seq_len)
    return ids[idx], ids[idx + 1]


# ---------------------------------------------------------------- the run

class Run:
    """One training run of a model; `fit()` trains to `epochs` total."""

    def __init__(self, model="mlp", epochs=None, batch_size=None, lr=None, seed=0, defaults=DEFAULTS,
                 distributed=False):
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
        d = defaults[model]
        self.model_name = model
        self.epochs = d["epochs"] if epochs is None else int(epochs)
        self.batch_size = d["batch_size"] if batch_size is None else int(batch_size)
        self.lr = d["lr"] if lr is None else float(lr)
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be > 0, got {self.lr}")
        self.seed = int(seed)
        self.text = model in ("lstm", "transformer")
        if self.text:
            self.corpus = datasets.load_text()
            vocab = len(self.corpus.vocab)
        else:
            self.data = _digits(model)
            vocab = None
        _random.manual_seed(self.seed)
        self.net = build(model, vocab)
        self.model, self.rank, self.world = self.net, 0, 1  # self.model: what a training step calls
        if distributed:
            self._distribute()
        params = self.net.parameters()
        if self.text:
            self.opt = optim.Adam(params, lr=self.lr)
        else:
            self.opt = optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=5e-4)
        # cosine decay over the planned epochs: the last epochs take small
        # steps, so the final accuracy does not hang on one noisy step
        self.sched = optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=max(1, self.epochs))
        self.loss_fn = nn.CrossEntropyLoss()
        self.epoch = 0
        self.history = []  # per epoch: dict(loss, metric, seconds, examples_per_s)

    def _distribute(self):
        """Data-parallel over the MPI ranks: each takes an equal slice of every
        batch, and DistributedDataParallel averages the gradients, so the run
        follows the one-process run up to rounding, and checkpoints are the same."""
        from . import distributed as dist
        dist.init()
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        if self.batch_size % self.world:
            raise ValueError(f"batch size {self.batch_size} does not split evenly over {self.world} ranks")
        self.model = dist.DistributedDataParallel(self.net)

    # ------------------------------------------------------------ checkpoints
    def state(self):
        return {"model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                "run": {"model": self.model_name, "epoch": self.epoch, "seed": self.seed,
                        "planned_epochs": self.epochs,
                        "batch_size": self.batch_size, "lr": self.lr,
                        "rng": json.dumps(_random.generator().bit_generator.state),
                        "history": json.dumps(self.history)}}

    def save(self, path):
        save(self.state(), path)

    @classmethod
    def resume(cls, path, epochs=None, defaults=DEFAULTS, distributed=False):
        st = load(path)
        try:
            r = st["run"]
            run = cls(str(r["model"]), epochs=epochs, batch_size=int(r["batch_size"]), lr=float(r["lr"]),
                      seed=int(r["seed"]), defaults=defaults, distributed=distributed)
            run.net.load_state_dict(st["model"])
            run.opt.load_state_dict(st["optimizer"])
            run.epoch = int(r["epoch"])
            planned = int(r.get("planned_epochs", run.epochs))
            if epochs is None:
                run.epochs = planned
            # the schedule of the original plan, extended when --epochs asks for more
            run.sched = optim.lr_scheduler.CosineAnnealingLR(run.opt, T_max=max(1, run.epochs))
            run.sched.last_epoch = run.epoch
            run.sched._apply()
            run.history = json.loads(str(r["history"]))
            _random.generator().bit_generator.state = json.loads(str(r["rng"]))
        except (KeyError, TypeError) as e:
            raise ValueError(f"{path} is not a fastnn training checkpoint ({e})") from None
        return run

    # ------------------------------------------------------------ training
    def _batches(self, epoch):
        batches, n = self._global_batches(epoch)
        if self.world > 1:  # this rank's slice of every batch
            b = self.batch_size // self.world
            batches = ((x[self.rank * b:(self.rank + 1) * b], y[self.rank * b:(self.rank + 1) * b])
                       for x, y in batches)
        return batches, n

    def _global_batches(self, epoch):
        rng = np.random.default_rng([self.seed, epoch])
        if self.text:
            return _text_batches(self.corpus.train, rng, STEPS_PER_EPOCH, self.batch_size, SEQ_LEN), STEPS_PER_EPOCH
        d = self.data
        order = rng.permutation(len(d.y_train))
        bs = self.batch_size
        n = len(order) // bs  # drop the ragged last batch: fixed shapes, no reallocation
        return ((d.X_train[order[k * bs:(k + 1) * bs]], d.y_train[order[k * bs:(k + 1) * bs]])
                for k in range(n)), n

    def train_step(self, xb, yb):
        self.net.train()
        out = self.model(xb)
        if self.text:
            v = out.shape[-1]
            loss = self.loss_fn(out.reshape(-1, v), yb.reshape(-1))
        else:
            loss = self.loss_fn(out, yb)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    @no_grad()
    def evaluate(self):
        """Test accuracy (digits) or held-out bits per character (text)."""
        self.net.eval()
        if self.text:
            X, Y = _heldout_windows(self.corpus.test, SEQ_LEN)
            total = 0.0
            for k in range(0, len(X), 64):
                out = self.net(X[k:k + 64])
                v = out.shape[-1]
                total += nn.CrossEntropyLoss(reduction="sum")(out.reshape(-1, v), Y[k:k + 64].reshape(-1)).item()
            return total / Y.size / math.log(2)
        d = self.data
        pred = np.argmax(self.net(d.X_test).data, axis=1)
        return float(np.mean(pred == d.y_test))

    @property
    def metric_name(self):
        return "bits/char" if self.text else "test acc"

    def fit(self, progress=True, on_epoch=None, until=None):
        """Train up to epoch `until` (default: all planned epochs)."""
        from tqdm import tqdm
        stop = self.epochs if until is None else min(int(until), self.epochs)
        while self.epoch < stop:
            batches, n = self._batches(self.epoch)
            if self.world > 1:  # dropout masks of its own on every rank, resumable by epoch
                _random.generator().bit_generator.state = \
                    np.random.default_rng([self.seed, self.epoch, self.rank]).bit_generator.state
            t0, seen, losses = time.perf_counter(), 0, []
            bar = tqdm(batches, total=n, desc=f"{self.model_name} epoch {self.epoch + 1}/{self.epochs}",
                       disable=not progress, leave=False, unit="batch")
            for xb, yb in bar:
                losses.append(self.train_step(xb, yb))
                seen += xb.shape[0] * self.world
                if progress:
                    bar.set_postfix(loss=f"{losses[-1]:.3f}", ex_s=f"{seen / (time.perf_counter() - t0):.0f}")
            secs = time.perf_counter() - t0
            self.epoch += 1
            self.sched.step()
            if self.world > 1:  # the losses of the whole batches, the same on every rank
                from . import distributed
                losses = distributed.all_reduce(np.array(losses, dtype=np.float64), op="avg").tolist()
            rec = {"epoch": self.epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                   "metric": self.evaluate(), "seconds": secs, "examples_per_s": seen / secs if secs else 0.0,
                   "losses": [float(v) for v in losses]}
            self.history.append(rec)
            if on_epoch:
                on_epoch(self, rec)
        return self.history

    # ------------------------------------------------------------ text generation
    @no_grad()
    def generate(self, prompt="The ", length=200, temperature=0.8):
        if not self.text:
            raise ValueError("generate: only the text models generate")
        vocab = self.corpus.vocab
        lookup = {c: i for i, c in enumerate(vocab)}
        ids = [lookup.get(c, 0) for c in prompt] or [0]
        rng = np.random.default_rng([self.seed, 10 ** 6])
        self.net.eval()
        out = []
        for _ in range(length):
            ctx = np.array([ids[-SEQ_LEN:]], np.int64)
            logits = self.net(ctx).data[0, -1].astype(np.float64) / temperature
            p = np.exp(logits - logits.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            ids.append(nxt)
            out.append(vocab[nxt])
        return prompt + "".join(out)
