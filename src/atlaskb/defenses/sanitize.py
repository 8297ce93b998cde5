"""Training-data filters run before training (AML.M0007 Sanitize Training Data).

Each filter looks at the data as received and returns a boolean mask of the samples it
removes; the defender then trains on the rest. Implemented from the papers' descriptions:

- spectral signatures (Tran, Li and Madry, 2018): within each label, centre the hidden
  features of a model trained on the received data, project them on their top singular
  vector and remove the `1.5 * eps` share with the largest squared projection, `eps` being
  the defender's bound on the poisoned share of a label;
- activation clustering (Chen et al., 2018): within each label, reduce the hidden features
  to a few dimensions, split them into two clusters and remove the smaller cluster when it
  is small (relative size at most `max_size`) and well separated (silhouette at least
  `min_silhouette`);
- a confident-learning label-noise filter (Northcutt, Jiang and Chuang, 2021): out-of-sample
  probabilities by K-fold cross-validation, a per-class threshold (the mean probability
  of class j over the samples labelled j), and removal of every sample confidently counted
  in an off-diagonal cell of the confident joint (its most probable class above threshold
  is not its label).
"""

from __future__ import annotations

import numpy as np

from atlaskb.engine import train as T
from atlaskb.engine.network import Network

FILTERS = ("activation_clustering", "spectral_signatures", "confident_learning")
WORDS = {"activation_clustering": "activation clustering (2-means per label on hidden features)",
         "spectral_signatures": "spectral signatures (top singular vector per label)",
         "confident_learning": "confident-learning label-noise filter (cross-validated)"}


def hidden_features(backend, net: Network, x: np.ndarray) -> np.ndarray:
    """The activations of `net`'s last hidden layer (the input of its final Dense)."""
    body = Network(net.layers[:-1], net.params[:-1], net.family, {})
    return T.logits(backend, body, x)[0].astype(np.float64)


def spectral_signatures(feats: np.ndarray, y: np.ndarray, eps: float, multiplier: float = 1.5) -> np.ndarray:
    removed = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = int(np.ceil(multiplier * eps * len(idx)))
        if len(idx) < 3 or k == 0:
            continue
        r = feats[idx] - feats[idx].mean(axis=0)
        v = np.linalg.svd(r, full_matrices=False)[2][0]
        score = (r @ v) ** 2
        removed[idx[np.argsort(-score, kind="stable")[:k]]] = True
    return removed


def activation_clustering(feats: np.ndarray, y: np.ndarray, seed: int, dims: int = 10,
                          max_size: float = 0.35, min_silhouette: float = 0.15) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    removed = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < 10:
            continue
        f = feats[idx]
        d = min(dims, f.shape[1], len(idx) - 1)
        z = PCA(n_components=d, random_state=seed).fit_transform(f) if f.std(axis=0).sum() > 0 else f[:, :d]
        lab = KMeans(n_clusters=2, n_init=4, random_state=seed).fit_predict(z)
        sizes = np.bincount(lab, minlength=2)
        if sizes.min() == 0:
            continue
        small = int(np.argmin(sizes))
        if sizes[small] / len(idx) <= max_size and silhouette_score(z, lab) >= min_silhouette:
            removed[idx[lab == small]] = True
    return removed


def cross_val_probs(fit_predict, x: np.ndarray, y: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Out-of-sample class probabilities: `fit_predict(x_fit, y_fit, x_out) -> probs` on
    each of `folds` folds (each sample is predicted by a model that never saw it)."""
    order = rng.permutation(len(y))
    probs = None
    for k in range(folds):
        out = order[k::folds]
        fit = np.setdiff1d(order, out)
        p = fit_predict(x[fit], y[fit], x[out])
        if probs is None:
            probs = np.zeros((len(y), p.shape[1]))
        probs[out] = p
    return probs


def confident_learning(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, k = probs.shape
    thresholds = np.array([probs[y == j, j].mean() if np.any(y == j) else 1.0 for j in range(k)])
    above = probs >= thresholds[None, :]
    masked = np.where(above, probs, -1.0)
    best = masked.argmax(axis=1)
    confident = above.any(axis=1)
    return confident & (best != y)
