"""Projected gradient descent in an L-infinity ball (Madry et al.), the standard
white-box evasion attack (AML.T0043.000).

Which networks `bounds` holds decides the threat model: one member (non-adaptive: the
attacker optimises against a piece of the ensemble), every member (adaptive: the loss is
the soft-vote output itself), or an attacker's own surrogate (transfer, AML.T0043.002).
"""

from __future__ import annotations

import numpy as np

from atlaskb.engine import train as T
from atlaskb.engine.backend import Backend, Bound

# Attack losses as (loss, combine) for `engine.train.input_gradient`: the cross-entropy of
# the soft-vote output, and the sum of the members' own cross-entropies (which keeps a
# gradient when one confident member would mute the soft-vote one). For a single network
# both are the usual cross-entropy.
SOFTVOTE_CE = ("ce", "mean-prob")
MEMBER_CE = ("ce", "sum")
LOSSES = (SOFTVOTE_CE, MEMBER_CE)


def pgd(backend: Backend, bounds: list[Bound], x: np.ndarray, y: np.ndarray, *, eps: float,
        steps: int, rng: np.random.Generator, step_size: float | None = None,
        batch: int = 1024, loss: tuple[str, str] = SOFTVOTE_CE) -> np.ndarray:
    """Untargeted L-inf PGD with a uniform random start; returns numpy adversarial inputs
    in [0, 1] with |x_adv - x| <= eps. `loss` is a (loss, combine) pair (see `LOSSES`)."""
    if eps <= 0 or steps <= 0:
        return x.copy()
    alpha = step_size if step_size is not None else 2.5 * eps / steps
    out = []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        start = np.clip(xb + rng.uniform(-eps, eps, xb.shape), 0.0, 1.0).astype(xb.dtype)
        x0 = backend.asarray(xb)
        lo, hi = backend.clip(x0 - eps, 0.0, 1.0), backend.clip(x0 + eps, 0.0, 1.0)
        yb = backend.asarray(y[i:i + batch].astype(np.int64))
        xa = backend.asarray(start)
        for _ in range(steps):
            g = T.input_gradient(backend, bounds, xa, yb, loss=loss[0], combine=loss[1])
            xa = backend.clip(xa + alpha * backend.sign(g), lo, hi)
        out.append(backend.to_numpy(xa))
    return np.concatenate(out).astype(x.dtype)


def pgd_worst_of(backend: Backend, bounds: list[Bound], x: np.ndarray, y: np.ndarray, predict, *,
                 eps: float, steps: int, rng: np.random.Generator,
                 losses=LOSSES) -> np.ndarray:
    """Run PGD with each loss and keep, per input, the first result that `predict` gets
    wrong (else the last): an adaptive evaluation should not hinge on one loss that a
    saturated member can blunt."""
    best = None
    for loss in losses:
        adv = pgd(backend, bounds, x, y, eps=eps, steps=steps, rng=rng, loss=loss)
        if best is None:
            best = adv
            fooled = predict(best) != y
            continue
        take = ~fooled & (predict(adv) != y)
        best[take] = adv[take]
        fooled |= take
    return best
