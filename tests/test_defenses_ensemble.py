"""Training an ensemble's members: diversity training is joint and deterministic, and
poison reaches only the partitions of the members it was given to."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from atlaskb.defenses import data, ensemble, models
from atlaskb.defenses.attacks import backdoor, compromised
from atlaskb.defenses.mitigations import m0006
from atlaskb.engine import get_backend
from atlaskb.engine import train as T


def test_diversity_training_is_joint_and_deterministic():
    be = get_backend("numpy")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    x, y = ds.x[sp.train][:300], ds.y[sp.train][:300]
    cfg = replace(m0006.QUICK, epochs=2)  # the ensemble reads epochs, batch, lr, bootstrap
    specs = models.member_specs(ds.image_shape)[:3]

    def members(c):
        return ensemble.train_members(be, x, y, 10, ds.image_shape, c, np.random.default_rng(5),
                                      specs=specs)

    div = replace(cfg, diversity=0.5)
    indep, div_a, div_b = members(cfg), members(div), members(div)
    for a, b, c in zip(div_a, div_b, indep):
        np.testing.assert_array_equal(a.params[0]["W"], b.params[0]["W"])
        assert not np.array_equal(a.params[0]["W"], c.params[0]["W"])
    with pytest.raises(ValueError, match="reach all of them or none"):
        ensemble.train_members(be, x, y, 10, ds.image_shape, replace(cfg, diversity=0.5),
                               np.random.default_rng(5), specs=specs,
                               augment={0: compromised.trojaned_tool(ds.image_shape, 0, 0.2)})


def test_poison_reaches_only_the_chosen_members_partitions():
    """`extra` appends the poison to member 0's training data only: every other member is
    bit-identical to one trained without poison, and member 0 differs."""
    be = get_backend("numpy")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    x, y = ds.x[sp.train][:300], ds.y[sp.train][:300]
    cfg = replace(m0006.QUICK, epochs=1)
    xp, yp = backdoor.poison_set(ds.x[sp.attacker], ds.image_shape, 0, 20, np.random.default_rng(1))
    clean = ensemble.train_members(be, x, y, 10, ds.image_shape, cfg, np.random.default_rng(2))
    dirty = ensemble.train_members(be, x, y, 10, ds.image_shape, cfg, np.random.default_rng(2),
                                   extra={0: (xp, yp)})
    probe = ds.x[sp.test][:50]
    assert not np.array_equal(T.logits(be, [clean[0]], probe), T.logits(be, [dirty[0]], probe))
    for a, b in zip(clean[1:], dirty[1:]):
        assert np.array_equal(T.logits(be, [a], probe), T.logits(be, [b], probe))
