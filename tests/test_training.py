"""A small CNN trains on the bundled digits, deterministically."""
import numpy as np

import fastnn
from fastnn import nn, optim


def train_cnn(seed=0, epochs=5):
    X, y, Xt, yt = fastnn.datasets.load_digits()
    X, Xt = X.reshape(-1, 1, 8, 8), Xt.reshape(-1, 1, 8, 8)
    fastnn.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(128, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
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
    model.eval()
    acc = float((model(Xt).argmax(1) == yt).mean())
    return model, losses, acc


def test_cnn_trains_on_digits_deterministically():
    model, losses, acc = train_cnn()
    assert losses[-1] < 0.1, f"training loss per epoch: {losses}"
    assert acc > 0.95, acc
    model2, losses2, _ = train_cnn()
    assert losses == losses2
    assert all(p.data.tobytes() == q.data.tobytes() for p, q in zip(model.parameters(), model2.parameters()))
