"""Blended, adaptive and source-specific poison sets carry what they say."""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.attacks import backdoor


def test_blended_and_adaptive_poison_carry_what_they_say():
    rng = np.random.default_rng(0)
    x = rng.random((40, 64)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    pattern = backdoor.blend_pattern(64, rng)
    xb = backdoor.blend(x, pattern, 0.2)
    assert np.allclose(xb, 0.8 * x + 0.2 * pattern, atol=1e-6)
    xp, yp, marked = backdoor.adaptive_blend_set(x, y, (1, 8, 8), pattern, 3, 10, 0.2, rng)
    assert len(xp) == 20 and marked.sum() == 10 and (yp[marked] == 3).all()
    masks = backdoor.piece_masks(5, (1, 8, 8), rng)
    assert masks.shape == (5, 64) and 0 < masks.mean() < 1
    xs, ys = backdoor.source_specific_set(x, y, (1, 8, 8), int(y[0]), 9 if y[0] != 9 else 8, 3, rng)
    assert (ys[:3] == (9 if y[0] != 9 else 8)).all() and len(xs) == len(ys)
