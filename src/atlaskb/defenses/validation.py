"""Checks a defender runs on a model before deploying it (AML.M0008 Validate AI Model).

- Trigger reverse-engineering after Neural Cleanse (Wang et al., 2019): for every class t,
  look for the smallest mask m and pattern p such that (1 - m) x + m p sends the
  defender's clean inputs to t (cross-entropy towards t plus lambda |m|_1, lambda raised
  while the mask succeeds and lowered while it fails). A backdoored class needs a much
  smaller mask than the others; the model's score is the anomaly index of the smallest
  mask norm (its distance below the median in units of the scaled median absolute
  deviation). Wang et al. flag an index above 2.
- A meta-classifier over a population of models, after Xu et al. (2021, "Detecting AI
  Trojans Using Meta Neural Analysis"): every model answers the same fixed query inputs;
  a logistic regression trained on the answers of the defender's own shadow models (clean,
  and backdoored with random triggers of its own making) scores a model's answers. The
  queries are fixed, not tuned as in the paper.
- A held-out accuracy gate and a robustness gate are plain measurements (see m0008).

Thresholds are never fixed constants: `calibrate_gate` sets the deploy/reject threshold
on models the defender trained itself, clean and disjoint from every model it judges, at
a stated false-positive rate, so that the gate rejects about that share of clean models by
construction (`min_score_at_fpr` does the same for a gate on a score where higher is
better). A constant such as "anomaly index above 2" ignores how the scores of clean models
of this architecture and data actually spread, and rejected most clean models here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from atlaskb.defenses.detectors import threshold_at_fpr
from atlaskb.engine import train as T


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reverse_engineer(backend, net, x: np.ndarray, n_classes: int, *, steps: int, rng: np.random.Generator,
                     lr: float = 0.1, lam: float = 1e-2, success: float = 0.9, adjust_every: int = 5):
    """Smallest-mask trigger per class: (L1 norms of the best successful masks, or the
    input size where none succeeded, and the attack success each reached). All classes are
    optimised together in one batch of n_classes x len(x) inputs."""
    be = backend
    bound = be.bind(net)
    k, (n, d) = n_classes, x.shape
    a = rng.normal(0.0, 0.1, (k, d))          # mask logits: m = sigmoid(a) starts near 1/2
    b = rng.normal(0.0, 0.1, (k, d))          # pattern logits
    lams = np.full(k, lam)
    best = np.full(k, float(d))
    best_success = np.zeros(k)
    targets = np.repeat(np.arange(k), n)
    state = {"m": [np.zeros_like(a), np.zeros_like(b)], "v": [np.zeros_like(a), np.zeros_like(b)], "t": 0}
    ok_run = np.zeros(k)
    for step in range(steps):
        m, p = _sigmoid(a), _sigmoid(b)
        xs = ((1.0 - m)[:, None, :] * x[None] + (m * p)[:, None, :]).reshape(k * n, d).astype(np.float32)
        g, _ = T.input_gradient(be, [bound], xs, targets, "ce", return_loss=True)
        g = be.to_numpy(g).reshape(k, n, d).astype(np.float64) / n
        pred = T.predict(be, [bound], xs).reshape(k, n)
        hit = (pred == np.arange(k)[:, None]).mean(axis=1)
        norms = m.sum(axis=1)
        better = (hit >= success) & (norms < best)
        best[better] = norms[better]
        best_success = np.maximum(best_success, hit)
        gm = (g * (p[:, None, :] - x[None])).sum(axis=1) + lams[:, None]
        gp = (g * m[:, None, :]).sum(axis=1)
        grads = [gm * m * (1 - m), gp * p * (1 - p)]
        state["t"] += 1
        t = state["t"]
        for i, (param, gr) in enumerate(zip((a, b), grads)):
            state["m"][i] = 0.9 * state["m"][i] + 0.1 * gr
            state["v"][i] = 0.999 * state["v"][i] + 0.001 * gr * gr
            mh = state["m"][i] / (1 - 0.9 ** t)
            vh = state["v"][i] / (1 - 0.999 ** t)
            param -= lr * mh / (np.sqrt(vh) + 1e-8)
        ok_run += hit >= success
        if (step + 1) % adjust_every == 0:
            up = ok_run == adjust_every
            lams = np.where(up, lams * 1.5, np.where(ok_run == 0, lams / 1.5, lams))
            ok_run[:] = 0
    return best, best_success


def median_and_spread(values) -> tuple[float, float]:
    """Median and scaled median absolute deviation (the standard deviation for normal data)."""
    v = np.asarray(values, np.float64)
    med = float(np.median(v))
    return med, 1.4826 * float(np.median(np.abs(v - med)))


def anomaly_index(norms: np.ndarray) -> float:
    """How far the smallest norm lies below the median, in scaled median absolute deviations."""
    med, mad = median_and_spread(norms)
    return (med - float(np.min(norms))) / max(mad, 1e-9)


@dataclass(frozen=True)
class CalibratedGate:
    """A deploy/reject rule over several checks' scores (each: higher = more suspicious),
    calibrated on the defender's own clean models.

    The checks are combined by calibrating the combined decision's score, not by splitting
    the false-positive budget (Bonferroni): each check's score is put on a common scale
    (distance from the calibration models' median in scaled median absolute deviations),
    the combined score is the largest of them (a model is rejected if any check finds it
    unusual), and one threshold is the (1 - fpr) quantile of the combined score over the
    calibration models. That spends the whole budget: Bonferroni would test each of k
    checks at fpr / k, which with a few dozen calibration models is simply each check's
    maximum, and rejects fewer clean models than stated when the checks are correlated.
    With n calibration models the quantile (numpy's "higher") is the
    (ceil((1 - fpr)(n - 1)) + 1)-th smallest score, so a fresh clean model exchangeable with
    them lies above it with probability about fpr (at fpr = 5%: 1/21 for n = 20, 2/41 for
    n = 40, the conformal bound); a shift between the defender's models and the supplier's
    breaks the exchangeability, which is why the measured clean rejection is reported.
    """

    center: Mapping[str, float]
    spread: Mapping[str, float]
    threshold: float
    fpr: float

    def score(self, scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """The combined score of each model: its most unusual check."""
        z = [(np.asarray(scores[c], np.float64) - self.center[c]) / self.spread[c] for c in self.center]
        return np.max(z, axis=0)

    def rejects(self, scores: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.score(scores) > self.threshold


def calibrate_gate(clean_scores: Mapping[str, np.ndarray], fpr: float) -> CalibratedGate:
    """The gate that rejects a share `fpr` of the clean calibration models (`clean_scores`:
    check name -> one score per calibration model). Never pass it a tampered model's score:
    the defender cannot know which supplied models are tampered, and a threshold fitted on
    them would measure the validator on its own training answers."""
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"the false-positive rate must be between 0 and 1, got {fpr}")
    sizes = {len(s) for s in clean_scores.values()}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError("calibrating needs clean validation scores: the same number (> 0) for every check")
    center, spread = {}, {}
    for check, s in clean_scores.items():
        s = np.asarray(s, np.float64)
        center[check], mad = median_and_spread(s)
        spread[check] = mad if mad > 0 else (float(np.std(s)) or 1.0)
    gate = CalibratedGate(center, spread, 0.0, fpr)
    return CalibratedGate(center, spread, threshold_at_fpr(gate.score(clean_scores), fpr), fpr)


def min_score_at_fpr(good_scores, fpr: float) -> float:
    """For a gate on a score where higher is better (robust accuracy): the value below
    which only a share `fpr` of the defender's own good models lie."""
    return -threshold_at_fpr(-np.asarray(good_scores, np.float64), fpr)


def answer_features(backend, net, queries: np.ndarray) -> np.ndarray:
    """A model's answers to the query inputs: its log-probabilities, clipped, plus each
    query's log-probabilities sorted (a view that does not depend on which class an
    attacker targets)."""
    lp = np.log(np.clip(T.predict_proba(backend, net, queries), 1e-6, 1.0))
    return np.concatenate([lp.ravel(), -np.sort(-lp, axis=1).ravel()])


class MetaClassifier:
    """Logistic regression on `answer_features` of shadow models (1 = tampered)."""

    def __init__(self, queries: np.ndarray):
        self.queries = queries
        self.clf = None

    def fit(self, backend, nets, tampered, seed: int) -> "MetaClassifier":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        feats = np.array([answer_features(backend, n, self.queries) for n in nets])
        self.clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, random_state=seed))
        self.clf.fit(feats, np.asarray(tampered, int))
        return self

    def score(self, backend, net) -> float:
        """The log-odds that `net` is tampered: monotone in the probability, so detection
        AUCs are the same, but without the probability's pile-up near 0 and 1 that makes
        a clean model's distance from the others meaningless when thresholds are calibrated."""
        if self.clf is None:
            raise ValueError("fit the meta-classifier on shadow models first")
        return float(self.clf.decision_function(answer_features(backend, net, self.queries)[None])[0])


def make_queries(x_clean: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Fixed query inputs: half clean inputs of the defender's, half uniform noise."""
    idx = rng.choice(len(x_clean), size=min(n - n // 2, len(x_clean)), replace=False)
    noise = rng.random((n // 2, x_clean.shape[1])).astype(x_clean.dtype)
    return np.concatenate([x_clean[idx], noise])
