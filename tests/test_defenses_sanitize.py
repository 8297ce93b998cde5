"""Training-data filters find what they should on planted data and leave clean data
alone: spectral signatures within their removal budget, activation clustering, the
confident-learning label filter and its cross-validated probabilities."""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import sanitize


def _blobs(rng, n=90, n_bad=10, shift=6.0, d=8):
    feats = rng.normal(size=(n + n_bad, d))
    feats[n:, 0] += shift
    return feats, np.zeros(n + n_bad, np.int64), np.arange(n + n_bad) >= n


def test_spectral_signatures_remove_planted_outliers_within_their_budget():
    feats, y, bad = _blobs(np.random.default_rng(0))
    rem = sanitize.spectral_signatures(feats, y, eps=0.1)
    assert rem.sum() == int(np.ceil(1.5 * 0.1 * len(y)))
    assert rem[bad].all()


def test_activation_clustering_flags_a_small_separate_cluster_and_not_one_blob():
    feats, y, bad = _blobs(np.random.default_rng(1))
    rem = sanitize.activation_clustering(feats, y, seed=0)
    assert rem[bad].all() and not rem[~bad].any()
    clean = np.random.default_rng(2).normal(size=(100, 8))
    assert not sanitize.activation_clustering(clean, np.zeros(100, np.int64), seed=0).any()


def test_confident_learning_flags_labels_the_model_confidently_disagrees_with():
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[.9, .05, .05], [.05, .9, .05], [.05, .9, .05], [.1, .8, .1], [.1, .1, .8], [.3, .3, .4]])
    assert sanitize.confident_learning(probs, y).tolist() == [False, True, False, False, False, False]


def test_cross_validated_probabilities_never_come_from_a_model_that_saw_the_sample():
    x = np.arange(30, dtype=float)[:, None]
    y = np.zeros(30, np.int64)

    def fit_predict(xf, yf, xo):
        assert not set(xf[:, 0]) & set(xo[:, 0])
        return np.tile([1.0, 0.0], (len(xo), 1))

    probs = sanitize.cross_val_probs(fit_predict, x, y, 3, np.random.default_rng(0))
    assert probs.shape == (30, 2) and (probs[:, 0] == 1).all()
