"""Result rows: every metric has a direction, and rates are rates."""

from __future__ import annotations

from atlaskb.defenses import results, rows


def test_new_metrics_have_directions():
    assert rows.METRICS["detection_auc"] is True and rows.METRICS["residual_corruption"] is False
    assert {"detection_auc", "residual_corruption"} <= rows.RATES <= set(results.METRICS)
