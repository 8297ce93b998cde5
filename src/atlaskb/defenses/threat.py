"""What an attacker may do, as data: the threat model, the criterion of success, and what
an attack achieved.

Every attack has one call shape (see `atlaskb.defenses.attacks`):

    attack(system, x, y, threat_model, rng, criterion=Misclassification()) -> Outcome

so an experiment states its threat model once, the same object goes into the result row,
and two arms compared "at the same threat model" are compared with one object.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

REJECT = -1  # the label a system with a detector answers for an input it rejects

KNOWLEDGE = ("white-box", "scores", "labels", "none")
NORMS = ("linf", "l2", "none")
_NORM_WORDS = {"linf": "L-inf norm", "l2": "L2 norm", "none": ""}


@dataclass(frozen=True)
class ThreatModel:
    """The attacker's knowledge of the system, its perturbation budget and its query budget.

    - knowledge: "white-box" (weights, so input gradients), "scores" (the returned
      probabilities), "labels" (the top label only) or "none" (no access at all).
    - norm, eps: the perturbation budget ("none" with eps 0 for attacks that change inputs
      without a budget, such as hand edits or a trigger).
    - queries: the most queries per input (0 = not limited by queries, white-box or none).
    - adaptive: whether the attack is run end to end against the defended system itself
      (with BPDA/EOT where a part is not differentiable), rather than against a piece of it.
    """

    knowledge: str
    norm: str = "linf"
    eps: float = 0.0
    queries: int = 0
    adaptive: bool = False

    def __post_init__(self):
        if self.knowledge not in KNOWLEDGE:
            raise ValueError(f"unknown attacker knowledge {self.knowledge!r}; choose one of {KNOWLEDGE}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown norm {self.norm!r}; choose one of {NORMS}")
        if not (math.isfinite(self.eps) and self.eps >= 0):
            raise ValueError(f"eps must be a finite number >= 0, got {self.eps!r}")
        if int(self.queries) != self.queries or self.queries < 0:
            raise ValueError(f"queries must be a whole number >= 0, got {self.queries!r}")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["eps"] = float(d["eps"])
        d["queries"] = int(d["queries"])
        return d

    def with_(self, **changes) -> "ThreatModel":
        return ThreatModel(**{**asdict(self), **changes})

    def distance(self, x_adv: np.ndarray, x: np.ndarray) -> np.ndarray:
        d = (np.asarray(x_adv, np.float64) - np.asarray(x, np.float64)).reshape(len(x), -1)
        if self.norm == "l2":
            return np.linalg.norm(d, axis=1)
        return np.abs(d).max(axis=1) if d.size else np.zeros(len(x))

    def sentence(self) -> str:
        """One plain sentence a reader of the site can take in at a glance."""
        who = {"white-box": "knows the weights (white-box)",
               "scores": "sees the returned scores only",
               "labels": "sees the top label only",
               "none": "has no access to the model"}[self.knowledge]
        parts = [f"The attacker {who}"]
        if self.norm != "none":
            parts.append(f"may change each input by at most {self.eps:g} in {_NORM_WORDS[self.norm]}")
        if self.queries:
            parts.append(f"with at most {self.queries} queries per input")
        parts.append("and attacks the defended system end to end (adaptive)" if self.adaptive
                     else "and does not adapt to the defense")
        return ", ".join(parts[:-1]) + " " + parts[-1] + "."


class Criterion:
    """When an answer counts as the attacker's success, per input."""

    name = "criterion"

    def __call__(self, labels: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def margin(self, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per input, how far from success on the log-probability scale (<= 0: success).
        Score-based attacks descend on this instead of on a probability, which saturates
        at 1.0 in float32 and would stall them."""
        raise NotImplementedError


def _logp(scores: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(scores, np.float64), 1e-300, None))


@dataclass(frozen=True)
class Misclassification(Criterion):
    """Success: any label but the true one. A rejection (`systems.REJECT`, answered by a
    system with a detector) is no success: the input was stopped.

    `rejects=True` is for a system whose scores carry the rejection as their last column
    (`systems.Rejecting`): the margin then counts the rejection with the true class, so a
    score-based attacker descends towards answers that are wrong and not rejected."""

    rejects: bool = False
    name = "misclassification"

    def __call__(self, labels, y):
        labels = np.asarray(labels)
        return (labels != np.asarray(y)) & (labels != REJECT)

    def margin(self, scores, y):
        lp = _logp(scores)
        rows = np.arange(len(y))
        true = lp[rows, y].copy()
        lp[rows, y] = -np.inf
        if self.rejects:
            true = np.maximum(true, lp[:, -1])
            lp = lp[:, :-1]
        return true - lp.max(axis=1)


@dataclass(frozen=True)
class TargetedMisclassification(Criterion):
    """Success: the attacker's chosen class."""

    target: int = 0
    name = "targeted"

    def __call__(self, labels, y):
        return np.asarray(labels) == self.target

    def margin(self, scores, y):
        lp = _logp(scores)
        t = lp[:, self.target].copy()
        lp[:, self.target] = -np.inf
        return lp.max(axis=1) - t


@dataclass
class Outcome:
    """What an attack achieved, per input: the inputs it would send, whether the system's
    answer to them meets the criterion, and how many queries (or gradient evaluations) it
    spent."""

    x_adv: np.ndarray
    success: np.ndarray
    queries: np.ndarray
