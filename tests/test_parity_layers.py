"""Containers, activations, Conv1d, ConvTranspose2d, padding="same",
AdaptiveAvgPool2d, Dropout2d and GroupNorm: gradients against finite
differences (float64) and outputs / gradients against torch with torch's
weights loaded, plus errors that name the layer."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from parity_helpers import check_grads, compare_module, leaf, torch_state

RNG = np.random.default_rng(2026)


def randn(*shape):
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------- containers

def test_identity_passes_input_through_and_takes_any_args():
    m = nn.Identity(3, unused=True)
    x = leaf(randn(2, 3))
    assert m(x) is x
    assert m.parameters() == []


def test_module_list_is_a_list_of_registered_modules():
    layers = nn.ModuleList([nn.Linear(3, 4), nn.ReLU()])
    layers.append(nn.Linear(4, 2))
    layers.extend([nn.Tanh()])
    layers.insert(1, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Linear", "Identity", "ReLU", "Linear", "Tanh"]
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    assert [type(m).__name__ for m in layers[1:3]] == ["Identity", "ReLU"]
    del layers[1]
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    layers[1] = nn.Sigmoid()
    assert isinstance(layers[1], nn.Sigmoid)
    layers += [nn.Identity()]
    assert len(layers) == 5 and len(layers + nn.ModuleList([nn.ReLU()])) == 6
    layers.eval()
    assert all(not m.training for m in layers)
    with pytest.raises(IndexError, match="ModuleList.*5"):
        layers[5]
    with pytest.raises(TypeError, match="ModuleList.*int, not a Module"):
        layers.append(3)
    with pytest.raises(TypeError, match="ModuleList.*element 1"):
        nn.ModuleList([nn.ReLU(), "relu"])
    with pytest.raises(NotImplementedError, match="ModuleList"):
        layers(np.zeros(3))


def test_module_dict_is_an_ordered_dict_of_registered_modules():
    d = nn.ModuleDict({"enc": nn.Linear(3, 4), "act": nn.ReLU()})
    d["dec"] = nn.Linear(4, 3)
    assert list(d) == ["enc", "act", "dec"] and "act" in d and len(d) == 3
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(d.pop("act"), nn.ReLU) and d.keys() == ["enc", "dec"]
    d.update([("norm", nn.LayerNorm(3))])
    assert [k for k, _ in d.items()] == ["enc", "dec", "norm"] and len(d.values()) == 3
    del d["norm"]
    assert "norm" not in d
    with pytest.raises(KeyError, match="ModuleDict.*'missing'"):
        d["missing"]
    with pytest.raises(KeyError, match="ModuleDict.*training"):
        d["training"] = nn.ReLU()
    with pytest.raises(TypeError, match="ModuleDict.*strings"):
        d[1] = nn.ReLU()
    with pytest.raises(TypeError, match="ModuleDict.*not a Module"):
        d["x"] = np.zeros(2)
    d.clear()
    assert len(d) == 0 and d.parameters() == []


class _Net(nn.Module):
    def __init__(self, mods):
        super().__init__()
        self.blocks = mods.ModuleList([mods.Linear(4, 5), mods.Linear(5, 5)])
        self.heads = mods.ModuleDict({"a": mods.Linear(5, 2), "b": mods.Linear(5, 3)})


def test_containers_state_dict_loads_both_ways_with_torch():
    torch = pytest.importorskip("torch")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 5), torch.nn.Linear(5, 5)])
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(5, 2), "b": torch.nn.Linear(5, 3)})

    theirs, ours = TorchNet().double(), _Net(nn).double()
    ours.load_state_dict(torch_state(theirs))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = randn(3, 4)
    h = x
    for b in ours.blocks:
        h = F.relu(b(h))
    out = ours.heads["b"](h).data
    ht = torch.tensor(x)
    for b in theirs.blocks:
        ht = torch.relu(b(ht))
    np.testing.assert_allclose(out, theirs.heads["b"](ht).detach().numpy(), rtol=1e-12)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})


# ---------------------------------------------------------------- activations

ACTS = [
    (lambda: nn.SiLU(), "SiLU", {}),
    (lambda: nn.ELU(), "ELU", {}),
    (lambda: nn.ELU(alpha=0.7), "ELU", {"alpha": 0.7}),
    (lambda: nn.Softplus(), "Softplus", {}),
    (lambda: nn.Softplus(beta=2.0, threshold=5.0), "Softplus", {"beta": 2.0, "threshold": 5.0}),
]


@pytest.mark.parametrize("make,name,kwargs", ACTS)
def test_activation_gradients_match_finite_differences(make, name, kwargs):
    x = leaf(randn(3, 7) * 3)
    check_grads(lambda: make()(x), [x])


@pytest.mark.parametrize("make,name,kwargs", ACTS)
def test_activation_matches_torch(make, name, kwargs):
    x = np.concatenate([randn(40) * 4, [-800.0, -30.0, -1e-8, 0.0, 1e-8, 2.4, 2.6, 30.0, 800.0]])
    compare_module(make(), getattr(pytest.importorskip("torch").nn, name)(**kwargs), x, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_functional_keeps_dtype_and_needs_no_grad(dtype):
    x = randn(5).astype(dtype)
    for fn in (F.silu, F.elu, F.softplus):
        y = fn(x)
        assert y.dtype == dtype and y.grad_fn is None
    np.testing.assert_allclose(F.silu(x).data, x / (1 + np.exp(-x.astype(np.float64))), rtol=5e-6)


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
@pytest.mark.parametrize("shape,dim", [((4, 6), None), ((2, 3, 5), None), ((2, 3, 5), -1), ((6,), None),
                                       ((2, 3, 4, 2), None), ((2, 3, 4), 1)])
def test_log_softmax_matches_torch_including_implicit_dim(shape, dim):
    x = randn(*shape) * 3
    compare_module(nn.LogSoftmax(dim), pytest.importorskip("torch").nn.LogSoftmax(dim), x)


def test_log_softmax_gradient_and_error_names_layer():
    x = leaf(randn(3, 4))
    check_grads(lambda: nn.LogSoftmax(dim=1)(x), [x])
    with pytest.raises(ValueError, match="LogSoftmax.*dim 3"):
        nn.LogSoftmax(dim=3)(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="SiLU.*int64"):
        nn.SiLU()(np.zeros(3, np.int64))


# ---------------------------------------------------------------- Conv1d

CONV1D = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=2, dilation=2, groups=2),
    dict(in_channels=3, out_channels=2, kernel_size=1, bias=False),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding="same"),
    dict(in_channels=3, out_channels=4, kernel_size=4, padding="same", dilation=1),
    dict(in_channels=2, out_channels=4, kernel_size=2, padding="same", dilation=3, groups=2),
    dict(in_channels=3, out_channels=4, kernel_size=5, padding="valid"),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("cfg", CONV1D)
def test_conv1d_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    x = randn(2, cfg["in_channels"], 11)
    y = compare_module(nn.Conv1d(**cfg), torch.nn.Conv1d(**cfg), x)
    if cfg.get("padding") == "same":
        assert y.shape[-1] == 11


@pytest.mark.parametrize("cfg", CONV1D[1:2] + CONV1D[4:6])
def test_conv1d_gradients_match_finite_differences(cfg):
    m = nn.Conv1d(**cfg).double()
    x = leaf(randn(2, cfg["in_channels"], 9))
    check_grads(lambda: m(x), [x, m.weight] + ([m.bias] if m.bias is not None else []))


def test_conv1d_unbatched_matches_batched():
    m = nn.Conv1d(3, 4, 3, padding=1).double()
    x = randn(3, 8)
    np.testing.assert_allclose(m(x).data, m(x[None]).data[0], rtol=1e-14)
    xl = leaf(x)
    check_grads(lambda: m(xl), [xl, m.weight])


def test_conv1d_init_and_names_as_torch():
    m = nn.Conv1d(6, 4, 5, groups=2)
    assert m.weight.shape == (4, 3, 5) and m.bias.shape == (4,)
    bound = 1 / np.sqrt(3 * 5)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.weight.data).max() > 0.5 * bound
    assert list(m.state_dict()) == ["weight", "bias"]


def test_conv1d_errors_name_the_layer():
    m = nn.Conv1d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv1d.*3 input channels.*\(2, 5, 8\)"):
        m(np.zeros((2, 5, 8), np.float32))
    with pytest.raises(TypeError, match="Conv1d.*float64.*float32"):
        m(np.zeros((2, 3, 8)))
    with pytest.raises(ValueError, match="Conv1d.*4-D|Conv1d.*2-D or 3-D"):
        m(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="Conv1d.*larger than the padded input"):
        m(np.zeros((2, 3, 2), np.float32))
    with pytest.raises(ValueError, match="Conv1d.*strided"):
        nn.Conv1d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv1d.*'full'"):
        nn.Conv1d(3, 4, 3, padding="full")
    with pytest.raises(NotImplementedError, match="Conv1d.*reflect"):
        nn.Conv1d(3, 4, 3, padding_mode="reflect")


# ---------------------------------------------------------------- Conv2d padding="same"

@pytest.mark.parametrize("cfg", [
    dict(kernel_size=3, padding="same"),
    dict(kernel_size=(2, 4), padding="same"),
    dict(kernel_size=(3, 2), padding="same", dilation=(1, 3)),
    dict(kernel_size=(4, 4), padding="same", groups=2),
    dict(kernel_size=3, padding="valid"),
])
def test_conv2d_string_padding_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    x = randn(2, 4, 7, 9)
    y = compare_module(nn.Conv2d(4, 6, **cfg), torch.nn.Conv2d(4, 6, **cfg), x)
    if cfg["padding"] == "same":
        assert y.shape == (2, 6, 7, 9)


def test_conv2d_same_even_kernel_gradients_and_functional():
    m = nn.Conv2d(2, 3, (2, 3), padding="same").double()
    x = leaf(randn(1, 2, 5, 4))
    check_grads(lambda: m(x), [x, m.weight, m.bias])
    y = F.conv2d(x, m.weight, m.bias, padding="same")
    np.testing.assert_allclose(y.data, m(x).data, rtol=1e-14)
    with pytest.raises(ValueError, match="conv2d.*stride 1"):
        F.conv2d(x, m.weight, padding="same", stride=2)


# ---------------------------------------------------------------- ConvTranspose2d

CONVT = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(in_channels=4, out_channels=2, kernel_size=(2, 3), stride=(2, 1), groups=2, bias=False),
    dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, dilation=2, padding=2),
    dict(in_channels=2, out_channels=2, kernel_size=2, stride=1, dilation=3, output_padding=2),
    dict(in_channels=4, out_channels=4, kernel_size=4, stride=3, padding=1, output_padding=(2, 0), groups=4),
]


@pytest.mark.parametrize("cfg", CONVT)
def test_conv_transpose2d_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    x = randn(2, cfg["in_channels"], 5, 4)
    compare_module(nn.ConvTranspose2d(**cfg), torch.nn.ConvTranspose2d(**cfg), x)


@pytest.mark.parametrize("cfg", [CONVT[1], CONVT[2], CONVT[4]])
def test_conv_transpose2d_gradients_match_finite_differences(cfg):
    m = nn.ConvTranspose2d(**cfg).double()
    x = leaf(randn(1, cfg["in_channels"], 3, 4))
    check_grads(lambda: m(x), [x, m.weight] + ([m.bias] if m.bias is not None else []))


def test_conv_transpose2d_output_size_unbatched_and_torch_shapes():
    torch = pytest.importorskip("torch")
    cfg = dict(in_channels=3, out_channels=2, kernel_size=3, stride=2, padding=1)
    x = randn(3, 4, 5)
    compare_module(nn.ConvTranspose2d(**cfg), torch.nn.ConvTranspose2d(**cfg), x)
    ours, theirs = nn.ConvTranspose2d(**cfg), torch.nn.ConvTranspose2d(**cfg)
    compare_module(ours, theirs, x[None], forward=lambda m, v: m(v, output_size=(8, 10)))
    assert ours.weight.shape == (3, 2, 3, 3)
    bound = 1 / np.sqrt(2 * 3 * 3)
    assert np.abs(nn.ConvTranspose2d(**cfg).weight.data).max() <= bound


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    w = randn(3, 2, 3, 3)
    x, y = randn(2, 2, 9, 8), randn(2, 3, 5, 4)
    conv = F.conv2d(x, w, stride=2, padding=1).data
    convt = F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=(0, 1)).data
    assert convt.shape == x.shape
    np.testing.assert_allclose(np.sum(conv * y), np.sum(x * convt), rtol=1e-12)


def test_conv_transpose2d_errors_name_the_layer():
    m = nn.ConvTranspose2d(3, 4, 3, stride=2)
    with pytest.raises(ValueError, match=r"ConvTranspose2d.*3 input channels.*\(1, 4, 5, 5\)"):
        m(np.zeros((1, 4, 5, 5), np.float32))
    with pytest.raises(TypeError, match="ConvTranspose2d.*float64.*float32"):
        m(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match="ConvTranspose2d.*output_size.*not reachable"):
        m(np.zeros((1, 3, 5, 5), np.float32), output_size=(20, 20))
    with pytest.raises(ValueError, match="ConvTranspose2d.*output_padding"):
        nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="ConvTranspose2d.*empty output"):
        nn.ConvTranspose2d(3, 4, 1, padding=2)(np.zeros((1, 3, 2, 2), np.float32))


# ---------------------------------------------------------------- AdaptiveAvgPool2d

@pytest.mark.parametrize("size", [1, (3, None), (2, 5), (7, 9), (4, 4), (None, 2)])
def test_adaptive_avg_pool2d_matches_torch(size):
    torch = pytest.importorskip("torch")
    compare_module(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), randn(2, 3, 7, 9))


def test_adaptive_avg_pool2d_gradients_unbatched_and_errors():
    x = leaf(randn(2, 5, 7))
    y = check_grads(lambda: nn.AdaptiveAvgPool2d((3, 2))(x), [x])
    assert y.shape == (2, 3, 2)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).data[..., 0, 0], x.data.mean(axis=(1, 2)), rtol=1e-14)
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d.*\(3, 4\)"):
        nn.AdaptiveAvgPool2d(2)(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d.*output_size"):
        nn.AdaptiveAvgPool2d((0, 2))(np.zeros((1, 3, 4)))


# ---------------------------------------------------------------- Dropout2d

@pytest.mark.parametrize("shape", [(8, 50, 3, 4), (8, 50, 6)])
def test_dropout2d_drops_whole_channels(shape):
    fastnn.manual_seed(5)
    m = nn.Dropout2d(p=0.3)
    x = leaf(np.ones(shape))
    y = m(x)
    per_channel = y.data.reshape(shape[0], shape[1], -1)
    kept = per_channel[:, :, 0] != 0
    assert np.all(per_channel == per_channel[:, :, :1])
    np.testing.assert_allclose(per_channel[kept], 1 / 0.7)
    assert 0.2 < 1 - kept.mean() < 0.4
    w = randn(*shape)
    y.backward(w)
    np.testing.assert_allclose(x.grad, w * y.data, rtol=1e-14)
    m.eval()
    assert m(x) is x
    assert F.dropout2d(x, 1.0).data.max() == 0


def test_dropout2d_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Dropout2d.*\(4, 5\)"):
        nn.Dropout2d()(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="Dropout2d.*p"):
        nn.Dropout2d(1.5)


# ---------------------------------------------------------------- GroupNorm

@pytest.mark.parametrize("groups,channels,shape,affine", [
    (2, 6, (3, 6, 4, 5), True), (3, 6, (2, 6, 7), True), (1, 4, (2, 4, 3, 3), True), (4, 4, (2, 4, 5), False),
    (2, 4, (3, 4), True),
])
def test_group_norm_matches_torch(groups, channels, shape, affine):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.GroupNorm(groups, channels, affine=affine)
    if affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.randn(channels))
            theirs.bias.copy_(torch.randn(channels))
    compare_module(nn.GroupNorm(groups, channels, affine=affine), theirs, randn(*shape) * 2 + 1, rtol=1e-9)


def test_group_norm_gradients_and_defaults():
    m = nn.GroupNorm(2, 4).double()
    assert np.all(m.weight.data == 1) and np.all(m.bias.data == 0)
    m.weight.data[:] = randn(4)
    m.bias.data[:] = randn(4)
    x = leaf(randn(2, 4, 3, 2))
    check_grads(lambda: m(x), [x, m.weight, m.bias])


def test_group_norm_errors_name_the_layer():
    with pytest.raises(ValueError, match="GroupNorm.*divisible"):
        nn.GroupNorm(4, 6)
    m = nn.GroupNorm(2, 4)
    with pytest.raises(ValueError, match=r"GroupNorm.*\(N, 4, \.\.\.\).*\(2, 6, 3\)"):
        m(np.zeros((2, 6, 3), np.float32))
    with pytest.raises(TypeError, match="GroupNorm.*float64.*float32"):
        m(np.zeros((2, 4, 3)))


# ---------------------------------------------------------------- a small model

def test_a_small_conv_model_trains_end_to_end():
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 8, 3, padding="same"), nn.GroupNorm(2, 8), nn.SiLU(), nn.Dropout2d(0.1),
                          nn.Conv1d(8, 8, 4, padding="same"), nn.ELU(), nn.Flatten(), nn.Linear(8 * 12, 3),
                          nn.LogSoftmax(dim=1))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 2, 12)).astype(np.float32)
    y = (x[:, 0].mean(1) > 0).astype(np.int64) + (x[:, 1].mean(1) > 0)
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.NLLLoss()
    first = None
    for _ in range(30):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first
