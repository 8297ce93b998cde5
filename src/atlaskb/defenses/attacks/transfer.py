"""Black-box transfer (AML.T0043.002): the attacker trains a surrogate on data it owns
(disjoint from the defender's), attacks the surrogate with PGD, and sends the result to
the target. Nothing about the target is used: not its weights, not its answers.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import models
from atlaskb.defenses.attacks.pgd import pgd
from atlaskb.engine import train as T
from atlaskb.engine.backend import Backend
from atlaskb.engine.network import Network


def train_surrogate(backend: Backend, x: np.ndarray, y: np.ndarray, n_classes: int,
                    image, *, epochs: int, rng: np.random.Generator, batch: int = 64,
                    lr: float = 3e-3) -> Network:
    """The attacker's own model: an architecture it picks, trained on its own data."""
    net = models.build(models.SURROGATE_SPEC, x.shape[1], n_classes, image, rng)
    return T.train(backend, net, x, y,
                   epochs=epochs, batch_size=batch, lr=lr, rng=rng)


def transfer_examples(backend: Backend, surrogate: Network, x: np.ndarray, y: np.ndarray, *,
                      eps_list, steps: int, rng: np.random.Generator) -> dict[float, np.ndarray]:
    """PGD examples crafted on the surrogate, one set per epsilon."""
    bound = [backend.bind(surrogate)]
    return {float(e): pgd(backend, bound, x, y, eps=float(e), steps=steps, rng=rng) for e in eps_list}
