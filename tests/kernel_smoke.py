"""A short run through every kernel family; tests/test_valgrind.py runs it under valgrind."""
import numpy as np, fastnn
from fastnn import ops, nn, optim
fastnn.set_num_threads(2)
x = np.random.default_rng(0).standard_normal((64, 100)).astype(np.float32)
for f in (ops.relu, ops.sigmoid, ops.tanh, ops.gelu, ops.softmax): f(x)
ops.matmul(x, x.T); ops.linear(x, x[:10], activation="gelu")
img = np.random.default_rng(1).standard_normal((2, 3, 9, 9)).astype(np.float32)
w = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32)
y = ops.conv2d(img, w, padding=1); ops.conv2d_backward(y, img, w, padding=1)
ops.max_pool2d(img, 2); ops.cross_entropy(x[:, :10].copy(), np.zeros(64, np.int64)); ops.layer_norm(x, np.ones(100, np.float32), np.zeros(100, np.float32))
m = nn.Sequential(nn.Linear(100, 20), nn.ReLU(), nn.Linear(20, 3)); o = optim.Adam(m.parameters())
loss = nn.CrossEntropyLoss()(m(x), np.zeros(64, np.int64)); loss.backward(); o.step()
print("ok")
