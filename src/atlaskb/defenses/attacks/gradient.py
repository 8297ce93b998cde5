"""White-box gradient attacks in an L-infinity ball: PGD (Madry et al., 2018) and an
APGD-style attack (Croce and Hein, 2020: step-size schedule with checkpoints, momentum,
restarts from the best point, cross-entropy and margin losses).

Both read gradients through the system's `gradient`, so against a defense with a
non-differentiable part they use the approximation the system exposes (BPDA/EOT) and need
no special case. Several losses and restarts are combined per input: the first run that
fools the system wins (an evaluation should not hinge on one loss that a saturated member
can blunt). A targeted criterion descends the loss of the target class instead.
"""

from __future__ import annotations

import math

import numpy as np

from atlaskb.defenses.attacks import Access, Attack
from atlaskb.defenses.threat import TargetedMisclassification


def _labels_and_sign(criterion, y):
    if isinstance(criterion, TargetedMisclassification):
        return np.full(len(y), criterion.target, np.int64), -1.0
    return y, 1.0


def _ball(x, eps):
    return np.clip(x - eps, 0.0, 1.0), np.clip(x + eps, 0.0, 1.0)


class _Multi(Attack):
    """Runs `_one` for every (restart, loss) and keeps, per input, the first success."""

    norm = "linf"

    def run(self, access: Access, x, y, tm, rng, criterion):
        labels, sign = _labels_and_sign(criterion, y)
        offered = access.losses
        losses = [name for name in self.losses if name in offered] or [offered[0]]
        best = x.copy()
        fooled = np.zeros(len(x), bool)
        if tm.eps <= 0 or len(x) == 0:
            return best, np.zeros(len(x), np.int64)
        for r in range(self.restarts):
            for loss in losses:
                todo = np.flatnonzero(~fooled)
                if len(todo) == 0:
                    break
                adv, ok = self._one(access, x[todo], labels[todo], y[todo], tm.eps, loss, sign,
                                    rng, criterion, random_start=(r > 0 or self.random_start))
                best[todo] = adv
                fooled[todo[ok]] = True
        return best, np.full(len(x), access.gradients // max(len(x), 1), np.int64)

    def params(self):
        return {"steps": self.steps, "restarts": self.restarts, "losses": list(self.losses)}


class PGD(_Multi):
    """Projected gradient (sign) ascent with a uniform random start and a fixed step of
    2.5 eps / steps."""

    name = "pgd"

    def __init__(self, steps: int = 40, restarts: int = 1, losses=("ce",), random_start: bool = True):
        self.steps, self.restarts, self.losses, self.random_start = steps, restarts, tuple(losses), random_start

    def _one(self, access, x, labels, y, eps, loss, sign, rng, criterion, random_start):
        lo, hi = _ball(x, eps)
        xa = np.clip(x + rng.uniform(-eps, eps, x.shape), lo, hi).astype(x.dtype) if random_start else x.copy()
        alpha = 2.5 * eps / self.steps
        for _ in range(self.steps):
            g, _ = access.gradient(xa, labels, loss, rng)
            xa = np.clip(xa + sign * alpha * np.sign(g), lo, hi).astype(x.dtype)
        return xa, criterion(access.predict(xa), y)


def checkpoints(steps: int) -> list[int]:
    """APGD's checkpoints: p0 = 0, p1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)."""
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({int(math.ceil(q * steps)) for q in p if q <= 1} - {0})


class APGD(_Multi):
    """APGD-style attack: step size starts at 2 eps and is halved at a checkpoint for an
    input whose loss rose in fewer than rho of the steps since the last checkpoint, or that
    made no progress at unchanged step size; a halving restarts from the input's best
    point. Momentum 0.75. Success is checked at every checkpoint and on the best-loss
    point at the end; the first point found that fools the system is kept."""

    name = "apgd"

    def __init__(self, steps: int = 100, restarts: int = 5, losses=("ce", "margin"),
                 rho: float = 0.75, momentum: float = 0.75, random_start: bool = False):
        self.steps, self.restarts, self.losses = steps, restarts, tuple(losses)
        self.rho, self.momentum, self.random_start = rho, momentum, random_start

    def _one(self, access, x, labels, y, eps, loss, sign, rng, criterion, random_start):
        n = len(x)
        lo, hi = _ball(x, eps)
        x0 = np.clip(x + rng.uniform(-eps, eps, x.shape), lo, hi) if random_start else x.astype(np.float64)
        g, f = access.gradient(x0.astype(x.dtype), labels, loss, rng)
        f = sign * f
        g = sign * g
        eta = np.full(n, 2.0 * eps)
        x_best, f_best = x0.copy(), f.copy()
        x_win = x.copy()
        won = criterion(access.predict(x0.astype(x.dtype)), y)
        x_win[won] = x0[won]
        x_prev, xk = x0.copy(), x0.copy()
        marks = set(checkpoints(self.steps))
        last_mark, rises = 0, np.zeros(n)
        eta_at_mark, fbest_at_mark = eta.copy(), f_best.copy()
        f_cur = f.copy()
        for k in range(self.steps):
            z = np.clip(xk + eta[:, None] * np.sign(g), lo, hi)
            a = 0.75 if k > 0 else 1.0
            a = self.momentum if k > 0 else a
            x_new = np.clip(xk + a * (z - xk) + (1 - a) * (xk - x_prev), lo, hi)
            g_new, f_new = access.gradient(x_new.astype(x.dtype), labels, loss, rng)
            f_new, g_new = sign * f_new, sign * g_new
            if k + 1 in marks or k + 1 == self.steps:  # success checks at checkpoints only
                ok = criterion(access.predict(x_new.astype(x.dtype)), y)
                first = ok & ~won
                x_win[first] = x_new[first]
                won |= ok
            rises += f_new > f_cur
            improved = f_new > f_best
            x_best[improved], f_best[improved] = x_new[improved], f_new[improved]
            x_prev, xk, g, f_cur = xk, x_new, g_new, f_new
            if k + 1 in marks:
                span = k + 1 - last_mark
                cond1 = rises < self.rho * span
                cond2 = (eta_at_mark == eta) & (fbest_at_mark == f_best)
                halve = cond1 | cond2
                eta[halve] /= 2.0
                xk[halve] = x_best[halve]
                x_prev[halve] = x_best[halve]
                if halve.any():
                    gh, fh = access.gradient(xk[halve].astype(x.dtype), labels[halve], loss, rng)
                    g[halve], f_cur[halve] = sign * gh, sign * fh
                last_mark, rises = k + 1, np.zeros(n)
                eta_at_mark, fbest_at_mark = eta.copy(), f_best.copy()
        rest = ~won
        if rest.any():  # the best-loss point may fool the system where the last iterate did not
            ok = criterion(access.predict(x_best[rest].astype(x.dtype)), y[rest])
            idx = np.flatnonzero(rest)[ok]
            x_win[idx] = x_best[idx]
            won[idx] = True
        out = np.where(won[:, None], x_win, x_best).astype(x.dtype)
        return out, won
