"""Autograd: Tensor arithmetic and every functional against finite
differences in float64 (and torch when it is importable), models written as
forward passes only (residual blocks, shared weights, custom losses, the
models of fastnn.train), per-call saved tensors, grad mode, and clear errors."""
import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.nn import functional as F
from nn_helpers import numeric_grad


def rnd(*shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def check_fn(fn, *arrays, rtol=1e-6, atol=1e-8, seed=0):
    """Autograd's gradients of sum(fn(*tensors) * w) against central
    differences, for every float64 argument."""
    w = None

    def value():
        with fastnn.no_grad():
            out = fn(*[fastnn.Tensor(a) for a in arrays])  # views: the differences move the arrays
        return float(np.sum(np.asarray(out) * w))

    ts = [fastnn.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    w = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(w)
    for i, (a, t) in enumerate(zip(arrays, ts)):
        got = np.zeros_like(a) if t.grad is None else t.grad
        np.testing.assert_allclose(got, numeric_grad(value, a), rtol=rtol, atol=atol, err_msg=f"argument {i}")
    return ts


# ---------------------------------------------------------------- Tensor arithmetic

@pytest.mark.parametrize("name,fn,shapes", [
    ("add", lambda a, b: a + b, [(3, 4), (3, 4)]),
    ("add-broadcast", lambda a, b: a + b, [(3, 4), (4,)]),
    ("sub-broadcast", lambda a, b: a - b, [(2, 1, 4), (3, 1)]),
    ("rsub-scalar", lambda a: 2.0 - a, [(3,)]),
    ("mul-broadcast", lambda a, b: a * b, [(3, 4), (3, 1)]),
    ("div", lambda a, b: a / b, [(3, 4), (1, 4)]),
    ("rdiv-scalar", lambda a: 1.5 / a, [(5,)]),
    ("neg", lambda a: -a, [(2, 3)]),
    ("pow", lambda a: a ** 3, [(2, 3)]),
    ("pow-half", lambda a: (a * a + 1.0) ** 0.5, [(4,)]),
    ("matmul-2d", lambda a, b: a @ b, [(3, 4), (4, 5)]),
    ("matmul-batched", lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    ("matmul-vector", lambda a, b: a @ b, [(3, 4), (4,)]),
    ("matmul-dot", lambda a, b: a @ b, [(4,), (4,)]),
    ("sum-all", lambda a: a.sum(), [(3, 4)]),
    ("sum-axis", lambda a: a.sum(axis=1), [(3, 4, 2)]),
    ("sum-keepdims", lambda a: a.sum(axis=(0, 2), keepdims=True), [(3, 4, 2)]),
    ("mean-axis", lambda a: a.mean(axis=-1), [(3, 4)]),
    ("mean-keepdims", lambda a: a.mean(axis=0, keepdims=True), [(3, 4)]),
    ("reshape", lambda a: a.reshape(4, 3) * 2, [(3, 4)]),
    ("transpose", lambda a: a.T @ a, [(3, 4)]),
    ("transpose-dims", lambda a: a.transpose(0, 2), [(2, 3, 4)]),
    ("slice", lambda a: a[1:, ::2], [(4, 5)]),
    ("index-int", lambda a: a[2], [(4, 5)]),
    ("fancy-index-repeats", lambda a: a[np.array([0, 2, 0])], [(4, 5)]),
    ("exp-log", lambda a: (a.exp() + 1.0).log(), [(3, 3)]),
    ("abs", lambda a: a.abs(), [(3, 3)]),
    ("max", lambda a: a.max(axis=1), [(3, 4)]),
    ("cat", lambda a, b: fastnn.cat([a, b], dim=1), [(2, 3), (2, 2)]),
    ("stack", lambda a, b: fastnn.stack([a, b], dim=1), [(2, 3), (2, 3)]),
    ("chain", lambda a, b: ((a @ b).relu() * 3.0 - b.sum()).mean(axis=0), [(3, 4), (4, 2)]),
])
def test_tensor_ops_against_finite_differences(name, fn, shapes):
    arrays = [rnd(*s, seed=i + 1) + (3.0 if name.startswith(("div", "rdiv", "pow-half")) and i else 0.0)
              for i, s in enumerate(shapes)]
    if name.startswith("rdiv"):
        arrays = [a + 3.0 for a in arrays]
    check_fn(fn, *arrays)


def test_tensor_basics():
    a = fastnn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert a.shape == (2, 3) and a.ndim == 2 and a.dtype == np.float64 and a.requires_grad and a.grad is None
    assert a.grad_fn is None and a.is_leaf
    b = a * 2
    assert b.grad_fn is not None and not b.is_leaf and b.requires_grad
    assert np.asarray(b).tolist() == [[0, 2, 4], [6, 8, 10]] and b.numpy() is b.data
    assert np.sum(b) == 30 and float(b.sum()) == 30.0 and b.sum().item() == 30.0
    d = b.detach()
    assert d.grad_fn is None and not d.requires_grad and d.data is b.data
    assert fastnn.tensor([1.0, 2.0]).dtype == np.float32  # Python floats: float32, torch's default
    assert "grad_fn" in repr(b) and "requires_grad=True" in repr(a)
    t = fastnn.tensor(np.zeros(3))
    assert not t.requires_grad and (t + 1).grad_fn is None  # nothing to differentiate, nothing recorded


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    ours = [fastnn.tensor(v, requires_grad=True) for v in (a, b, c)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (a, b, c)]
    for T, (x, y, z) in ((None, ours), (torch, theirs)):
        out = ((x @ y + z) ** 2 / 3.0 - x.sum() * z).mean()
        out.backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- functional

FUNCTIONALS = [
    ("linear", lambda x, w, b: F.linear(x, w, b), [(4, 5), (3, 5), (3,)]),
    ("linear-relu", lambda x, w, b: F.linear(x, w, b, activation="relu"), [(4, 5), (3, 5), (3,)]),
    ("linear-tanh-3d", lambda x, w: F.linear(x, w, activation="tanh"), [(2, 4, 5), (3, 5)]),
    ("relu", F.relu, [(3, 4)]),
    ("gelu", F.gelu, [(3, 4)]),
    ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    ("sigmoid", F.sigmoid, [(3, 4)]),
    ("tanh", F.tanh, [(3, 4)]),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), [(3, 4)]),
    ("softmax", lambda x: F.softmax(x, dim=-1), [(3, 4)]),
    ("softmax-dim0", lambda x: F.softmax(x, dim=0), [(3, 4)]),
    ("log_softmax", lambda x: F.log_softmax(x, dim=-1), [(3, 4)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1, stride=2), [(2, 3, 6, 5), (4, 3, 3, 3), (4,)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), [(2, 3, 6, 6)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), [(2, 3, 7, 6)]),
    ("attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [(2, 2, 5, 4), (2, 2, 6, 4),
                                                                            (2, 2, 6, 4)]),
    ("attention-causal", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [(1, 2, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4)]),
    ("mse_loss", lambda x, t: F.mse_loss(x, t), [(3, 4), (3, 4)]),
]


@pytest.mark.parametrize("name,fn,shapes", FUNCTIONALS, ids=[f[0] for f in FUNCTIONALS])
def test_functional_against_finite_differences(name, fn, shapes):
    arrays = [rnd(*s, seed=i + 3, scale=1.5) for i, s in enumerate(shapes)]
    if name.startswith(("relu", "linear-relu", "max_pool")):
        arrays[0][np.abs(arrays[0]) < 1e-2] = 0.5  # keep kinks and ties away from the differences
    check_fn(fn, *arrays, rtol=1e-5, atol=1e-7)


def test_cross_entropy_and_embedding_functionals():
    x = rnd(5, 4, seed=1)
    t = np.array([0, 3, 1, 1, 2])
    check_fn(lambda a: F.cross_entropy(a, t), x)
    check_fn(lambda a: F.cross_entropy(a, t, reduction="none"), x)
    w = rnd(6, 3, seed=2)
    idx = np.array([[0, 5, 5], [1, 0, 2]])
    check_fn(lambda a: F.embedding(idx, a), w)


def test_dropout_functional():
    x = rnd(40, 50)
    fastnn.manual_seed(3)
    xt = fastnn.tensor(x, requires_grad=True)
    y = F.dropout(xt, 0.25, training=True)
    y.backward(np.ones_like(x))
    kept = y.numpy() != 0
    np.testing.assert_allclose(xt.grad[kept], 1 / 0.75)
    assert not xt.grad[~kept].any()
    assert F.dropout(xt, 0.25, training=False) is xt


def test_functional_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    ours = [fastnn.tensor(v, requires_grad=True) for v in (x, w, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    outs = []
    for lib, (a, c, d) in ((F, ours), (tf, theirs)):
        y = lib.max_pool2d(lib.relu(lib.conv2d(a, c, d, padding=1)), 2)
        y = lib.layer_norm(y, (4,)) if lib is F else tf.layer_norm(y, (4,))
        loss = lib.cross_entropy(y.reshape(2, -1), np.array([3, 7]) if lib is F else torch.tensor([3, 7]))
        loss.backward()
        outs.append(loss.item())
    assert abs(outs[0] - outs[1]) < 1e-10
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- models as forward passes

class Residual(nn.Module):
    """y = x + W2 relu(W1 x)"""

    def __init__(self, d, h):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, h, dtype=np.float64), nn.Linear(h, d, dtype=np.float64)

    def forward(self, x):
        return x + self.fc2(F.relu(self.fc1(x)))


def check_module(module, x, loss=lambda y: (y * y).sum(), rtol=1e-6, atol=1e-8):
    """Gradients of loss(module(x)) w.r.t. x and every parameter against central differences."""
    def value():
        with fastnn.no_grad():
            return float(loss(module(x)))
    module.zero_grad()
    xt = fastnn.tensor(x, requires_grad=True) if x.dtype.kind == "f" else x
    loss(module(xt)).backward()
    if isinstance(xt, fastnn.Tensor):
        np.testing.assert_allclose(xt.grad, numeric_grad(value, x), rtol=rtol, atol=atol, err_msg="input")
    for name, p in module.named_parameters():
        got = np.zeros_like(p.data) if p.grad is None else p.grad
        np.testing.assert_allclose(got, numeric_grad(value, p.data), rtol=rtol, atol=atol, err_msg=name)


def test_residual_block():
    fastnn.manual_seed(0)
    check_module(Residual(5, 7), rnd(4, 5))


def test_weight_sharing():
    fastnn.manual_seed(1)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4, dtype=np.float64)

        def forward(self, x):
            return self.lin(F.tanh(self.lin(x)))
    check_module(Twice(), rnd(3, 4))


def test_custom_loss_of_tensor_arithmetic():
    fastnn.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Sigmoid())
    target = rnd(5, 4, seed=9)

    def loss(y):
        err = y - target
        return (err * err).mean() + 0.1 * (y.abs()).sum() / 5.0
    check_module(model, rnd(5, 3), loss)


def test_calling_a_layer_twice_before_backward():
    """The trap of per-module saved state: each call keeps its own inputs."""
    fastnn.manual_seed(3)
    lin = nn.Linear(4, 3, dtype=np.float64)
    x1, x2 = rnd(2, 4, seed=1), rnd(5, 4, seed=2)
    a = lin(x1)
    a_before = a.numpy().copy()
    b = lin(x2)
    np.testing.assert_array_equal(a.numpy(), a_before)  # not overwritten by the second call
    (a.sum() + (b * b).sum()).backward()
    w, bias = lin.weight.data, lin.bias.data
    yb = x2 @ w.T + bias
    want_w = np.ones((2, 3)).T @ x1 + (2 * yb).T @ x2
    np.testing.assert_allclose(lin.weight.grad, want_w, rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, 2 + (2 * yb).sum(0), rtol=1e-12)


def test_validation_forward_between_forward_and_backward():
    fastnn.manual_seed(4)
    model = nn.Sequential(nn.Linear(4, 6, dtype=np.float64), nn.ReLU(), nn.Linear(6, 2, dtype=np.float64))
    x = rnd(3, 4)
    loss = (model(x) ** 2).sum()
    with fastnn.no_grad():
        model(rnd(7, 4, seed=5))
    loss.backward()
    got = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    (model(x) ** 2).sum().backward()
    for n, p in model.named_parameters():
        np.testing.assert_array_equal(got[n], p.grad)


def test_gradients_accumulate_and_zero_grad_sets_none():
    fastnn.manual_seed(5)
    lin = nn.Linear(3, 2, dtype=np.float64)
    x = rnd(4, 3)
    lin(x).sum().backward()
    once = lin.weight.grad.copy()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad, 2 * once)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    opt.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None
    before = lin.weight.data.copy()
    opt.step()  # no gradients: nothing moves
    np.testing.assert_array_equal(lin.weight.data, before)


def test_no_input_gradient_for_a_data_batch():
    fastnn.manual_seed(6)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    y = model(np.ones((2, 3), np.float32))
    first = y.grad_fn
    while first.next[0] is not None:  # follow the input edge down to the first layer
        first = first.next[0]
    assert type(first).__name__ == "LinearBackward" and first.need_x is False


def test_char_models_of_fastnn_train():
    from fastnn.train import CharLSTM, CharTransformer
    ids = np.array([[1, 4, 2, 0, 3], [2, 2, 1, 4, 0]])
    t = np.array([[4, 2, 0, 3, 1], [2, 1, 4, 0, 3]]).reshape(-1)
    fastnn.manual_seed(7)
    lstm = CharLSTM(vocab=5, embed=4, hidden=6).double()
    check_module(lstm, ids, lambda y: F.cross_entropy(y.reshape(-1, 5), t), rtol=1e-5, atol=1e-7)
    fastnn.manual_seed(8)
    tf = CharTransformer(vocab=5, d_model=8, nhead=2, layers=2, ff=12, context=8).double()
    for p in tf.parameters():
        p.data += np.random.default_rng(0).standard_normal(p.shape) * 0.05
    check_module(tf, ids, lambda y: F.cross_entropy(y.reshape(-1, 5), t), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- grad mode, errors, hooks

def test_no_grad_context_and_decorator():
    w = fastnn.tensor(np.ones(3), requires_grad=True)
    with fastnn.no_grad():
        y = w * 2
        assert not fastnn.is_grad_enabled()
        with fastnn.enable_grad():
            assert (w * 2).grad_fn is not None
    assert y.grad_fn is None and not y.requires_grad and fastnn.is_grad_enabled()

    @fastnn.no_grad()
    def f(v):
        return F.linear(v, w.reshape(1, 3))
    assert f(np.ones((2, 3))).grad_fn is None and fastnn.is_grad_enabled()


def test_errors_are_clear():
    x = fastnn.tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs.*shape \\(2, 3\\)"):
        y.backward()
    loss = (y * y).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        loss.backward()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()  # the graph was kept
    np.testing.assert_allclose(x.grad, 18 + 2 * 2, rtol=1e-12)  # 2 (3x) 3 once, then 2x twice
    with pytest.raises(RuntimeError, match="does not require a grad"):
        fastnn.tensor(np.ones(2)).sum().backward()
    with pytest.raises(TypeError, match="linear: input has dtype float32 but the weights are float64"):
        F.linear(np.ones((2, 3), np.float32), fastnn.tensor(np.ones((4, 3)), requires_grad=True))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\)"):
        x @ x
    with pytest.raises(TypeError, match="only float32 and float64 tensors can require a grad"):
        fastnn.tensor(np.arange(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"Linear\(in_features=3.*last dimension 3.*\(2, 4\)"):
        nn.Linear(3, 2)(fastnn.tensor(np.ones((2, 4), np.float32)))


def test_post_accumulate_grad_hook_sees_the_final_grad_once():
    fastnn.manual_seed(9)
    lin = nn.Linear(3, 3, dtype=np.float64)
    seen = []
    handle = lin.weight.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.copy()))
    x = rnd(2, 3)
    lin(F.tanh(lin(x))).sum().backward()  # two contributions to weight.grad
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], lin.weight.grad)
    handle.remove()
    lin(x).sum().backward()
    assert len(seen) == 1


def test_queue_callback_runs_after_backward():
    x = fastnn.tensor(np.ones(2), requires_grad=True)
    order = []
    x.register_post_accumulate_grad_hook(
        lambda p: (order.append("hook"), fastnn.autograd.queue_callback(lambda: order.append("end"))))
    (x * 2).sum().backward()
    assert order == ["hook", "end"]
    with pytest.raises(RuntimeError, match="only callable during a backward"):
        fastnn.autograd.queue_callback(lambda: None)


def test_custom_function():
    class Cube(fastnn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g
    check_fn(lambda a: Cube.apply(a) * 2.0, rnd(3, 2))


def test_rss_flat_over_1000_autograd_steps():
    resource = pytest.importorskip("resource")
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = optim.Adam(model.parameters())
    x = rnd(16, 32).astype(np.float32)
    t = np.arange(16) % 10

    def steps(n):
        for _ in range(n):
            loss = F.cross_entropy(model(x), t)
            opt.zero_grad()
            loss.backward()
            opt.step()

    def rss():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    steps(50)
    before = rss()
    steps(1000)
    assert rss() - before < 2048, "the graph is not freed between steps"


# ---------------------------------------------------------------- the sequence layers against torch

def _load_into_torch(torch, ours, theirs):
    theirs = theirs.double()  # first: loading into float32 parameters would round the weights
    theirs.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in ours.state_dict().items()})
    return theirs


def _compare_grads(ours, theirs, rtol=1e-9, atol=1e-11):
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tp[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent_layers_against_torch(kind):
    torch = pytest.importorskip("torch")
    fastnn.manual_seed(0)
    ours = getattr(nn, kind)(5, 6, num_layers=2, batch_first=True).double()
    theirs = _load_into_torch(torch, ours, getattr(torch.nn, kind)(5, 6, num_layers=2, batch_first=True))
    x = rnd(3, 4, 5)
    xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, so = ours(xo)
    yt, st = theirs(xt)
    ho, hto = (so[0], st[0]) if kind == "LSTM" else (so, st)
    w = rnd(*yo.shape, seed=1)
    ((yo * w).sum() + (ho * ho).sum()).backward()
    ((yt * torch.tensor(w)).sum() + (hto * hto).sum()).backward()
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    _compare_grads(ours, theirs)


def test_attention_layers_against_torch():
    torch = pytest.importorskip("torch")
    fastnn.manual_seed(1)
    ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, activation="gelu", norm_first=True,
                                      batch_first=True).double()
    for p in ours.parameters():
        p.data += rnd(*p.shape, seed=2) * 0.1
    theirs = _load_into_torch(torch, ours, torch.nn.TransformerEncoderLayer(
        8, 2, dim_feedforward=12, dropout=0.0, activation="gelu", norm_first=True, batch_first=True))
    x = rnd(2, 5, 8, seed=3)
    xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    yo, yt = ours(xo, is_causal=True), theirs(xt, src_mask=mask, is_causal=True)
    w = rnd(*yo.shape, seed=4)
    (yo * w).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    _compare_grads(ours, theirs)


def test_gradients_accumulate_into_a_grad_the_user_set():
    fastnn.manual_seed(10)
    lin = nn.Linear(3, 4, dtype=np.float64)
    x = rnd(5, 3)
    lin(x).sum().backward()
    want_w, want_b = 2 * lin.weight.grad, 2 * lin.bias.grad
    lin.weight.grad = np.asfortranarray(lin.weight.grad)  # not C-contiguous: added to, not written in place
    lin.bias.grad = lin.bias.grad.astype(">f8")  # byte-swapped
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad, want_w, rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, want_b, rtol=1e-12)


def test_tensors_copy_and_pickle_as_leaves_and_deleted_fields_never_crash():
    import copy
    import pickle
    p = nn.Parameter(np.arange(6, dtype=np.float64).reshape(2, 3))
    p.grad = np.ones((2, 3))
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is nn.Parameter and q.requires_grad and q.grad_fn is None
        np.testing.assert_array_equal(q.data, p.data)
        np.testing.assert_array_equal(q.grad, p.grad)
        assert q.data is not p.data and q.grad is not p.grad
    with pytest.raises(RuntimeError, match="leaf"):
        copy.deepcopy(p * 2)
    t = fastnn.tensor(np.ones(3), requires_grad=True)
    del t.grad  # as for a slot: reading it raises until it is set again
    with pytest.raises(AttributeError):
        t.grad
    t.grad = None
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad, [2, 2, 2])
    del t.requires_grad, t._acc
    assert t.requires_grad is None and not fastnn.autograd.needs_grad(t)
    assert (t * 2).grad_fn is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_gelu_linear_node_is_gelu_then_linear(dtype, threads):
    """F._gelu_linear (one node, GELU's derivative applied in the input
    gradient's GEMM) gives linear(gelu(z))'s output and gradients bit for
    bit, also when z has another use whose gradient adds to it, and when
    only the parameters need gradients."""
    nt0 = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    try:
        rng = np.random.default_rng(7)
        z0 = (rng.standard_normal((3, 50, 64)) * 2).astype(dtype)
        w0, b0 = rng.standard_normal((24, 64)).astype(dtype), rng.standard_normal(24).astype(dtype)
        g = rng.standard_normal((3, 50, 24)).astype(dtype)

        def run(fused, other_use, input_grad=True):
            z = fastnn.Tensor(z0.copy(), requires_grad=input_grad)
            w, b = fastnn.Tensor(w0.copy(), requires_grad=True), fastnn.Tensor(b0.copy(), requires_grad=True)
            y = F._gelu_linear(z, w, b) if fused else F.linear(F.gelu(z), w, b)
            if other_use:
                y = y + F.linear(z, w, b)
            (y * fastnn.Tensor(g)).sum().backward()
            return [y.data] + [t.grad for t in (z, w, b) if t.grad is not None]
        for other_use in (False, True):
            want, got = run(False, other_use), run(True, other_use)
            assert len(got) == len(want) == 4
            for x, r in zip(got, want):
                assert x.dtype == dtype and x.tobytes() == r.tobytes()
        want, got = run(False, False, False), run(True, False, False)
        assert len(got) == len(want) == 3 and all(x.tobytes() == r.tobytes() for x, r in zip(got, want))
    finally:
        fastnn.set_num_threads(nt0)


def test_transformer_feed_forward_is_one_node_when_gelu_has_no_dropout():
    fastnn.manual_seed(8)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, activation="gelu", batch_first=True)
    h = fastnn.Tensor(np.ones((2, 5, 16), np.float32), requires_grad=True)
    def last(layer):
        return layer._ff_block(h, lambda t: t).grad_fn.name
    assert last(layer) == "ActLinearBackward"
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, activation="gelu", batch_first=True)
    assert last(layer) == "LinearBackward"  # dropout between GELU and linear2: two nodes
    layer.eval()
    assert last(layer) == "ActLinearBackward"
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, activation="relu", batch_first=True)
    assert last(layer) == "LinearBackward"


def test_gelu_linear_under_no_grad_records_nothing():
    z = fastnn.Tensor(np.ones((4, 8), np.float32), requires_grad=True)
    w = fastnn.Tensor(np.ones((3, 8), np.float32), requires_grad=True)
    with fastnn.no_grad():
        y = F._gelu_linear(z, w)
    assert y.grad_fn is None and not y.requires_grad
    with pytest.raises(ValueError, match="bias has shape"):
        F._gelu_linear(z, w, fastnn.Tensor(np.ones(4, np.float32)))
