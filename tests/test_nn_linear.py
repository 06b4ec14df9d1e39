"""nn.Linear: finite-difference gradients, PyTorch's layout and init, errors,
and an MLP that trains on the bundled digits."""
import numpy as np
import pytest

import fastnn
from fastnn import nn, optim

from test_nn_layers import check_layer_grads, x64


@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 7), (1, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(shape, bias):
    fastnn.manual_seed(0)
    layer = nn.Linear(7, 6, bias=bias, dtype=np.float64)
    check_layer_grads(layer, x64(*shape, seed=1))


def test_linear_layout_names_and_init():
    fastnn.manual_seed(0)
    layer = nn.Linear(100, 30)
    names = [n for n, _ in layer.named_parameters()]
    assert names == ["weight", "bias"]
    assert layer.weight.data.shape == (30, 100) and layer.bias.data.shape == (30,)
    assert layer.weight.data.dtype == np.float32
    bound = 1 / np.sqrt(100)
    w = layer.weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound  # uniform
    x = np.random.default_rng(0).standard_normal((4, 100)).astype(np.float32)
    np.testing.assert_allclose(layer(x), x @ w.T + layer.bias.data, rtol=1e-5, atol=1e-5)


def test_linear_loads_a_pytorch_shaped_state_dict():
    layer = nn.Linear(3, 2)
    sd = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3), "bias": np.array([1, -1], np.float32)}
    layer.load_state_dict(sd)
    np.testing.assert_array_equal(layer(np.ones((1, 3), np.float32)), [[4.0, 11.0]])


def test_linear_bad_input_names_the_layer():
    layer = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"Linear\(in_features=4.*last dimension 4.*\(2, 5\)"):
        layer(np.zeros((2, 5), np.float32))
    with pytest.raises(TypeError, match=r"Linear.*int64"):
        layer(np.zeros((2, 4), np.int64))
    with pytest.raises(TypeError, match=r"Linear.*float64.*float32"):
        layer(np.zeros((2, 4), np.float64))
    with pytest.raises(TypeError, match=r"Linear.*ndarray"):
        layer([[0.0] * 4])
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 3)
    layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"Linear.*\(2, 2\).*\(2, 3\)"):
        layer.backward(np.zeros((2, 2), np.float32))


def train_mlp(seed=0, epochs=6):
    X, y, _, _ = fastnn.datasets.load_digits()
    fastnn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for epoch in range(epochs):
        total, n = 0.0, 0
        for xb, yb in fastnn.data.DataLoader(X, y, batch_size=32, shuffle=True, seed=seed + epoch):
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            model.backward(loss_fn.backward())
            opt.step()
            total, n = total + loss * len(yb), n + len(yb)
        losses.append(total / n)
    return model, losses


def test_mlp_trains_on_digits_deterministically():
    model, losses = train_mlp()
    assert losses[-1] < 0.1, f"training loss per epoch: {losses}"
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    model2, losses2 = train_mlp()
    assert losses == losses2
    for (n1, p1), (n2, p2) in zip(model.named_parameters(), model2.named_parameters()):
        assert n1 == n2 and p1.data.tobytes() == p2.data.tobytes()
    _, _, Xt, yt = fastnn.datasets.load_digits()
    assert (model(Xt).argmax(1) == yt).mean() > 0.95
