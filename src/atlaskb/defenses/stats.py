"""Intervals and paired differences that hold up when the seeds happen to agree.

An experiment measures each arm on finitely many test points in each seed, so a figure has
two sources of error: the spread across seeds (split, initial weights, attack randomness)
and the sampling error of the test points within a seed. Each seed reports its per-point
outcomes (`Points`); the variance of a mean over S seeds is taken as

    max(sample variance across seeds, mean within-seed variance) / S

with a Student-t quantile on S - 1 degrees of freedom (normal for one seed). The
within-seed variance of a rate uses score-type pseudo-counts so it is never zero, not even
for 0 of 275 or 275 of 275: Agresti-Coull for one arm (add 2 successes, 2 failures),
Agresti-Min for a paired difference on the same points (add 1/2 to each cell of the 2x2
table), Agresti-Caffo for an unpaired one (add 1 success, 1 failure to each arm). Taking
the larger of the two variances rather than their sum avoids counting the test-point
error twice (the across-seed spread already contains it) while never letting it vanish.

An AUC (`auc`) is carried as DeLong placement values: each positive point's share of
negatives it outranks, each negative's share of positives that outrank it (ties count
half). Their mean is the AUC exactly, and the within-seed variance is DeLong's,
var(positive placements)/m + var(negative placements)/n; for a paired difference of two
AUCs on the same points it is the same formula on the per-point differences (DeLong's
covariance term included). DeLong's variance is 0 when the scores separate the classes
perfectly or when every score ties, so it is floored with the rates' pseudo-counts
applied to the m n (positive, negative) pairs the AUC compares, as if they were
independent (which understates the variance, so the floor binds only in those degenerate
cases): Agresti-Coull for one arm, q (1 - q) / (mn + 4) with q = (A mn + 2) / (mn + 4);
Agresti-Min with no discordant pair for a paired difference, 1 / (mn + 2)^2. A rate at a chosen false-positive rate (`tpr_at_fpr`) is a rate over the
positives, conditional on the threshold read off the negatives.

The difference defended - baseline is paired by seed (both arms see the same seed, split
and test points); within a seed it is paired by point when both arms were measured on the
same points (`ids`), else treated as two independent samples. The verdict reads that
interval: it names a direction only when the interval excludes 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Points:
    """Per-point outcomes of one arm in one seed: 0/1 for a rate (`binary`), else values.
    `ids` name the test points (for pairing the two arms point by point)."""

    values: np.ndarray
    ids: np.ndarray | None = None
    binary: bool = True
    positive: np.ndarray | None = None  # set for an AUC: which points are positives

    @property
    def n(self) -> int:
        return int(len(self.values))

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.n else math.nan


def rate(hits, ids=None) -> Points:
    """A rate measured on points: `hits` is one bool per point."""
    return Points(np.asarray(hits, bool).astype(np.float64),
                  None if ids is None else np.asarray(ids), True)


def values(v, ids=None) -> Points:
    """A mean of per-point numbers (queries spent, say)."""
    return Points(np.asarray(v, np.float64), None if ids is None else np.asarray(ids), False)


def auc(scores, positive, ids=None) -> Points:
    """The AUC of `scores` (higher = more likely positive) separating the `positive` points
    from the rest, as DeLong placement values (see the module docstring)."""
    s = np.asarray(scores, np.float64)
    pos = np.asarray(positive, bool)
    if s.shape != pos.shape or s.ndim != 1:
        raise ValueError("auc needs one score and one positive flag per point")
    sp, sn = np.sort(s[pos]), np.sort(s[~pos])
    if len(sp) == 0 or len(sn) == 0:
        raise ValueError("auc needs at least one positive and one negative point")
    v = np.empty(len(s))
    v[pos] = (np.searchsorted(sn, s[pos], "left") + np.searchsorted(sn, s[pos], "right")) / (2.0 * len(sn))
    v[~pos] = 1.0 - (np.searchsorted(sp, s[~pos], "left") + np.searchsorted(sp, s[~pos], "right")) / (2.0 * len(sp))
    return Points(v, None if ids is None else np.asarray(ids), False, pos)


def tpr_at_fpr(scores, positive, ids=None, fpr: float = 0.01) -> Points:
    """Which positives score above the threshold that at most `fpr` of the negatives
    exceed (a rate over the positives; the threshold is read off the same negatives)."""
    s = np.asarray(scores, np.float64)
    pos = np.asarray(positive, bool)
    neg = np.sort(s[~pos])
    if len(neg) == 0 or not pos.any():
        raise ValueError("tpr_at_fpr needs at least one positive and one negative point")
    k = int(np.floor(fpr * len(neg)))  # negatives allowed above the threshold
    threshold = neg[len(neg) - 1 - k]
    return rate(s[pos] > threshold, None if ids is None else np.asarray(ids)[pos])


def _delong(values: np.ndarray, positive: np.ndarray) -> float:
    out = 0.0
    for g in (positive, ~positive):
        v = values[g]
        out += float(np.var(v, ddof=1)) / len(v) if len(v) > 1 else 0.0
    return out


def _pairs(positive: np.ndarray) -> int:
    return int(positive.sum()) * int((~positive).sum())


def _auc_floor(a: float, positive: np.ndarray) -> float:
    """Agresti-Coull variance of the AUC read as a rate over its m n pairs."""
    n2 = _pairs(positive) + 4
    q = (a * (n2 - 4) + 2) / n2
    return q * (1 - q) / n2


def _as_points(p) -> Points:
    if isinstance(p, Points):
        return p
    return Points(np.asarray([float(p)]), None, False)  # one number: no within-seed error known


def within_var(p: Points) -> float:
    """Variance of the seed's mean from its own points."""
    p = _as_points(p)
    if p.n == 0:
        return math.nan
    if p.positive is not None:
        return max(_delong(p.values, p.positive), _auc_floor(p.mean, p.positive))
    if p.binary:
        k = float(p.values.sum())
        n2 = p.n + 4
        q = (k + 2) / n2
        return q * (1 - q) / n2
    return float(np.var(p.values, ddof=1) / p.n) if p.n > 1 else 0.0


def within_diff_var(b: Points, d: Points) -> float:
    """Variance of (mean of d) - (mean of b) within one seed."""
    b, d = _as_points(b), _as_points(d)
    paired = (b.ids is not None and d.ids is not None and b.n == d.n
              and np.array_equal(np.sort(b.ids), np.sort(d.ids)))
    if paired:
        ob, od = np.argsort(b.ids), np.argsort(d.ids)
        vb, vd = b.values[ob], d.values[od]
        if b.positive is not None and d.positive is not None:
            pos = b.positive[ob]
            if not np.array_equal(pos, d.positive[od]):
                raise ValueError("paired AUCs need the same positive points in both arms")
            return max(_delong(vd - vb, pos), 1.0 / (_pairs(pos) + 2) ** 2)
        if b.binary and d.binary:
            n01 = float(np.sum((vb == 1) & (vd == 0)))
            n10 = float(np.sum((vb == 0) & (vd == 1)))
            n2 = b.n + 2
            p10, p01 = (n10 + 0.5) / n2, (n01 + 0.5) / n2
            return (p10 + p01 - (p10 - p01) ** 2) / n2
        diff = vd - vb
        return float(np.var(diff, ddof=1) / len(diff)) if len(diff) > 1 else 0.0
    if b.binary and d.binary:
        out = 0.0
        for p in (b, d):
            q = (float(p.values.sum()) + 1) / (p.n + 2)
            out += q * (1 - q) / (p.n + 2)
        return out
    return within_var(b) + within_var(d)


def _crit(s: int) -> float:
    if s <= 1:
        return Z95
    from scipy.stats import t

    return float(t.ppf(0.975, s - 1))


def _combine(means: list[float], within: list[float]) -> tuple[float, float]:
    """(mean over seeds, half-width of its 95% interval)."""
    s = len(means)
    m = float(np.mean(means))
    between = float(np.var(means, ddof=1)) if s > 1 else 0.0
    w = float(np.mean(within)) if within else 0.0
    var = max(between, w) / s
    return m, _crit(s) * math.sqrt(var)


def arm(per_seed: list, bounds: tuple[float, float] | None = (0.0, 1.0)) -> dict:
    """{"mean", "ci95": [lo, hi], "per_seed"} of one arm over seeds; `bounds` clip the
    interval to the values the metric can take."""
    pts = [_as_points(p) for p in per_seed]
    means = [p.mean for p in pts]
    m, h = _combine(means, [within_var(p) for p in pts])
    lo, hi = m - h, m + h
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return {"mean": m, "ci95": [lo, hi], "per_seed": means,
            "points": [p.n for p in pts]}


def difference(base_per_seed: list, def_per_seed: list, bounds: tuple[float, float] | None = None) -> dict:
    """{"mean", "ci95": [lo, hi], "per_seed"} of defended - baseline, paired by seed;
    `bounds` clip the interval to the differences that can occur (a difference of two
    rates lies in [-1, 1])."""
    if len(base_per_seed) != len(def_per_seed):
        raise ValueError("both arms need one measurement per seed")
    b = [_as_points(p) for p in base_per_seed]
    d = [_as_points(p) for p in def_per_seed]
    diffs = [y.mean - x.mean for x, y in zip(b, d)]
    m, h = _combine(diffs, [within_diff_var(x, y) for x, y in zip(b, d)])
    lo, hi = m - h, m + h
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return {"mean": m, "ci95": [lo, hi], "per_seed": diffs}


def verdict(diff_ci: list[float], higher_is_better: bool) -> str:
    """"better" / "worse" for the defended arm when the paired interval excludes 0 (in the
    metric's direction), else "no clear difference"."""
    lo, hi = diff_ci
    if lo > 0:
        return "better" if higher_is_better else "worse"
    if hi < 0:
        return "worse" if higher_is_better else "better"
    return "no clear difference"


def mean(vals) -> float:
    return float(np.mean([float(a) for a in vals])) if len(vals) else math.nan
