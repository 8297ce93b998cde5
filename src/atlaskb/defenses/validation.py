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
"""

from __future__ import annotations

import numpy as np

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


def anomaly_index(norms: np.ndarray) -> float:
    """How far the smallest norm lies below the median, in scaled median absolute deviations."""
    med = float(np.median(norms))
    mad = 1.4826 * float(np.median(np.abs(norms - med)))
    return (med - float(norms.min())) / max(mad, 1e-9)


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
        if self.clf is None:
            raise ValueError("fit the meta-classifier on shadow models first")
        return float(self.clf.predict_proba(answer_features(backend, net, self.queries)[None])[0, 1])


def make_queries(x_clean: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Fixed query inputs: half clean inputs of the defender's, half uniform noise."""
    idx = rng.choice(len(x_clean), size=min(n - n // 2, len(x_clean)), replace=False)
    noise = rng.random((n // 2, x_clean.shape[1])).astype(x_clean.dtype)
    return np.concatenate([x_clean[idx], noise])
