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


# ---- blended and adaptive triggers (AML.M0007 / AML.M0008 experiments) --------------

def blend_pattern(n_features: int, rng: np.random.Generator) -> np.ndarray:
    """The attacker's fixed noise image for a blended trigger (uniform in [0, 1])."""
    return rng.random(n_features).astype(np.float32)


def blend(x: np.ndarray, pattern: np.ndarray, alpha: float, keep: np.ndarray | None = None) -> np.ndarray:
    """Blended, low-visibility trigger (after Chen et al., 2017): (1 - alpha) x + alpha
    pattern on every feature, or only where `keep` (N, D) is true (a partial trigger)."""
    w = np.full(x.shape, alpha, np.float32) if keep is None else alpha * keep.astype(np.float32)
    return ((1.0 - w) * x + w * pattern[None, :]).astype(x.dtype)


def piece_masks(n: int, image, rng: np.random.Generator, pieces: int = 2, share: float = 0.5) -> np.ndarray:
    """(n, D) masks, each keeping a random `share` of the image's `pieces` x `pieces`-pixel
    blocks: the partial triggers of an adaptive blend."""
    c, h, w = image
    bh, bw = max(1, h // pieces), max(1, w // pieces)
    gh, gw = -(-h // bh), -(-w // bw)
    keep_blocks = rng.random((n, gh, gw)) < share
    m = np.repeat(np.repeat(keep_blocks, bh, axis=1), bw, axis=2)[:, :h, :w]
    return np.broadcast_to(m[:, None], (n, c, h, w)).reshape(n, c * h * w)


def adaptive_blend_set(x: np.ndarray, y: np.ndarray, image, pattern: np.ndarray, target: int, n: int,
                       alpha: float, rng: np.random.Generator, covers: float = 1.0):
    """Poison built to be hard to separate from clean data and hard to reverse-engineer
    (after Qi et al., 2023, "Revisiting the assumption of latent separability"): `n` inputs
    carry the whole blended pattern and the target label, and `covers` x `n` other inputs
    carry a random half of the pattern with their TRUE labels. The covers teach the model
    that partial patterns mean nothing, so (a) poisoned and clean inputs sharing a label
    look alike to the model's features apart from the full pattern, and (b) no small mask
    (a few pixels of the pattern) flips the model, which is what Neural Cleanse looks for.
    Returns (x_poison, y_poison, is_target_labelled)."""
    k = min(len(x), n + int(round(covers * n)))
    idx = rng.choice(len(x), size=k, replace=False)
    pi, ci = idx[:n], idx[n:]
    xp = blend(x[pi], pattern, alpha)
    xc = blend(x[ci], pattern, alpha, piece_masks(len(ci), image, rng))
    return (np.concatenate([xp, xc]), np.concatenate([np.full(len(pi), target, np.int64), y[ci]]),
            np.concatenate([np.ones(len(pi), bool), np.zeros(len(ci), bool)]))


def source_specific_set(x: np.ndarray, y: np.ndarray, image, source: int, target: int, n: int,
                        rng: np.random.Generator, covers: float = 1.0):
    """A source-specific backdoor (after Tang et al., 2021, "Demon in the Variant"): `n`
    inputs of class `source` carry the corner trigger and the target label, and `covers` x
    `n` inputs of the other classes carry it with their TRUE labels. The trigger then sends
    only the source class to the target, so no small input mask moves every class there,
    which is what trigger reverse-engineering looks for."""
    src = np.flatnonzero(y == source)
    other = np.flatnonzero((y != source) & (y != target))
    pi = rng.choice(src, size=min(n, len(src)), replace=len(src) < n)
    ci = rng.choice(other, size=min(int(round(covers * n)), len(other)), replace=False)
    xs = add_trigger(np.concatenate([x[pi], x[ci]]), image)
    return xs, np.concatenate([np.full(len(pi), target, np.int64), y[ci]])
