"""SimBA (Guo et al., 2019): a score-based black-box attack (AML.T0043.001).

Each step tries +step then -step on one coordinate (in a random order per input) and keeps
the change if the target's probability of the true class drops. Only the returned scores
are used: no gradients, no weights.

The query budget is what bounds the attacker, so the attack keeps going until it is spent:
one pass over the features costs at most 2 x features queries (129 on 8x8 digits), which
would leave most of a realistic budget unused and make the budget a number that never
binds. Pass k therefore uses a step of eps / 2**min(k, halvings), with a fresh coordinate
order, and every try is clipped to the L-inf ball of radius eps around the original input
(and to [0, 1]), so the bound holds however many passes run. A try that would not move the
input (a pixel already at a bound) is not sent and costs nothing: an attacker would not
pay for a query whose answer it already knows.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.attacks import QueryOutcome

HALVINGS = 3  # steps eps, eps/2, eps/4, then eps/8 for every later pass


def simba(clf, x: np.ndarray, y: np.ndarray, *, eps: float, budget: int,
          rng: np.random.Generator, halvings: int = HALVINGS) -> QueryOutcome:
    """Untargeted SimBA in the pixel basis with at most `budget` queries per input (the first
    query, the unmodified input, included). Returns per input the final input, whether the
    target misclassifies it, and the queries it cost."""
    n, d = x.shape
    rows = np.arange(n)
    x64 = x.astype(np.float64)
    lo, hi = np.clip(x64 - eps, 0.0, 1.0), np.clip(x64 + eps, 0.0, 1.0)
    xa = x.copy()
    probs = clf.probs(xa)
    queries = np.ones(n, np.int64)
    p_true = probs[rows, y]
    success = probs.argmax(1) != y
    k = 0
    while eps > 0 and budget > 1:
        if (success | (queries >= budget)).all():
            break
        step = eps / 2 ** min(k, halvings)
        order = np.argsort(rng.random((n, d)), axis=1)
        spent = int(queries.sum())
        for t in range(d):
            improved = np.zeros(n, bool)
            for sign in (1.0, -1.0):
                idx = np.flatnonzero(~success & (queries < budget) & ~improved)
                if len(idx) == 0:
                    continue
                c = order[idx, t]
                new = np.clip(xa[idx, c] + sign * step, lo[idx, c], hi[idx, c]).astype(x.dtype)
                moves = new != xa[idx, c]
                idx, c, new = idx[moves], c[moves], new[moves]
                if len(idx) == 0:
                    continue
                cand = xa[idx].copy()
                cand[np.arange(len(idx)), c] = new
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
        if int(queries.sum()) == spent:  # nothing left to try (cannot happen with eps > 0)
            break
        k += 1
    return QueryOutcome(xa, success, np.minimum(queries, budget))
