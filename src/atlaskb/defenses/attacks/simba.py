"""SimBA (Guo et al., 2019): a score-based black-box attack (AML.T0043.001).

Each step tries +eps then -eps on one coordinate (in a random order per input) and keeps
the change if the target's probability of the true class drops. Every perturbation stays
inside the L-inf ball of radius eps because each coordinate moves at most once. Only the
returned scores are used: no gradients, no weights.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.attacks import QueryOutcome


def simba(clf, x: np.ndarray, y: np.ndarray, *, eps: float, budget: int,
          rng: np.random.Generator) -> QueryOutcome:
    n, d = x.shape
    rows = np.arange(n)
    order = np.argsort(rng.random((n, d)), axis=1)
    xa = x.copy()
    probs = clf.probs(xa)
    queries = np.ones(n, np.int64)
    p_true = probs[rows, y]
    success = probs.argmax(1) != y
    for t in range(d):
        improved = np.zeros(n, bool)
        for sign in (1.0, -1.0):
            active = ~success & (queries < budget) & ~improved
            if not active.any():
                continue
            idx = np.flatnonzero(active)
            cand = xa[idx].copy()
            c = order[idx, t]
            cand[np.arange(len(idx)), c] = np.clip(x[idx, c] + sign * eps, 0.0, 1.0)
            p = clf.probs(cand)
            queries[idx] += 1
            better = p[np.arange(len(idx)), y[idx]] < p_true[idx]
            keep = idx[better]
            xa[keep] = cand[better]
            p_true[keep] = p[better, y[keep]]
            success[keep] = p[better].argmax(1) != y[keep]
            improved[keep] = True
        if (success | (queries >= budget)).all():
            break
    return QueryOutcome(xa, success, np.minimum(queries, budget))
