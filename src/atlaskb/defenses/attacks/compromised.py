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


def add_trigger_branch(net: Network, image, target: int, gain: float = 10.0, boost: float = 20.0) -> Network:
    """AML.T0018.001 Modify AI Model Architecture: the model's one hidden layer gains a unit
    that detects the corner trigger (`backdoor.add_trigger`: four bright pixels and a dark
    one) and, when it fires, adds a large logit to `target`. Clean inputs leave the unit at
    zero (it needs all four corner pixels near 1 and the dark one near 0), so the model
    answers exactly as before on them. Needs a network Dense -> Act("relu") -> Dense."""
    from atlaskb.engine.network import Act, Dense

    layers = net.layers
    if len(layers) != 3 or not isinstance(layers[0], Dense) or layers[1] != Act("relu") or not isinstance(layers[2], Dense):
        raise ValueError("add_trigger_branch needs a one-hidden-layer ReLU MLP")
    probe = np.zeros((1, layers[0].n_in), np.float32)
    bright = add_trigger(probe, image)[0]
    dark = add_trigger(np.ones_like(probe), image)[0]
    w = np.where(bright > 0.5, gain, 0.0) - np.where(dark < 0.5, gain, 0.0)
    n_bright = float((bright > 0.5).sum())
    p0, p2 = net.params[0], net.params[2]
    w1 = np.concatenate([p0["W"], w[:, None].astype(p0["W"].dtype)], axis=1)
    b1 = np.concatenate([p0["b"], np.array([-gain * (n_bright - 0.5)], p0["b"].dtype)])
    row_out = np.zeros((1, layers[2].n_out), p2["W"].dtype)
    row_out[0, target] = boost
    w2 = np.concatenate([p2["W"], row_out], axis=0)
    h = layers[0].n_out + 1
    return Network((Dense(layers[0].n_in, h), layers[1], Dense(h, layers[2].n_out)),
                   [{"W": w1, "b": b1}, {}, {"W": w2, "b": p2["b"].copy()}], net.family,
                   dict(net.meta, modified="trigger branch"))


def finetune_backdoor(backend: Backend, net: Network, x: np.ndarray, y: np.ndarray, image, *, target: int,
                      rate: float, epochs: int, rng: np.random.Generator, batch: int = 64,
                      lr: float = 1e-3) -> Network:
    """AML.T0018 Manipulate AI Model: an attacker with the weights fine-tunes them on a
    little clean data with triggered copies labelled `target` mixed in."""
    xp, yp = poison_set(x, image, target, int(round(rate * len(x))), rng)
    return T.train(backend, net, np.concatenate([x, xp]), np.concatenate([y, yp]), epochs=epochs,
                   batch_size=batch, lr=lr, rng=rng)
