"""fastnn.nn layers: backward against finite differences in float64 (input
gradient and every parameter gradient, train and eval mode where they
differ), PyTorch's parameter names and initialisation, the Module API, buffer
reuse and errors that name the layer."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from nn_helpers import numeric_grad


def check_layer_grads(layer, x, *, seed=None, rtol=1e-6, atol=1e-8):
    """Compare autograd's gradients of sum(layer(x) * w) with central
    differences for the input and every parameter (float64)."""
    rng = np.random.default_rng(0)
    y = layer(x)
    w = rng.standard_normal(y.shape)

    def f():
        if seed is not None:
            fastnn.manual_seed(seed)
        with fastnn.no_grad():
            return float(np.sum(layer(x).numpy() * w))

    f()
    layer.zero_grad()
    xt = fastnn.tensor(x, requires_grad=True)
    if seed is not None:
        fastnn.manual_seed(seed)
    layer(xt).backward(w.copy())
    dx = xt.grad.copy()
    grads = {name: (np.zeros_like(p.data) if p.grad is None else p.grad.copy())
             for name, p in layer.named_parameters()}
    state = {k: v.copy() for k, v in layer.state_dict().items()}
    num_dx = numeric_grad(f, x)
    np.testing.assert_allclose(dx, num_dx, rtol=rtol, atol=atol, err_msg="input gradient")
    for name, p in layer.named_parameters():
        num = numeric_grad(f, p.data)
        np.testing.assert_allclose(grads[name], num, rtol=rtol, atol=atol, err_msg=f"gradient of {name}")
    layer.load_state_dict(state)  # running statistics moved during the differences


def x64(*shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize("layer", [nn.ReLU(), nn.LeakyReLU(0.1), nn.Sigmoid(), nn.Tanh(), nn.GELU(),
                                   nn.GELU("tanh"), nn.Softmax(dim=-1), nn.Softmax(dim=1), nn.Flatten(),
                                   nn.Flatten(0, 1)], ids=repr)
def test_parameter_free_layer_gradients(layer):
    x = x64(3, 4, 5, scale=2)
    x[np.abs(x) < 1e-3] = 0.5  # keep relu's kink away from the differences
    check_layer_grads(layer, x)


@pytest.mark.parametrize("training", [True, False])
def test_dropout(training):
    layer = nn.Dropout(0.3)
    layer.train(training)
    x = x64(50, 40)
    if not training:
        np.testing.assert_array_equal(layer(x), x)
        xt = fastnn.tensor(x, requires_grad=True)
        layer(xt).sum().backward()
        np.testing.assert_array_equal(xt.grad, np.ones_like(x))
        return
    fastnn.manual_seed(7)
    y = layer(x)
    y = y.numpy()
    kept = y != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(y[kept], x[kept] / 0.7)
    fastnn.manual_seed(7)
    np.testing.assert_array_equal(layer(x), y)  # seeded through fastnn.manual_seed
    check_layer_grads(layer, x64(4, 5), seed=3)


def test_dropout_p_one_and_zero():
    x = x64(4, 4)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x), 0)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    with pytest.raises(ValueError, match="Dropout"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("shape,cls", [((6, 3), nn.BatchNorm1d), ((4, 3, 5), nn.BatchNorm1d),
                                       ((3, 2, 4, 3), nn.BatchNorm2d)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_gradients(shape, cls, training, affine):
    layer = cls(shape[1], affine=affine).double()
    rng = np.random.default_rng(1)
    if affine:
        layer.weight.data[:] = rng.standard_normal(shape[1])
        layer.bias.data[:] = rng.standard_normal(shape[1])
    layer.running_mean[:] = rng.standard_normal(shape[1])
    layer.running_var[:] = rng.random(shape[1]) + 0.5
    layer.train(training)
    check_layer_grads(layer, x64(*shape, scale=2), rtol=1e-5, atol=1e-7)


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    layer = nn.BatchNorm1d(3, track_running_stats=False).double().eval()
    assert "running_mean" not in layer.state_dict()
    check_layer_grads(layer, x64(5, 3), rtol=1e-5, atol=1e-7)
    y = layer(x64(5, 3)).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)


def test_batch_norm_running_statistics_follow_pytorch():
    layer = nn.BatchNorm2d(3, momentum=0.2)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = x64(4, 3, 2, 2, seed=step).astype(np.float32)
        layer(x)
        rm = 0.8 * rm + 0.2 * x.astype(np.float64).mean((0, 2, 3))
        rv = 0.8 * rv + 0.2 * x.astype(np.float64).var((0, 2, 3), ddof=1)
    np.testing.assert_allclose(layer.running_mean, rm, rtol=1e-5)
    np.testing.assert_allclose(layer.running_var, rv, rtol=1e-5)
    assert int(layer.num_batches_tracked) == 3
    # momentum=None: the cumulative average
    layer = nn.BatchNorm1d(2, momentum=None)
    xs = [x64(5, 2, seed=s).astype(np.float32) for s in range(3)]
    for x in xs:
        layer(x)
    np.testing.assert_allclose(layer.running_mean, np.mean([x.mean(0) for x in xs], 0), rtol=1e-5)
    # eval: normalise with the running statistics
    layer.eval()
    x = xs[0]
    np.testing.assert_allclose(layer(x), (x - layer.running_mean) / np.sqrt(layer.running_var + 1e-5), rtol=1e-5)


@pytest.mark.parametrize("shape,norm", [((4, 6), 6), ((2, 3, 5), 5), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradients(shape, norm, affine):
    layer = nn.LayerNorm(norm, elementwise_affine=affine).double()
    rng = np.random.default_rng(2)
    for p in layer.parameters():
        p.data[:] = rng.standard_normal(p.data.shape)
    check_layer_grads(layer, x64(*shape, scale=3), rtol=1e-5, atol=1e-7)


def test_sequential_gradients():
    model = nn.Sequential(nn.LayerNorm(5), nn.GELU(), nn.BatchNorm1d(5), nn.Tanh(), nn.Softmax(-1)).double()
    check_layer_grads(model, x64(6, 5), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- PyTorch conventions

def test_parameter_names_and_defaults():
    model = nn.Sequential(nn.BatchNorm2d(4), nn.Flatten(), nn.LayerNorm(8))
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "0.running_mean", "0.running_var", "0.num_batches_tracked",
                        "2.weight", "2.bias"]
    np.testing.assert_array_equal(sd["0.weight"], 1)
    np.testing.assert_array_equal(sd["0.bias"], 0)
    np.testing.assert_array_equal(sd["0.running_var"], 1)
    assert sd["0.num_batches_tracked"].dtype == np.int64 and sd["0.num_batches_tracked"].shape == ()
    assert sd["0.weight"].dtype == np.float32
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_grads_accumulate_and_zero_grad():
    layer = nn.LayerNorm(4)
    x = x64(3, 4).astype(np.float32)
    g = np.ones((3, 4), np.float32)
    layer(x).backward(g)
    once = layer.weight.grad.copy()
    layer(x).backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert layer.weight.grad is None
    layer(x).backward(g)
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad is not None and not layer.weight.grad.any()


def test_train_eval_propagate():
    model = nn.Sequential(nn.Dropout(), nn.Sequential(nn.BatchNorm1d(2)))
    model.eval()
    assert not model[0].training and not model[1][0].training
    model.train()
    assert model[1][0].training


def test_outputs_are_never_overwritten_by_a_later_call():
    model = nn.Sequential(nn.LayerNorm(8), nn.ReLU(), nn.BatchNorm1d(8), nn.Dropout(0.1), nn.Sigmoid())
    x = x64(16, 8).astype(np.float32)
    y1 = model(x)
    kept = y1.numpy().copy()
    y2 = model(x + 1)
    np.testing.assert_array_equal(y1.numpy(), kept)
    assert not np.shares_memory(y1.numpy(), y2.numpy())


# ---------------------------------------------------------------- state dicts

def test_load_state_dict_errors_leave_model_unchanged():
    model = nn.Sequential(nn.LayerNorm(4), nn.BatchNorm1d(4))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    good = {k: v + 1 for k, v in before.items()}
    cases = [
        ({k: v for k, v in good.items() if k != "1.running_var"}, "missing keys.*1.running_var"),
        (dict(good, extra=np.zeros(1)), "unexpected keys.*extra"),
        (dict(good, **{"0.weight": np.zeros(5, np.float32)}), r"0.weight: shape \(5,\)"),
        (dict(good, **{"0.bias": "zeros"}), "0.bias"),
    ]
    for sd, msg in cases:
        with pytest.raises(ValueError, match=msg):
            model.load_state_dict(sd)
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v, before[k])
    params = model.parameters()
    model.load_state_dict(good)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, good[k])
    assert model.parameters()[0] is params[0]  # in place: optimizers keep working


def test_load_state_dict_non_strict():
    model = nn.LayerNorm(3)
    missing, unexpected = model.load_state_dict({"weight": np.full(3, 2.0), "x": np.zeros(1)}, strict=False)
    assert missing == ["bias"] and unexpected == ["x"]
    np.testing.assert_array_equal(model.weight.data, 2)


# ---------------------------------------------------------------- bad input names the layer

@pytest.mark.parametrize("layer,x,exc,msg", [
    (nn.BatchNorm1d(4), np.zeros((2, 5), np.float32), ValueError, r"BatchNorm1d\(4.*4 channels.*\(2, 5\)"),
    (nn.BatchNorm1d(4), np.zeros((2, 4, 3, 3), np.float32), ValueError, r"BatchNorm1d.*2-D or 3-D"),
    (nn.BatchNorm2d(4), np.zeros((2, 4), np.float32), ValueError, r"BatchNorm2d.*4-D"),
    (nn.BatchNorm1d(4), np.zeros((1, 4), np.float32), ValueError, r"BatchNorm1d.*more than 1 value"),
    (nn.BatchNorm1d(4), np.zeros((2, 4), np.int64), TypeError, r"BatchNorm1d.*int64"),
    (nn.BatchNorm1d(4), np.zeros((2, 4), np.float64), TypeError, r"BatchNorm1d.*float64.*float32"),
    (nn.LayerNorm(6), np.zeros((2, 5), np.float32), ValueError, r"LayerNorm\(\(6,\).*\(2, 5\)"),
    (nn.LayerNorm(6), np.zeros((2, 6), np.float16), TypeError, r"LayerNorm.*float16"),
    (nn.ReLU(), [1.0, 2.0], TypeError, r"ReLU.*ndarray"),
    (nn.Softmax(dim=3), np.zeros((2, 2), np.float32), ValueError, r"Softmax\(dim=3\).*out of range"),
    (nn.GELU(), np.zeros(3, np.int32), TypeError, r"GELU.*int32"),
])
def test_bad_input_names_the_layer(layer, x, exc, msg):
    with pytest.raises(exc, match=msg):
        layer(x)


def test_backward_errors_are_clear():
    y = nn.Sigmoid()(fastnn.tensor(np.zeros((2, 3), np.float32), requires_grad=True))
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3, 2\), the tensor \(2, 3\)"):
        y.backward(np.zeros((3, 2), np.float32))
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()


def test_training_a_model_needs_linear():
    if not hasattr(nn, "Linear"):
        pytest.skip("nn.Linear arrives with the GEMM kernels (another branch)")
    X, y, Xt, yt = fastnn.datasets.load_digits()
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        for xb, yb in fastnn.data.DataLoader(X, y, batch_size=64, shuffle=True, seed=0):
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    assert (model(Xt).argmax(1) == yt).mean() > 0.9
