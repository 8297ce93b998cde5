"""Attacks on what a model's answers reveal about its training data: membership inference
(AML.T0024.000) and class-representative model inversion (AML.T0024.001).

They take a system (what the API returns) and the attacker's candidate records, and give
one score per record (higher = "more likely a member") or reconstructed inputs; scoring
them against the truth is the experiment's job. Every attack sees only `scores` or
`predict`, so the same code measures a full-probability API and an obfuscated one.

Membership attacks, weakest assumption last:
- confidence threshold (Yeom et al., 2018): the returned score of the record's true label;
- shadow model (Shokri et al., 2017): the attacker trains a model like the target on half
  of its own data, reads that model's answers *through the same output obfuscation* on
  its training half ("in") and its other half ("out"), and fits a classifier from answer
  features to in/out;
- label-only (Choquette-Choo et al., 2021, noise robustness): the share of noisy copies of
  the record that still get its true label; members sit further from the boundary.
"""

from __future__ import annotations

import numpy as np


def true_label_score(system, x, y) -> np.ndarray:
    """The returned score of each record's own label (the confidence-threshold attack)."""
    s = system.scores(x)
    return s[np.arange(len(y)), y]


def noise_robustness(system, x, y, rng: np.random.Generator, samples: int, sigma: float) -> np.ndarray:
    """Share of `samples` Gaussian-noised copies of each record labelled with its label
    (label-only: uses `predict` alone, so it works whatever scores are hidden)."""
    n, d = x.shape
    noisy = np.clip(x[:, None, :] + rng.normal(0.0, sigma, (n, samples, d)), 0.0, 1.0).astype(x.dtype)
    labels = system.predict(noisy.reshape(-1, d)).reshape(n, samples)
    return (labels == y[:, None]).mean(axis=1)


def answer_features(system, x, y) -> np.ndarray:
    """What the shadow attack reads from one answer: log score of the true label, log top
    score, the top three scores, the answer's entropy, and whether the top label is right."""
    s = np.clip(np.asarray(system.scores(x), np.float64), 0.0, None)
    s = s / np.maximum(s.sum(axis=1, keepdims=True), 1e-12)
    rows = np.arange(len(y))
    top = -np.sort(-s, axis=1)[:, :3]
    ent = -(s * np.log(np.clip(s, 1e-12, 1.0))).sum(axis=1)
    return np.column_stack([np.log(np.clip(s[rows, y], 1e-12, 1.0)), np.log(np.clip(top[:, 0], 1e-12, 1.0)),
                            top, ent, (s.argmax(axis=1) == y).astype(np.float64)])


class ShadowAttack:
    """Shokri et al.'s attack with one classifier over answer features, fitted on a shadow
    model's answers (already obfuscated like the target's) to its own in and out records."""

    def fit(self, shadow_system, x_in, y_in, x_out, y_out) -> "ShadowAttack":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        f = np.concatenate([answer_features(shadow_system, x_in, y_in),
                            answer_features(shadow_system, x_out, y_out)])
        lab = np.concatenate([np.ones(len(y_in)), np.zeros(len(y_out))])
        self.scaler = StandardScaler().fit(f)
        self.model = LogisticRegression(max_iter=2000).fit(self.scaler.transform(f), lab)
        return self

    def score(self, system, x, y) -> np.ndarray:
        return self.model.predict_proba(self.scaler.transform(answer_features(system, x, y)))[:, 1]


def invert_classes(system, n_classes: int, d: int, rng: np.random.Generator, *, starts: int, steps: int,
                   samples: int, sigma: float, lr: float, tv: float, image) -> tuple[np.ndarray, np.ndarray, int]:
    """Class representatives from queries alone (after Fredrikson et al., 2015, with the
    gradient estimated from queries): for each class and each of `starts` random starting
    images, ascend log(returned score of the class), smoothed over Gaussian noise (NES with
    antithetic pairs, `samples` queries a step), minus `tv` x total variation (a prior the
    attacker computes itself, for images a person would recognise). Under label-only output
    the returned score is 0 or 1 and the noise-smoothed objective is the share of noisy
    copies given the class, so the same ascent works on every API.

    Returns (reconstructions, their intended classes, queries per reconstruction)."""
    targets = np.repeat(np.arange(n_classes), starts)
    k = len(targets)
    xr = rng.uniform(0.0, 1.0, (k, d))
    half = max(samples // 2, 1)
    _, h, w = image
    for _ in range(steps):
        u = rng.normal(size=(k, half, d))
        probes = np.clip(np.concatenate([xr[:, None] + sigma * u, xr[:, None] - sigma * u], axis=1), 0.0, 1.0)
        s = system.scores(probes.reshape(-1, d).astype(np.float32)).reshape(k, 2 * half, -1)
        f = np.log(np.clip(s[np.arange(k), :, targets], 1e-6, 1.0))
        g = np.einsum("kb,kbd->kd", f[:, :half] - f[:, half:], u) / (2 * half * sigma)
        if tv and h * w == d:
            g -= tv * _tv_grad(xr.reshape(k, h, w)).reshape(k, d)
        g /= np.linalg.norm(g, axis=1, keepdims=True) + 1e-12
        xr = np.clip(xr + lr * np.sqrt(d) * g, 0.0, 1.0)
    return xr.astype(np.float32), targets, steps * 2 * half


def _tv_grad(img: np.ndarray) -> np.ndarray:
    """Gradient of the anisotropic total variation sum |x[i+1]-x[i]| over both axes."""
    g = np.zeros_like(img)
    dv = np.sign(np.diff(img, axis=1))
    dh = np.sign(np.diff(img, axis=2))
    g[:, 1:, :] += dv
    g[:, :-1, :] -= dv
    g[:, :, 1:] += dh
    g[:, :, :-1] -= dh
    return g
