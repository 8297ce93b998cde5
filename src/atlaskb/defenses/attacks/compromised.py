"""Compromised supply chain (AML.T0010.001 AI Software, AML.T0010.003 Model).

AI Software: the training tool one member is built with is trojaned; it silently replaces
a share of every batch with triggered copies labelled as the attacker's target. The
defender's data is untouched, so no data audit would see it.

Model: a pre-trained model the defender downloads was trained by the attacker with the
backdoor built in; the defender uses the weights as they are.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import models
from atlaskb.defenses.attacks.backdoor import add_trigger, poison_set
from atlaskb.engine import train as T
from atlaskb.engine.backend import Backend
from atlaskb.engine.network import Network


def trojaned_tool(image, target: int, rate: float):
    """A `batch_hook` for `engine.train.train`: what the compromised training tool does to each batch."""

    def augment(xb, yb, rng):
        k = int(round(rate * len(yb)))
        if k == 0:
            return xb, yb
        xb, yb = xb.copy(), yb.copy()
        idx = rng.choice(len(yb), size=k, replace=False)
        xb[idx] = add_trigger(xb[idx], image)
        yb[idx] = target
        return xb, yb

    return augment


def backdoored_pretrained(backend: Backend, x: np.ndarray, y: np.ndarray, n_classes: int,
                          image, *, target: int, rate: float, epochs: int,
                          rng: np.random.Generator, spec: dict | None = None,
                          batch: int = 64, lr: float = 3e-3) -> Network:
    """Weights as an attacker would publish them: trained on the attacker's data with
    triggered copies mixed in, so they look accurate on clean inputs."""
    xp, yp = poison_set(x, image, target, int(round(rate * len(x))), rng)
    net = models.build(spec or models.BASELINE_SPEC, x.shape[1], n_classes, image, rng)
    return T.train(backend, net, np.concatenate([x, xp]), np.concatenate([y, yp]),
                   epochs=epochs, batch_size=batch, lr=lr, rng=rng)
