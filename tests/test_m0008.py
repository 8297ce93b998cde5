"""AML.M0008 (model validation): a tiny end-to-end run gives valid rows, and the
validation rows use detection metrics against a no-validation baseline."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from atlaskb.defenses import data, results, runner
from atlaskb.defenses.context import SeedContext
from atlaskb.defenses.mitigations import m0008
from atlaskb.engine import get_backend

TINY8 = replace(m0008.QUICK, epochs=8, n_clean=3, n_tampered=3, n_shadow=2, nc_steps=5, nc_samples=5,
                n_test=60, candidates=1, apgd_steps=3, restarts=1, at_steps=1, val_points=60, finetune_epochs=2,
                n_calib=4, gate_calib=2)


@pytest.fixture(scope="module")
def doc8():
    return runner.run(runner.Request("AML.M0008", backend="numpy", seeds=2, config=TINY8),
                      progress=False, names={})


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


def _ctx(seed=0, **kw):
    return SeedContext(get_backend("numpy"), data.digits(), replace(TINY8, **kw), seed)


def test_calibration_never_sees_a_judged_or_tampered_model(monkeypatch):
    ctx = _ctx()
    seen = []
    real = m0008._check_scores

    def spy(ctx_, nets, tag):
        seen.append((tag, {id(n) for n in nets}))
        return real(ctx_, nets, tag)

    monkeypatch.setattr(m0008, "_check_scores", spy)
    alone = m0008.gate(ctx)
    assert not [k for k in ctx._cache if k.startswith("m0008:population")]   # no supplied model built
    judged = {id(net) for kind in ("clean",) + m0008.KINDS for net, *_ in m0008.population(ctx, kind)}
    assert [t for t, _ in seen] == ["calibration"]
    assert not seen[0][1] & judged and len(seen[0][1]) == TINY8.n_calib
    # the threshold is the same whether or not tampered models were judged first
    other = _ctx()
    for kind in m0008.KINDS:
        m0008.checks(other, kind)
    assert m0008.gate(other) == alone


def test_calibration_is_deterministic_for_a_seed_and_moves_with_it():
    a, b, c = m0008.gate(_ctx(3)), m0008.gate(_ctx(3)), m0008.gate(_ctx(4))
    assert a == b and a.threshold != c.threshold
    assert np.array_equal(m0008.checks(_ctx(3), "patch")["passes"], m0008.checks(_ctx(3), "patch")["passes"])


def test_the_defenders_own_models_never_train_on_its_validation_data():
    ctx = _ctx(1)
    val, rest = m0008._own_split(ctx)
    assert len(val) == TINY8.val_points and not set(val) & set(rest)
    assert len(val) + len(rest) == len(ctx.y_train)
    queries = m0008.meta_classifier(ctx).queries
    clean_half = queries[:len(queries) - len(queries) // 2]
    xv = m0008._val(ctx)[0]
    assert all((xv == q).all(axis=1).any() for q in clean_half)   # queries come from the held-out split


def test_calibration_refuses_a_validation_split_that_leaves_no_training_data():
    with pytest.raises(ValueError, match="val_points"):
        m0008.calibration_models(_ctx(val_points=100_000))


def test_validation_rows_state_the_target_and_the_measured_clean_rejection(doc8):
    for r in doc8["results"]:
        if r["attack"].endswith("_validator_decision"):
            assert r["params"]["target_false_positive_rate"] == m0008.FPR
            assert "clean_models_rejected" in r["params"]["extra"]
            assert all("calibration_threshold" in i for i in r["params"]["info"])
        if r["technique"] == "AML.T0043":
            assert all("gate_threshold" in i for i in r["params"]["info"])
