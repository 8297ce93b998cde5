"""Our attacks agree with torchattacks on the same model (skipped where it is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.defenses import data
from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp


def test_pgd_and_apgd_agree_with_torchattacks():
    pytest.importorskip("torch")
    pytest.importorskip("torchattacks")
    from atlaskb.defenses.crosscheck import compare
    from atlaskb.defenses.systems import Ensemble

    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    r = np.random.default_rng(1)
    net = T.train(get_backend("numpy"), mlp(64, (64,), 10, "relu", r), ds.x[sp.train], ds.y[sp.train],
                  epochs=10, lr=3e-3, rng=r)
    system = Ensemble(get_backend("torch", "cpu"), [net])
    x, y = ds.x[sp.test][:120], ds.y[sp.test][:120]
    res = compare(system, x, y, ds.image_shape, eps=0.1, pgd_steps=20, apgd_steps=40, queries=200)
    assert abs(res["pgd"]["difference"]) <= 0.05, res
    assert abs(res["apgd"]["difference"]) <= 0.05, res
    # different algorithms at one budget: both must work, neither may be a masked no-op
    assert res["score_based"]["ours"] < res["clean_accuracy"] and res["score_based"]["torchattacks"] < res["clean_accuracy"]
