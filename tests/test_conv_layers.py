"""nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d: PyTorch's names, layout and
initialisation range, finite-difference gradients of input and parameters
in float64, buffer reuse, errors naming the layer."""
import math

import numpy as np
import pytest

import fastnn
from fastnn import nn

from nn_helpers import backward_grads, numeric_grad


def test_conv2d_parameters_like_pytorch():
    fastnn.manual_seed(0)
    m = nn.Conv2d(6, 8, 3, stride=2, padding=1, groups=2)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert m.weight.shape == (8, 3, 3, 3) and m.bias.shape == (8,)
    bound = 1 / math.sqrt(3 * 9)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.bias.data).max() <= bound
    assert np.abs(m.weight.data).max() > 0.8 * bound  # uniform over the whole range
    assert m.weight.data.dtype == np.float32
    assert nn.Conv2d(2, 4, (1, 3), bias=False).bias is None
    assert list(nn.Conv2d(2, 4, 3, bias=False).state_dict()) == ["weight"]


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding=(1, 2), dilation=(2, 1), groups=2),
                                dict(groups=4, padding=1)])
def test_conv2d_finite_differences(kw):
    fastnn.manual_seed(1)
    m = nn.Conv2d(4, 4, (3, 2), dtype=np.float64, **kw)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 6, 5))
    y = m(x)
    gy = rng.standard_normal(y.shape)
    m.zero_grad()
    _, (gx,) = backward_grads(m, [x], gy)

    def loss():
        return float(np.sum(m(x) * gy))
    np.testing.assert_allclose(gx, numeric_grad(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(m.weight.grad, numeric_grad(loss, m.weight.data), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(m.bias.grad, numeric_grad(loss, m.bias.data), rtol=1e-6, atol=1e-8)
    # gradients accumulate
    w1 = m.weight.grad.copy()
    m(x).backward(gy)
    np.testing.assert_allclose(m.weight.grad, 2 * w1)


@pytest.mark.parametrize("cls", [nn.MaxPool2d, nn.AvgPool2d])
def test_pool_layers_finite_differences(cls):
    m = cls(3, stride=2, padding=1)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 8))
    y = m(x)
    assert y.shape == (2, 3, 4, 4)
    gy = rng.standard_normal(y.shape)
    _, (gx,) = backward_grads(m, [x], gy)
    np.testing.assert_allclose(gx, numeric_grad(lambda: float(np.sum(m(x) * gy)), x), rtol=1e-6, atol=1e-8)
    assert cls(2).stride == (2, 2)


def test_cnn_step_repeats_and_keeps_outputs():
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3),
                          nn.AvgPool2d(2), nn.Flatten())
    x = np.random.default_rng(0).standard_normal((5, 1, 10, 10)).astype(np.float32)
    y1, (g1,) = backward_grads(model, [x], np.ones((5, 8), np.float32))
    y2, (g2,) = backward_grads(model, [x], np.ones((5, 8), np.float32))
    assert y1.shape == (5, 8)
    assert np.array_equal(y1, y2) and np.array_equal(g1, g2)
    a, b = model(x), model(x + 1)  # a later call leaves the first output alone
    assert not np.shares_memory(a.numpy(), b.numpy()) and np.array_equal(a.numpy(), y1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pool", [lambda: nn.MaxPool2d(2), lambda: nn.MaxPool2d(3, stride=2, padding=1),
                                  lambda: nn.AvgPool2d(2)])
def test_sequential_relu_then_pool_is_bit_identical_to_the_layers_in_order(isa, threads, dtype, pool):
    """A Sequential runs ReLU -> MaxPool2d as the pooling, then the ReLU (on a
    quarter of the elements of a 2x2 pool): the output and every gradient
    are bit-identical to the layers run one by one in their order, ties and
    windows with no positive element included (only the sign of a zero
    could differ, where the convolution gives -0).  Average pooling does
    not commute with ReLU and runs as written."""
    fastnn.manual_seed(0)
    pool = pool()
    conv = nn.Conv2d(2, 4, 3, padding=1, dtype=dtype)
    conv.bias.data[:] = [0.5, -0.5, 0.0, 0.1]
    layers = [conv, nn.ReLU(), pool, nn.Flatten()]
    seq = nn.Sequential(*layers)
    x = np.random.default_rng(3).standard_normal((3, 2, 9, 9)).astype(dtype)
    x[0, :, :5, :5] = 0  # conv outputs equal to the bias: ties, zeros, all-negative windows
    x[2] = -np.abs(x[2])
    gy = np.random.default_rng(4).standard_normal(seq(x).shape).astype(dtype)

    def run(forward):
        xt = fastnn.tensor(x, requires_grad=True)
        conv.weight.grad = conv.bias.grad = None
        y = forward(xt)
        y.backward(gy)
        return [y.numpy(), xt.grad, conv.weight.grad, conv.bias.grad]

    def in_order(t):
        for m in layers:
            t = m(t)
        return t

    got, want = run(seq), run(in_order)
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype and np.array_equal(a, b), f"result {i} differs"
    order = [type(m) for m, _ in seq._plan()]
    swapped = type(pool) is nn.MaxPool2d
    assert (order.index(type(pool)) < order.index(nn.ReLU)) == swapped


def test_errors_name_the_layer():
    m = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*expected 3 input channels"):
        m(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*larger than the padded input"):
        m(np.zeros((1, 3, 2, 5), np.float32))
    with pytest.raises(TypeError, match=r"Conv2d\(3, 4.*float64 but the layer's parameters are float32"):
        m(np.zeros((1, 3, 5, 5)))
    with pytest.raises(TypeError, match=r"Conv2d\(3, 4.*int64"):
        m(np.zeros((1, 3, 5, 5), np.int64))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*4-D"):
        m(np.zeros((3, 5, 5), np.float32))
    y = m(fastnn.tensor(np.zeros((1, 3, 5, 5), np.float32), requires_grad=True))
    with pytest.raises(RuntimeError, match=r"gradient has shape \(1, 4, 2, 2\), the tensor \(1, 4, 3, 3\)"):
        y.backward(np.zeros((1, 4, 2, 2), np.float32))
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="stride must be positive"):
        nn.Conv2d(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=\(4, 4\).*larger than the padded input"):
        nn.MaxPool2d(4)(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="AvgPool2d: padding"):
        nn.AvgPool2d(2, padding=2)
