"""AML.M0007 (training-data filters): the received data carries the stated poison and
corruption, and a tiny end-to-end run gives valid rows whose filter rows carry
precision and recall."""

from __future__ import annotations

from dataclasses import replace

import pytest

from atlaskb.defenses import data, results, runner
from atlaskb.defenses.context import SeedContext
from atlaskb.defenses.mitigations import m0007
from atlaskb.engine import get_backend

TINY7 = replace(m0007.QUICK, epochs=8, n_test=60, poison_rates=(0.05,), cl_folds=2)


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


def test_m0007_rows_are_valid_and_filter_rows_carry_precision_and_recall(doc7):
    results.validate(doc7)
    assert set(doc7["provenance"]["techniques"]) == set(m0007.EXPERIMENTS)
    for t in m0007.EXPERIMENTS:
        assert len([r for r in doc7["results"] if r["technique"] == t and r.get("headline")]) == 1
    for r in doc7["results"]:
        if r["metric"] == "attack_success_rate":
            assert {"precision", "recall", "clean_removed"} <= set(r["params"]["extra"])
