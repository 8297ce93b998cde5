"""The AML.M0006 defense: a diverse ensemble, and the single model it is compared with.

Members differ in architecture, width, seed and training subset (a bootstrap sample each),
which is what gives an ensemble a chance against attacks that exploit one model's quirks.
The baseline is one network trained for the ensemble's whole budget (members x epochs
passes over the data), so any gain is the ensemble's, not more training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atlaskb.defenses import models, nn
from atlaskb.defenses.config import Config
from atlaskb.engine.backend import Backend
from atlaskb.engine.network import Network


@dataclass
class Classifier:
    """A deployed system: one or more networks bound to a backend, answering by a vote.

    Attacks see only what their threat model allows: black-box ones call `probs` or
    `predict`, white-box ones also use `bounds` for gradients.
    """

    backend: Backend
    networks: list[Network]
    vote: str = "soft"

    def __post_init__(self):
        self.bounds = [self.backend.bind(n) for n in self.networks]

    def probs(self, x: np.ndarray) -> np.ndarray:
        return nn.predict_np(self.backend, self.bounds, x, self.vote)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.probs(x), axis=1)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == y)) if len(y) else float("nan")

    def with_vote(self, vote: str) -> "Classifier":
        return Classifier(self.backend, self.networks, vote)


def train_members(backend: Backend, x: np.ndarray, y: np.ndarray, n_classes: int,
                  image: tuple[int, int, int], cfg: Config, rng: np.random.Generator,
                  extra: dict | None = None, augment: dict | None = None,
                  specs: list[dict] | None = None) -> list[Network]:
    """Train each member on its own bootstrap sample of (x, y).

    `extra[i] = (x_add, y_add)` appends data to member i's partition only (how poison
    that reaches part of the pipeline is modelled); `augment[i]` is a batch hook for
    member i (how a compromised training tool is modelled).
    """
    specs = specs or models.member_specs(image)
    nets = []
    for i, spec in enumerate(specs):
        r = np.random.default_rng(rng.integers(2**63))
        idx = r.integers(0, len(y), len(y)) if cfg.bootstrap else np.arange(len(y))
        xi, yi = x[idx], y[idx]
        if extra and i in extra:
            xa, ya = extra[i]
            xi, yi = np.concatenate([xi, xa]), np.concatenate([yi, ya])
        net = models.build(spec, x.shape[1], n_classes, image, r)
        nets.append(nn.train(backend, net, xi, yi, epochs=cfg.epochs, rng=r, batch=cfg.batch,
                             lr=cfg.lr, augment=(augment or {}).get(i)))
    return nets


def train_baseline(backend: Backend, x: np.ndarray, y: np.ndarray, n_classes: int,
                   image: tuple[int, int, int], cfg: Config, rng: np.random.Generator,
                   n_members: int, augment=None) -> Network:
    """One network trained on all of (x, y) for `n_members * epochs` epochs: the same
    number of example-gradients as the whole ensemble."""
    r = np.random.default_rng(rng.integers(2**63))
    net = models.build(models.BASELINE_SPEC, x.shape[1], n_classes, image, r)
    return nn.train(backend, net, x, y, epochs=cfg.epochs * n_members, rng=r, batch=cfg.batch,
                    lr=cfg.lr, augment=augment)
