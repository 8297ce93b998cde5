"""The AML.M0006 defense: a diverse ensemble, and the single model it is compared with.

Members differ in architecture, width, seed and training subset (a bootstrap sample each),
which is what gives an ensemble a chance against attacks that exploit one model's quirks;
with `Config.diversity > 0` they are instead trained jointly with a term that rewards
disagreement (negative correlation learning), the issue's "optionally trained for diversity".
The baseline is one network trained for the ensemble's whole budget (members x epochs
passes over the data), so any gain is the ensemble's, not more training.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses import models
from atlaskb.engine import train as T
from atlaskb.engine.backend import Backend
from atlaskb.engine.network import Network

def train_members(backend: Backend, x: np.ndarray, y: np.ndarray, n_classes: int,
                  image: tuple[int, int, int], cfg, rng: np.random.Generator,
                  extra: dict | None = None, augment: dict | None = None,
                  specs: list[dict] | None = None, regulariser=None) -> list[Network]:
    """Train the members: each on its own bootstrap sample of (x, y) by default, or, with
    `cfg.diversity > 0`, jointly (see `_train_jointly`).

    `extra[i] = (x_add, y_add)` appends data to member i's partition only (how poison
    that reaches part of the pipeline is modelled); `augment[i]` is a batch hook for
    member i (how a compromised training tool is modelled).
    """
    specs = specs or models.member_specs(image)
    # One stream per member, drawn first: member i's initial weights (and, when trained on
    # its own, its bootstrap sample and batch order) come from stream i.
    streams = [np.random.default_rng(rng.integers(2**63)) for _ in specs]
    if getattr(cfg, "diversity", 0) > 0 or regulariser is not None:
        return _train_jointly(backend, x, y, n_classes, image, cfg, rng, streams, extra, augment, specs,
                              regulariser)
    nets = []
    for i, (spec, r) in enumerate(zip(specs, streams)):
        idx = r.integers(0, len(y), len(y)) if cfg.bootstrap else np.arange(len(y))
        xi, yi = x[idx], y[idx]
        if extra and i in extra:
            xa, ya = extra[i]
            xi, yi = np.concatenate([xi, xa]), np.concatenate([yi, ya])
        net = models.build(spec, x.shape[1], n_classes, image, r)
        nets.append(T.train(backend, net, xi, yi, epochs=cfg.epochs, batch_size=cfg.batch,
                            lr=cfg.lr, rng=r, batch_hook=(augment or {}).get(i)))
    return nets


def _same_for_all(per_member: dict | None, n: int, what: str):
    """The one value every jointly trained member shares, or None when there is none."""
    if not per_member:
        return None

    def same(a, b):
        if isinstance(a, tuple) and isinstance(b, tuple):
            return len(a) == len(b) and all(p is q for p, q in zip(a, b))
        return a is b

    vals = [per_member.get(i) for i in range(n)]
    if not all(same(v, vals[0]) for v in vals):
        raise ValueError(f"jointly trained members share their minibatches, so {what} must "
                         "reach all of them or none; train the affected members as their own group")
    return vals[0]


def _train_jointly(backend, x, y, n_classes, image, cfg, rng, streams, extra, augment, specs, regulariser=None):
    """Negative-correlation training (engine.train with `diversity`): all members see the
    same minibatches of the whole of (x, y) and are rewarded for disagreeing with the mean
    prediction, so diversity comes from the loss instead of from bootstrap samples (the
    engine cannot combine the two). Each member keeps its own initial weights from its own
    stream; the shared batch order comes from `rng`. Same epochs per member as the
    independent path, so the training budget is unchanged."""
    add = _same_for_all(extra, len(specs), "added training data")
    hook = _same_for_all(augment, len(specs), "a batch hook")
    if add is not None:
        x, y = np.concatenate([x, add[0]]), np.concatenate([y, add[1]])
    nets = [models.build(spec, x.shape[1], n_classes, image, r) for spec, r in zip(specs, streams)]
    return T.train(backend, nets, x, y, epochs=cfg.epochs, batch_size=cfg.batch, lr=cfg.lr,
                   diversity=getattr(cfg, "diversity", 0.0), regulariser=regulariser,
                   rng=np.random.default_rng(rng.integers(2**63)), batch_hook=hook)


def train_baseline(backend: Backend, x: np.ndarray, y: np.ndarray, n_classes: int,
                   image: tuple[int, int, int], cfg, rng: np.random.Generator,
                   n_members: int, augment=None) -> Network:
    """One network trained on all of (x, y) for `n_members * epochs` epochs: the same
    number of example-gradients as the whole ensemble."""
    r = np.random.default_rng(rng.integers(2**63))
    net = models.build(models.BASELINE_SPEC, x.shape[1], n_classes, image, r)
    return T.train(backend, net, x, y, epochs=cfg.epochs * n_members, batch_size=cfg.batch,
                   lr=cfg.lr, rng=r, batch_hook=augment)
