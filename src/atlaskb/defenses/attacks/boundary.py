"""A label-only decision-boundary attack (after Brendel et al.'s Boundary Attack),
for AML.T0043.001 when the target returns only its top label.

Start from an input the target already labels differently (one of the attacker's own
images), binary-search towards the original along the line between them, then walk along
the boundary: a random step orthogonal-ish to the direction to the original plus a small
step towards it, kept only if the label is still wrong. Step sizes adapt per input. Success
means a misclassified input within `l2_max` of the original; queries are counted until
that first happens (or the budget runs out).
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.attacks import QueryOutcome


def boundary(clf, x: np.ndarray, y: np.ndarray, *, pool: np.ndarray, budget: int,
             l2_max: float, rng: np.random.Generator, search_steps: int = 8) -> QueryOutcome:
    n = len(x)
    queries = np.zeros(n, np.int64)
    used = np.full(n, budget, np.int64)

    def is_adv(cand, idx):
        queries[idx] += 1
        return clf.predict(cand) != y[idx]

    # 1. a starting point per input: attacker images, in random order, until one is adversarial
    start = np.zeros_like(x)
    found = np.zeros(n, bool)
    for _ in range(min(20, len(pool))):
        idx = np.flatnonzero(~found & (queries < budget))
        if len(idx) == 0:
            break
        cand = pool[rng.integers(0, len(pool), len(idx))]
        ok = is_adv(cand, idx)
        start[idx[ok]] = cand[ok]
        found[idx[ok]] = True
    # 2. binary search on the segment x -> start (keeps the adversarial end)
    lo, hi = np.zeros(n), np.ones(n)
    for _ in range(search_steps):
        idx = np.flatnonzero(found & (queries < budget))  # the budget binds here too
        if len(idx) == 0:
            break
        mid = (lo[idx] + hi[idx]) / 2
        cand = x[idx] + mid[:, None] * (start[idx] - x[idx])
        ok = is_adv(cand.astype(x.dtype), idx)
        hi[idx[ok]] = mid[ok]
        lo[idx[~ok]] = mid[~ok]
    xa = x + hi[:, None] * (start - x)
    dist = np.linalg.norm(xa - x, axis=1)
    done = found & (dist <= l2_max)
    used[done] = queries[done]
    # 3. random walk along the boundary
    spherical = np.full(n, 0.2)
    source = np.full(n, 0.05)
    while True:
        idx = np.flatnonzero(found & ~done & (queries < budget))
        if len(idx) == 0:
            break
        diff = x[idx] - xa[idx]
        d = np.linalg.norm(diff, axis=1, keepdims=True) + 1e-12
        eta = rng.normal(size=diff.shape)
        eta -= (np.sum(eta * diff, axis=1, keepdims=True) / d**2) * diff
        eta *= spherical[idx, None] * d / (np.linalg.norm(eta, axis=1, keepdims=True) + 1e-12)
        cand = xa[idx] + eta
        cand += source[idx, None] * (x[idx] - cand)
        cand = np.clip(cand, 0.0, 1.0).astype(x.dtype)
        closer = np.linalg.norm(cand - x[idx], axis=1) < d[:, 0]
        ok = is_adv(cand, idx) & closer
        acc, rej = idx[ok], idx[~ok]
        xa[acc] = cand[ok]
        spherical[acc] = np.minimum(spherical[acc] * 1.1, 1.0)
        source[acc] = np.minimum(source[acc] * 1.1, 0.5)
        spherical[rej] = np.maximum(spherical[rej] * 0.95, 1e-3)
        source[rej] = np.maximum(source[rej] * 0.95, 1e-3)
        dist[acc] = np.linalg.norm(xa[acc] - x[acc], axis=1)
        newly = acc[dist[acc] <= l2_max]
        done[newly] = True
        used[newly] = queries[newly]
    return QueryOutcome(xa, done, np.minimum(used, budget))
