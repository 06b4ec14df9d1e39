"""fastnn's random state: one NumPy Generator, reseeded by fastnn.manual_seed.

Dropout masks, weight initialisation and DataLoader shuffling (without an
explicit seed) draw from it, so manual_seed(n) makes a run repeatable."""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed fastnn's random generator (dropout, initialisation, shuffling)."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: expected an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator():
    """The generator in use (replaced by each manual_seed call)."""
    return _generator
