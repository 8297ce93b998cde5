"""Attacks behind one call shape:

    attack(system, x, y, threat_model, rng, criterion=Misclassification()) -> Outcome

An attack is a small configured object (steps, restarts, ...) whose call takes the system
under test, the inputs and their labels, the threat model (`atlaskb.defenses.threat`), a
random generator and the criterion of success. It reaches the system only through an
`Access` made from the threat model, which hands out gradients to white-box attackers
only, scores to score-based ones, labels to label-only ones, and counts every query, so
an attack cannot overstep its threat model, and never knows the backend or the defense.

Success per input is judged afterwards on the system's own answer to `x_adv` (not on the
attacker's view), by the criterion.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.threat import Criterion, Misclassification, Outcome, ThreatModel

__all__ = ["Access", "AccessDenied", "Attack", "finish"]


class AccessDenied(PermissionError):
    """An attack asked for more than its threat model allows (a bug in the attack)."""


class Access:
    """The attacker's view of a system under a threat model, with a query counter.

    `queries` counts inputs sent (scores or labels); `gradients` counts input-gradient
    evaluations (white-box only, not limited by the query budget).
    """

    def __init__(self, system, threat_model: ThreatModel):
        self._system, self.tm = system, threat_model
        self.n_classes = system.n_classes
        self.queries = 0
        self.gradients = 0

    @property
    def losses(self):
        self._need("white-box", "input gradients")
        return self._system.losses

    def _need(self, *allowed_and_what):
        *allowed, what = allowed_and_what
        if self.tm.knowledge not in allowed:
            raise AccessDenied(f"a {self.tm.knowledge} attacker may not use {what}")

    def scores(self, x):
        self._need("white-box", "scores", "the returned scores")
        self.queries += len(x)
        return self._system.scores(x)

    def predict(self, x):
        self._need("white-box", "scores", "labels", "the returned labels")
        self.queries += len(x)
        return self._system.predict(x)

    def gradient(self, x, y, loss="ce", rng=None):
        self._need("white-box", "input gradients")
        self.gradients += len(x)
        return self._system.gradient(x, y, loss, rng)


def finish(system, x: np.ndarray, x_adv: np.ndarray, y: np.ndarray, criterion: Criterion,
           queries: np.ndarray, threat_model: ThreatModel) -> Outcome:
    """The outcome: `x_adv` checked against the budget, success from the system's answer."""
    x_adv = np.asarray(x_adv).astype(x.dtype)
    if threat_model.norm != "none" and len(x):
        over = threat_model.distance(x_adv, x) > threat_model.eps * (1 + 1e-5) + 1e-6
        if over.any():
            raise AssertionError(f"attack left its {threat_model.norm} ball of {threat_model.eps:g} "
                                 f"on {int(over.sum())} inputs")
    success = criterion(system.predict(x_adv), y) if len(x) else np.zeros(0, bool)
    return Outcome(x_adv, np.asarray(success, bool), np.asarray(queries, np.int64))


class Attack:
    """Base class. Subclasses set `knowledge` (the access they need), `norm` (the ball they
    search, "linf" or "l2"; None: any threat model's) and implement `run`."""

    knowledge: tuple[str, ...] = ("white-box",)
    name = "attack"
    norm: str | None = None

    def __call__(self, system, x, y, threat_model: ThreatModel, rng: np.random.Generator,
                 criterion: Criterion = Misclassification()) -> Outcome:
        if threat_model.knowledge not in self.knowledge:
            raise ValueError(f"{self.name} needs an attacker with {' or '.join(self.knowledge)} "
                             f"knowledge; the threat model gives {threat_model.knowledge}")
        if self.norm is not None and threat_model.norm != self.norm:
            raise ValueError(f"{self.name} works in the {self.norm} ball; the threat model says {threat_model.norm}")
        x = np.asarray(x)
        y = np.asarray(y, np.int64)
        access = Access(system, threat_model)
        x_adv, queries = self.run(access, x, y, threat_model, rng, criterion)
        return finish(system, x, x_adv, y, criterion, queries, threat_model)

    def run(self, access: Access, x, y, tm: ThreatModel, rng, criterion):
        raise NotImplementedError

    def params(self) -> dict:
        """The attack's own settings, for the result row."""
        return {k: v for k, v in vars(self).items() if isinstance(v, (int, float, str, bool, tuple))}
