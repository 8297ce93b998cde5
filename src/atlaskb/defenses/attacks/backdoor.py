"""Backdoor triggers (AML.T0043.004): a small fixed pattern that, once the model has learned
it from poisoned training data, sends any input to the attacker's target class.

The trigger is a bright 2x2 corner square (plus a dark pixel beside it) on the image view
of the features, a pattern absent from clean digits, so a model that learns it has
learned the attacker's rule and nothing else.
"""

from __future__ import annotations

import numpy as np


def add_trigger(x: np.ndarray, image) -> np.ndarray:
    c, h, w = image
    imgs = x.reshape(len(x), c, h, w).copy()
    imgs[:, :, h - min(2, h):, w - 2:] = 1.0
    if w >= 3:
        imgs[:, :, h - 1, w - 3] = 0.0
    return imgs.reshape(len(x), c * h * w)


def poison_set(x: np.ndarray, image, target: int, n: int, rng: np.random.Generator):
    """`n` triggered copies of the attacker's inputs, all labelled `target`."""
    idx = rng.choice(len(x), size=min(n, len(x)), replace=False)
    return add_trigger(x[idx], image), np.full(len(idx), target, np.int64)
