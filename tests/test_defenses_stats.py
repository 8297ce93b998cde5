"""Paired statistics: AUC points match the rank statistic and DeLong, their intervals never
collapse, and TPR at a fixed FPR reads its threshold off the negatives."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.defenses import stats


def test_auc_points_match_the_rank_statistic_and_delong():
    from sklearn.metrics import roc_auc_score

    r = np.random.default_rng(0)
    truth = np.r_[np.ones(40, bool), np.zeros(60, bool)]
    s = np.where(truth, r.normal(1, 1, 100), r.normal(0, 1, 100)).round(1)  # ties included
    p = stats.auc(s, truth, np.arange(100))
    assert p.mean == pytest.approx(roc_auc_score(truth, s))
    v10, v01 = p.values[truth], p.values[~truth]
    assert stats.within_var(p) == pytest.approx(np.var(v10, ddof=1) / 40 + np.var(v01, ddof=1) / 60)


@pytest.mark.parametrize("scores", [np.r_[np.ones(30), np.zeros(30)], np.full(60, 0.5)])
def test_auc_intervals_never_collapse(scores):
    """Perfect separation and all-ties both give DeLong variance 0; the floor keeps a width."""
    truth = np.r_[np.ones(30, bool), np.zeros(30, bool)]
    ids = np.arange(60)
    p = stats.auc(scores, truth, ids)
    a = stats.arm([p, p])
    assert a["ci95"][1] > a["ci95"][0]
    d = stats.difference([p, p], [p, p])
    assert d["mean"] == 0 and d["ci95"][1] > d["ci95"][0]


def test_auc_needs_both_classes_and_matching_points():
    with pytest.raises(ValueError, match="positive and one negative"):
        stats.auc([0.1, 0.2], [True, True])
    a = stats.auc([0.1, 0.9], [True, False], [1, 2])
    b = stats.auc([0.1, 0.9], [False, True], [1, 2])
    with pytest.raises(ValueError, match="same positive points"):
        stats.within_diff_var(a, b)


def test_tpr_at_fpr_reads_the_threshold_off_the_negatives():
    truth = np.r_[np.ones(5, bool), np.zeros(100, bool)]
    s = np.r_[[5, 4, 0.5, 0.2, 3], np.linspace(0, 1, 100)]
    p = stats.tpr_at_fpr(s, truth, np.arange(105), fpr=0.01)  # threshold: 2nd-highest negative
    assert p.mean == pytest.approx(3 / 5)
    assert list(p.ids) == [0, 1, 2, 3, 4]
