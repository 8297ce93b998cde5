"""AML.M0008 (model validation): a tiny end-to-end run gives valid rows, and the
validation rows use detection metrics against a no-validation baseline."""

from __future__ import annotations

from dataclasses import replace

import pytest

from atlaskb.defenses import results, runner
from atlaskb.defenses.mitigations import m0008

TINY8 = replace(m0008.QUICK, epochs=8, n_clean=3, n_tampered=3, n_shadow=2, nc_steps=5, nc_samples=5,
                n_test=60, candidates=1, apgd_steps=3, restarts=1, at_steps=1, val_points=60, finetune_epochs=2)


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
