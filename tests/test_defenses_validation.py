"""Model validation: trigger reverse-engineering finds the smallest mask at a patch
backdoor's target, and the anomaly index measures how far below the median a class lies."""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import data, validation
from atlaskb.defenses.attacks import backdoor
from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp


def test_reverse_engineering_finds_the_smallest_mask_at_a_patch_backdoors_target():
    be, ds = get_backend("numpy"), data.digits()
    r = np.random.default_rng(1)
    xp, yp = backdoor.poison_set(ds.x[900:1300], ds.image_shape, 7, 90, r)
    net = T.train(be, mlp(64, (32,), 10, "relu", r), np.concatenate([ds.x[:900], xp]),
                  np.concatenate([ds.y[:900], yp]), epochs=15, lr=3e-3, rng=r)
    norms, hit = validation.reverse_engineer(be, net, ds.x[1300:1330], 10, steps=80, rng=r)
    assert int(np.argmin(norms)) == 7 and hit[7] >= 0.9
    assert validation.anomaly_index(norms) > validation.anomaly_index(np.sort(norms)[1:])


def test_anomaly_index_measures_distance_below_the_median():
    assert validation.anomaly_index(np.array([10.0, 10, 11, 9, 10, 2])) > 2
    assert validation.anomaly_index(np.array([10.0, 11, 9, 10, 12, 8])) < 2
