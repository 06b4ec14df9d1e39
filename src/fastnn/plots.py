"""Pictures of a trained CNN: first-layer filters, the feature maps of one
digit at each layer, and the loss curve (matplotlib, an optional dependency)."""
import numpy as np

from .autograd import no_grad


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("fastnn: error: --plot needs matplotlib (pip install 'fastnn[demo]')") from None
    return plt


def cnn_story(run, path):
    """Save one PNG: the learned filters, feature maps of a test digit after
    each layer, and the training loss per step."""
    plt = _pyplot()
    net = run.net
    net.eval()
    digit = run.data.X_test[:1]
    maps = []  # (name, activations of the one digit)
    x = digit
    with no_grad():
        for i, layer in enumerate(net):
            x = layer(x)
            if x.ndim == 4:
                maps.append((f"{i}: {type(layer).__name__}", x.numpy()[0].copy()))
    filters = net[0].weight.data[:, 0]  # (16, 3, 3)
    rows = 2 + len(maps)
    fig = plt.figure(figsize=(12, 1.6 * rows + 2.5))
    grid = fig.add_gridspec(rows + 1, 16)
    ax = fig.add_subplot(grid[0, 0:2])
    ax.imshow(digit[0, 0], cmap="gray_r")
    ax.set_title("input", fontsize=8)
    ax.axis("off")
    for k in range(min(16, filters.shape[0])):
        ax = fig.add_subplot(grid[1, k])
        ax.imshow(filters[k], cmap="RdBu_r")
        ax.axis("off")
        if k == 0:
            ax.set_title("conv1 filters", fontsize=8, loc="left")
    for r, (name, fmap) in enumerate(maps):
        for k in range(min(16, fmap.shape[0])):
            ax = fig.add_subplot(grid[2 + r, k])
            ax.imshow(fmap[k], cmap="viridis")
            ax.axis("off")
            if k == 0:
                ax.set_title(f"feature maps after layer {name}", fontsize=8, loc="left")
    ax = fig.add_subplot(grid[rows, :])
    losses = np.concatenate([h["losses"] for h in run.history]) if run.history else np.zeros(0)
    ax.plot(losses, lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    fig.suptitle(f"fastnn CNN on digits: test accuracy {run.history[-1]['metric']:.3f}" if run.history else "")
    fig.savefig(path, dpi=90)
    plt.close(fig)
