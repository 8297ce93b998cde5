"""AML.M0007 (training-data filters) and AML.M0008 (model validation): the filters find
what they should on planted data and leave clean data alone, the backdoors and tampered
models do what they claim, the validator's checks, and tiny end-to-end runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from atlaskb.defenses import data, results, rows, runner, sanitize, validation
from atlaskb.defenses.attacks import backdoor, compromised
from atlaskb.defenses.context import SeedContext
from atlaskb.defenses.mitigations import m0007, m0008
from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp

TINY7 = replace(m0007.QUICK, epochs=8, n_test=60, poison_rates=(0.05,), cl_folds=2)
TINY8 = replace(m0008.QUICK, epochs=8, n_clean=3, n_tampered=3, n_shadow=2, nc_steps=5, nc_samples=5,
                n_test=60, candidates=1, apgd_steps=3, restarts=1, at_steps=1, val_points=60, finetune_epochs=2)


def _blobs(rng, n=90, n_bad=10, shift=6.0, d=8):
    feats = rng.normal(size=(n + n_bad, d))
    feats[n:, 0] += shift
    return feats, np.zeros(n + n_bad, np.int64), np.arange(n + n_bad) >= n


def test_spectral_signatures_remove_planted_outliers_within_their_budget():
    feats, y, bad = _blobs(np.random.default_rng(0))
    rem = sanitize.spectral_signatures(feats, y, eps=0.1)
    assert rem.sum() == int(np.ceil(1.5 * 0.1 * len(y)))
    assert rem[bad].all()


def test_activation_clustering_flags_a_small_separate_cluster_and_not_one_blob():
    feats, y, bad = _blobs(np.random.default_rng(1))
    rem = sanitize.activation_clustering(feats, y, seed=0)
    assert rem[bad].all() and not rem[~bad].any()
    clean = np.random.default_rng(2).normal(size=(100, 8))
    assert not sanitize.activation_clustering(clean, np.zeros(100, np.int64), seed=0).any()


def test_confident_learning_flags_labels_the_model_confidently_disagrees_with():
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[.9, .05, .05], [.05, .9, .05], [.05, .9, .05], [.1, .8, .1], [.1, .1, .8], [.3, .3, .4]])
    assert sanitize.confident_learning(probs, y).tolist() == [False, True, False, False, False, False]


def test_cross_validated_probabilities_never_come_from_a_model_that_saw_the_sample():
    x = np.arange(30, dtype=float)[:, None]
    y = np.zeros(30, np.int64)

    def fit_predict(xf, yf, xo):
        assert not set(xf[:, 0]) & set(xo[:, 0])
        return np.tile([1.0, 0.0], (len(xo), 1))

    probs = sanitize.cross_val_probs(fit_predict, x, y, 3, np.random.default_rng(0))
    assert probs.shape == (30, 2) and (probs[:, 0] == 1).all()


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


@pytest.fixture(scope="module")
def clean_net():
    be = get_backend("numpy")
    ds = data.digits()
    r = np.random.default_rng(0)
    return be, ds, T.train(be, mlp(64, (32,), 10, "relu", r), ds.x[:900], ds.y[:900], epochs=10,
                           lr=3e-3, rng=r)


def test_trigger_branch_keeps_clean_answers_and_fires_on_the_trigger(clean_net):
    be, ds, net = clean_net
    bad = compromised.add_trigger_branch(net, ds.image_shape, target=4)
    x = ds.x[900:1200]
    assert bad.layers[0].n_out == net.layers[0].n_out + 1
    assert np.array_equal(T.predict(be, bad, x), T.predict(be, net, x))
    assert (T.predict(be, bad, backdoor.add_trigger(x, ds.image_shape)) == 4).all()
    with pytest.raises(ValueError, match="one-hidden-layer"):
        compromised.add_trigger_branch(mlp(64, (8, 8), 10, "relu", np.random.default_rng(0)),
                                       ds.image_shape, 0)


def test_reverse_engineering_finds_the_smallest_mask_at_a_patch_backdoors_target(clean_net):
    be, ds, _ = clean_net
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


def test_new_metrics_have_directions():
    assert rows.METRICS["detection_auc"] is True and rows.METRICS["residual_corruption"] is False
    assert {"detection_auc", "residual_corruption"} <= rows.RATES <= set(results.METRICS)


def test_received_data_has_the_stated_poison_and_corruption():
    ctx = SeedContext(get_backend("numpy"), data.digits(), TINY7, 0)
    x, y, bad = m0007.received(ctx, "patch:0.05")
    assert abs(bad.mean() - 0.05) < 0.005 and (y[bad] == TINY7.target_class).all()
    _, y2, bad2 = m0007.received(ctx, "labels:pair")
    assert abs(bad2.mean() - TINY7.corruption) < 0.01
    assert ((ctx.y_train[bad2] + 1) % 10 == y2[bad2]).all()
    with pytest.raises(ValueError, match="unknown scenario"):
        m0007.received(ctx, "nonsense:1")


@pytest.fixture(scope="module")
def doc7():
    return runner.run(runner.Request("AML.M0007", backend="numpy", seeds=2, config=TINY7),
                      progress=False, names={})


@pytest.fixture(scope="module")
def doc8():
    return runner.run(runner.Request("AML.M0008", backend="numpy", seeds=2, config=TINY8),
                      progress=False, names={})


def test_m0007_rows_are_valid_and_filter_rows_carry_precision_and_recall(doc7):
    results.validate(doc7)
    assert set(doc7["provenance"]["techniques"]) == set(m0007.EXPERIMENTS)
    for t in m0007.EXPERIMENTS:
        assert len([r for r in doc7["results"] if r["technique"] == t and r.get("headline")]) == 1
    for r in doc7["results"]:
        if r["metric"] == "attack_success_rate":
            assert {"precision", "recall", "clean_removed"} <= set(r["params"]["extra"])


def test_m0008_rows_are_valid_and_validation_rows_use_detection_metrics(doc8):
    results.validate(doc8)
    assert {n["technique"] for n in doc8["not_measured"]} == {"AML.T0057"}
    metrics = {r["metric"] for r in doc8["results"]}
    assert {"detection_auc", "true_positive_rate", "attack_success_rate", "robust_accuracy"} <= metrics
    for r in doc8["results"]:
        if r["metric"] in ("detection_auc", "true_positive_rate"):
            assert r["higher_is_better"] is True
            assert r["baseline"] == (0.5 if r["metric"] == "detection_auc" else 0.0)
    for t in m0008.EXPERIMENTS:
        heads = [r for r in doc8["results"] if r["technique"] == t and r.get("headline")]
        assert len(heads) == 1
        assert t == "AML.T0043" or heads[0]["attack"].endswith("_validator_decision")
