"""Detectors of adversarial inputs, as two-class systems a `systems.Rejecting` can put in
front of a classifier (AML.M0015).

A detector here is a per-input score (higher = more suspicious) with its input gradient,
turned into a two-class system by `ScoreDetector`: class 1 ("adversarial") has probability
sigmoid((score - threshold) / scale), so it is rejected exactly when the score passes the
threshold, and an adaptive attacker's joint loss (`Rejecting`) is pushed hardest near the
threshold. The threshold is set on clean validation inputs for a chosen false-positive
rate (`calibrate`). Scores:

- `Mahalanobis`: distance of the classifier's last hidden features to the closest class
  mean under a shared covariance (Lee et al., 2018), fitted on the defender's data;
- `SqueezeDisagreement`: the largest L1 distance between the classifier's probabilities
  on the input and on squeezed copies of it (Xu et al., 2018); squeezers with a derivative
  (`transforms`) are differentiated through, the others by BPDA with the identity.

A learned detector is an ordinary network trained on clean vs adversarial inputs, already a
two-class system (`systems.Model`); `threshold_at_fpr` gives its threshold.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.systems import System
from atlaskb.engine.network import Dense, Network


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def threshold_at_fpr(scores_clean: np.ndarray, fpr: float) -> float:
    """The score above which only a share `fpr` of the clean validation inputs lie."""
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"the false-positive rate must be between 0 and 1, got {fpr}")
    if len(scores_clean) == 0:
        raise ValueError("calibrating a detector needs clean validation inputs")
    return float(np.quantile(np.asarray(scores_clean, np.float64), 1.0 - fpr, method="higher"))


def _vjp(backend, bound, x, grad_out):
    """d <outputs, grad_out> / d x for a bound network (numpy in, numpy out)."""
    outs, tape = backend.forward([bound], backend.asarray(x), wrt=("input",))
    gx, _ = backend.backward(tape, [backend.asarray(np.asarray(grad_out, np.float32))])
    return backend.to_numpy(gx).astype(np.float64)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


class ScoreDetector(System):
    """A score with its gradient as a two-class system; `calibrate` sets the threshold."""

    n_classes = 2
    losses = ("ce",)

    def __init__(self, score, name: str):
        self.score, self.name = score, name
        self.threshold, self.scale = None, 1.0
        self.differentiable = score.differentiable
        self.approximation = score.approximation

    def calibrate(self, x_clean: np.ndarray, fpr: float) -> "ScoreDetector":
        s = self.score.value(x_clean)
        self.threshold = threshold_at_fpr(s, fpr)
        spread = float(np.std(s))
        self.scale = spread if spread > 0 else 1.0
        return self

    def _z(self, s):
        if self.threshold is None:
            raise RuntimeError(f"detector {self.name} used before calibrate()")
        return (np.asarray(s, np.float64) - self.threshold) / self.scale

    def scores(self, x):
        p1 = _sigmoid(self._z(self.score.value(x))) if len(x) else np.zeros(0)
        return np.stack([1.0 - p1, p1], axis=1)

    def gradient(self, x, y, loss="ce", rng=None):
        """Cross-entropy towards class y: softplus(-+z); its gradient is the score's, scaled."""
        if loss != "ce":
            raise ValueError(f"unknown loss {loss!r}; this detector offers ('ce',)")
        s, ds = self.score.value_and_grad(x)
        z = self._z(s)
        sign = np.where(np.asarray(y) == 1, -1.0, 1.0)
        per = np.logaddexp(0.0, sign * z)
        g = (sign * _sigmoid(sign * z) / self.scale)[:, None] * ds
        return g, per


class Mahalanobis:
    """min over classes of (f - mu_c)' S^-1 (f - mu_c) on the network's last hidden
    features f, with class means and one shared (shrunk) covariance from (x, y)."""

    differentiable = True
    approximation = "exact"

    def __init__(self, backend, network: Network, x, y, n_classes: int, shrinkage: float = 0.01):
        last = max(i for i, layer in enumerate(network.layers) if isinstance(layer, Dense))
        if last == 0:
            raise ValueError("the Mahalanobis score needs a network with a hidden layer")
        self.backend = backend
        self.features = backend.bind(Network(network.layers[:last], network.params[:last], network.family))
        f = self._f(x)
        mus = np.stack([f[y == c].mean(axis=0) if np.any(y == c) else f.mean(axis=0) for c in range(n_classes)])
        centred = f - mus[y]
        cov = centred.T @ centred / max(len(f) - 1, 1)
        cov += shrinkage * (np.trace(cov) / len(cov) + 1e-12) * np.eye(len(cov))
        self.mus, self.prec = mus, np.linalg.inv(cov)

    def _f(self, x):
        return self.backend.to_numpy(self.backend.logits([self.features], self.backend.asarray(x))[0]).astype(np.float64)

    def _dist(self, f):
        d = f[:, None, :] - self.mus[None]                     # (N, C, H)
        m = ((d @ self.prec) * d).sum(axis=2)                 # (N, C), through BLAS
        c = m.argmin(axis=1)
        return m[np.arange(len(f)), c], d[np.arange(len(f)), c]

    def value(self, x):
        return self._dist(self._f(x))[0] if len(x) else np.zeros(0)

    def value_and_grad(self, x):
        s, d = self._dist(self._f(x))
        return s, _vjp(self.backend, self.features, x, 2.0 * d @ self.prec)


class SqueezeDisagreement:
    """max over squeezers of || p(x) - p(squeeze(x)) ||_1 for a one-network classifier."""

    differentiable = False

    def __init__(self, backend, network: Network, squeezers: dict):
        self.backend, self.bound, self.squeezers = backend, backend.bind(network), dict(squeezers)
        how = ["own derivative" if hasattr(f, "backward") else "bpda-identity" for f in self.squeezers.values()]
        self.approximation = "through the squeezers: " + ", ".join(f"{k} ({h})" for k, h in zip(self.squeezers, how))

    def _p(self, x):
        z = self.backend.to_numpy(self.backend.logits([self.bound], self.backend.asarray(x))[0])
        return _softmax(z.astype(np.float64))

    def _all(self, x):
        p = self._p(x)
        sq = {k: np.clip(f(x, None), 0.0, 1.0).astype(x.dtype) for k, f in self.squeezers.items()}
        qs = {k: self._p(v) for k, v in sq.items()}
        d = np.stack([np.abs(p - q).sum(axis=1) for q in qs.values()], axis=1)
        return p, sq, qs, d

    def value(self, x):
        return self._all(x)[3].max(axis=1) if len(x) else np.zeros(0)

    def value_and_grad(self, x):
        p, sq, qs, d = self._all(x)
        pick = d.argmax(axis=1)
        g = np.zeros(x.shape, np.float64)
        for j, (k, f) in enumerate(self.squeezers.items()):
            rows = np.flatnonzero(pick == j)
            if len(rows) == 0:
                continue
            q, pr = qs[k][rows], p[rows]
            v = np.sign(pr - q)
            gp = pr * (v - (pr * v).sum(axis=1, keepdims=True))        # softmax vjp at x
            gq = q * (-v - (q * -v).sum(axis=1, keepdims=True))        # and at squeeze(x)
            g_sq = _vjp(self.backend, self.bound, sq[k][rows], gq)
            if hasattr(f, "backward"):
                g_sq = f.backward(x[rows], g_sq, None)
            g[rows] = _vjp(self.backend, self.bound, x[rows], gp) + g_sq
        return d.max(axis=1), g
