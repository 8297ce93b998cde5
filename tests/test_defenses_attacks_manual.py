"""Manual modifications change the input without a model."""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import data
from atlaskb.defenses.attacks import manual


def test_manual_modifications_need_no_model_and_change_the_input():
    x = data.digits().x[:20]
    for name, fn in manual.MODIFICATIONS.items():
        out = fn(x, (1, 8, 8), np.random.default_rng(0))
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1, name
        assert not np.allclose(out, x), name
    shifted = manual.shift(x[:1], (1, 8, 8), np.random.default_rng(0))
    assert np.isclose(shifted.sum(), x[:1].sum(), atol=x[:1].reshape(8, 8)[[0, -1]].sum() + 5)
