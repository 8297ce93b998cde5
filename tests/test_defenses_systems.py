"""Systems under test: a majority-vote ensemble answers its members' most frequent label."""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.systems import Ensemble, Model
from atlaskb.engine import get_backend
from atlaskb.engine.network import mlp


def test_majority_vote_counts_votes():
    be = get_backend("numpy")
    rng = np.random.default_rng(0)
    nets = [mlp(64, (8,), 10, "relu", rng) for _ in range(3)]
    x = rng.random((5, 64)).astype(np.float32)
    maj = Ensemble(be, nets, "majority").predict(x)
    votes = np.stack([Model(be, n).predict(x) for n in nets])
    for i in range(5):
        counts = np.bincount(votes[:, i], minlength=10)
        assert counts[maj[i]] == counts.max()
