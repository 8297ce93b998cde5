"""Model validation: trigger reverse-engineering finds the smallest mask at a patch
backdoor's target, and the anomaly index measures how far below the median a class lies."""

from __future__ import annotations

import numpy as np
import pytest

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


def _clean_scores(rng, n):
    """Three checks' scores of n clean models on wildly different scales, two heavy-tailed:
    a threshold fixed in any one unit is wrong for the others."""
    return {"index": 1.5 + 0.5 * rng.standard_t(3, n), "log_odds": -6.0 + 2.0 * rng.standard_t(2, n),
            "neg_accuracy": -0.9 + 0.01 * rng.standard_normal(n)}


def test_calibrated_gate_rejects_the_target_share_of_held_out_clean_models():
    rng = np.random.default_rng(12)
    shares = []
    for _ in range(60):
        gate = validation.calibrate_gate(_clean_scores(rng, 40), 0.05)
        shares.append(gate.rejects(_clean_scores(rng, 500)).mean())
    # 40 calibration models: a fresh clean model lies above the 39th smallest with probability 2/41
    assert abs(np.mean(shares) - 2 / 41) < 0.012
    fixed = validation.CalibratedGate(gate.center, gate.spread, 2.0, 0.05)   # "index above 2" style
    assert fixed.rejects(_clean_scores(rng, 5000)).mean() > 2 / 41 + 0.03   # outside the tolerance above


def test_calibrated_gate_flags_a_model_unusual_on_any_one_check():
    rng = np.random.default_rng(3)
    gate = validation.calibrate_gate(_clean_scores(rng, 40), 0.05)
    normal = {k: np.array([gate.center[k]]) for k in gate.center}
    assert not gate.rejects(normal)[0]
    for k in gate.center:
        odd = dict(normal, **{k: np.array([gate.center[k] + 50 * gate.spread[k]])})
        assert gate.rejects(odd)[0]


def test_calibration_needs_clean_scores_and_a_rate_between_0_and_1():
    with pytest.raises(ValueError, match="clean validation"):
        validation.calibrate_gate({"a": np.array([])}, 0.05)
    with pytest.raises(ValueError, match="between 0 and 1"):
        validation.calibrate_gate({"a": np.arange(10.0)}, 1.5)


def test_min_score_at_fpr_lets_through_all_but_the_target_share_of_good_models():
    rng = np.random.default_rng(5)
    shares = [np.mean(rng.normal(0.6, 0.05, 500) < validation.min_score_at_fpr(rng.normal(0.6, 0.05, 40), 0.05))
              for _ in range(60)]
    assert abs(np.mean(shares) - 2 / 41) < 0.012
