"""Intervals over seeds: every reported figure is a mean over independent seeds with a
two-sided 95% Student-t interval, because a handful of seeds is too few for a normal one."""

from __future__ import annotations

import math

import numpy as np


def t_interval(values, level: float = 0.95) -> tuple[float, float]:
    """(lo, hi) of the t-interval for the mean; a single value gives a zero-width interval
    (there is no spread to estimate), which results.json readers should treat as such."""
    v = np.asarray([float(a) for a in values], dtype=np.float64)
    if len(v) == 0:
        return (math.nan, math.nan)
    m = float(v.mean())
    if len(v) == 1:
        return (m, m)
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return (m - half, m + half)


def mean(values) -> float:
    return float(np.mean([float(a) for a in values])) if len(values) else math.nan
