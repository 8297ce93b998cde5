"""Model extraction (AML.T0024.002) and proxy models (AML.T0005): a copy trained on the
answers to the attacker's queries (after Tramèr et al., 2016, and Orekondy et al.'s
Knockoff Nets, 2019).

The attacker owns unlabelled images (its own split) and enlarges them into a query pool
with mixtures of pairs (so the pool covers the space between classes, where the victim's
boundary lies). With a budget of B queries it either picks B pool images at random, or
samples actively: a random first round, then rounds of the pool images the current copy
is least sure of (smallest gap between its top two probabilities). The copy trains on
soft targets (the returned scores, renormalised) or on the returned top label only; which
of the two is the adaptive choice depends on the API and is the experiment's to make.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import models
from atlaskb.engine import train as T


def query_pool(x_attacker: np.ndarray, rng: np.random.Generator, mixtures: int) -> np.ndarray:
    """The attacker's images plus `mixtures` x as many convex mixtures of random pairs."""
    n = len(x_attacker)
    a, b = rng.integers(0, n, (2, mixtures * n))
    lam = rng.uniform(0.0, 1.0, (mixtures * n, 1))
    mixed = lam * x_attacker[a] + (1 - lam) * x_attacker[b]
    return np.concatenate([x_attacker, mixed]).astype(np.float32)


def targets(answers: np.ndarray, soft: bool) -> np.ndarray:
    """Training targets from returned scores: renormalised rows, or the top label."""
    a = np.clip(np.asarray(answers, np.float64), 0.0, None)
    if not soft:
        return a.argmax(axis=1)
    return (a / np.maximum(a.sum(axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _train(backend, xq, tq, n_classes, image, epochs, batch, lr, rng):
    net = models.build(models.SURROGATE_SPEC, xq.shape[1], n_classes, image, rng)
    return T.train(backend, net, xq, tq, epochs=epochs, batch_size=batch, lr=lr, rng=rng)


def choose_queries(backend, system, pool, budget: int, active: bool, rounds: int, n_classes, image, *,
                   epochs: int, batch: int, lr: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(indices into `pool`, the API's answers to them), `budget` queries in all. Active
    rounds rank the unqueried pool by the interim copy's top-two gap, trained on the top
    labels so far (the one target every API returns)."""
    budget = min(budget, len(pool))
    if not active:
        idx = rng.choice(len(pool), budget, replace=False)
        return idx, system.scores(pool[idx])
    per = [budget // rounds + (1 if i < budget % rounds else 0) for i in range(rounds)]
    idx = rng.choice(len(pool), per[0], replace=False)
    answers = system.scores(pool[idx])
    for k in per[1:]:
        copy = _train(backend, pool[idx], targets(answers, soft=False), n_classes, image, epochs, batch, lr, rng)
        p = T.predict_proba(backend, [copy], pool)
        top2 = -np.sort(-p, axis=1)[:, :2]
        gap = top2[:, 0] - top2[:, 1]
        gap[idx] = np.inf
        new = np.argsort(gap, kind="stable")[:k]
        idx = np.concatenate([idx, new])
        answers = np.concatenate([answers, system.scores(pool[new])])
    return idx, answers


def copycat(backend, pool, idx, answers, soft: bool, n_classes, image, *, epochs: int, batch: int, lr: float,
            rng: np.random.Generator):
    """The attacker's copy, trained on its queries and the targets it takes from the answers."""
    return _train(backend, pool[idx], targets(answers, soft), n_classes, image, epochs, batch, lr, rng)
