"""Turning attack outcomes into per-point measurements (`stats.Points`), in one place, so
"success" and "robust accuracy" mean the same thing in every mitigation.

- robust accuracy: share of the test points the system labels correctly (or, with a
  detector, rejects) after the attack (all points; a point the system already gets wrong
  counts as not robust). Both arms are
  scored on the same points, so their difference pairs point by point.
- attack success rate: share of the points the system got right before the attack that
  the attack makes meet its criterion (the usual evasion rate). Each arm has its own
  population, so its difference is unpaired within a seed.
- trigger success: share of the points not of the target class that a trigger sends there.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import stats
from atlaskb.defenses.threat import REJECT, Misclassification, Outcome, ThreatModel


def run_attack(ctx, name: str, system, attack, x, y, tm: ThreatModel, criterion=Misclassification()) -> Outcome:
    """`attack` on `system` over (x, y), cached in the seed's context under `name`, with
    its own named random stream (so results do not depend on what ran before)."""
    return ctx.cached(f"attack:{name}", lambda: attack(system, x, y, tm, ctx.rng("attack", name), criterion))


def correct(system, x, y, ids) -> stats.Points:
    return stats.rate(system.predict(x) == y, ids)


def robust_accuracy(system, x_adv, y, ids) -> stats.Points:
    """Correct, or (for a system with a detector) rejected: an attacked input that is
    rejected has been stopped. A rejected clean input counts against the system in
    `correct`, which takes only the true label."""
    p = system.predict(x_adv)
    return stats.rate((p == y) | (p == REJECT), ids)


def success_rate(system, x, y, outcome: Outcome, ids) -> stats.Points:
    """Attack success over the points `system` classified correctly before the attack."""
    ok = system.predict(x) == y
    return stats.rate(outcome.success[ok], ids[ok])


def queries(system, x, y, outcome: Outcome, ids) -> stats.Points:
    ok = system.predict(x) == y
    return stats.values(outcome.queries[ok], ids[ok])
