"""Model-family fingerprinting (AML.T0014 Discover AI Model Family).

The attacker trains its own library of shadow models of each family it knows, sends a
fixed set of probe inputs to each, and fits a classifier from the answers (log
probabilities) to the family. It then sends the same probes to the victim and reads the
family off. The probes are half the attacker's own images and half noise, because
off-distribution inputs expose architectural habits (saturation, smoothness) that
in-distribution ones hide.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import models
from atlaskb.engine import train as T
from atlaskb.engine.backend import Backend
from atlaskb.engine.network import Network

_VARIANTS = {
    "mlp-relu": [{"hidden": (64,)}, {"hidden": (128,)}, {"hidden": (64, 64)}, {"hidden": (96,)}],
    "mlp-tanh": [{"hidden": (64,)}, {"hidden": (96,)}, {"hidden": (48, 48)}, {"hidden": (128,)}],
    "conv": [{"channels": 4}, {"channels": 8}, {"channels": 6}, {"channels": 12}],
}


def families(image) -> list[str]:
    return [f for f in models.FAMILIES if f != "conv" or (image[1] >= 4 and image[2] >= 4)]


def random_model(backend: Backend, family: str, x, y, n_classes, image, *, epochs: int,
                 rng: np.random.Generator, batch: int = 64, lr: float = 3e-3) -> Network:
    """One model of `family` with a randomly chosen width/depth, trained on a bootstrap
    sample of (x, y): the kind of variation the fingerprint must see through."""
    spec = {"family": family, **_VARIANTS[family][int(rng.integers(len(_VARIANTS[family])))]}
    idx = rng.integers(0, len(y), len(y))
    net = models.build(spec, x.shape[1], n_classes, image, rng)
    return T.train(backend, net, x[idx], y[idx],
                   epochs=epochs, batch_size=batch, lr=lr, rng=rng)


def make_probes(x_attacker: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    half = n // 2
    # A small attacker set reuses images rather than failing (the noise half still differs).
    real = x_attacker[rng.choice(len(x_attacker), size=half, replace=half > len(x_attacker))]
    noise = rng.random((n - half, x_attacker.shape[1]))
    return np.concatenate([real, noise]).astype(np.float32)


def features(clf, probes: np.ndarray) -> np.ndarray:
    """What the attacker records from one victim: log-probabilities on every probe."""
    return np.log(np.clip(clf.scores(probes), 1e-12, 1.0)).reshape(-1)


class Fingerprinter:
    """A logistic-regression classifier from probe answers to model family."""

    def __init__(self, probes: np.ndarray, family_names: list[str]):
        self.probes = probes
        self.families = family_names

    def fit(self, feats: np.ndarray, labels: np.ndarray) -> "Fingerprinter":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self.scaler = StandardScaler().fit(feats)
        self.model = LogisticRegression(max_iter=5000, C=1.0).fit(self.scaler.transform(feats), labels)
        return self

    def identify(self, clf) -> str:
        f = features(clf, self.probes)[None, :]
        return self.families[int(self.model.predict(self.scaler.transform(f))[0])]
