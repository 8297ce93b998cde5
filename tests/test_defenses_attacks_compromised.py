"""Compromised supply chain: a backdoored pretrained member carries its trigger, a trojaned
training tool poisons batches without touching the caller's data, and an added trigger
branch keeps clean answers."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.defenses import data
from atlaskb.defenses.attacks import backdoor, compromised
from atlaskb.defenses.systems import Model
from atlaskb.defenses.threat import TargetedMisclassification
from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp


def test_backdoored_member_has_high_trigger_success_alone():
    be = get_backend("numpy")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    net = compromised.backdoored_pretrained(be, ds.x[sp.attacker], ds.y[sp.attacker], 10, ds.image_shape,
                                            target=0, rate=0.2, epochs=15, rng=np.random.default_rng(0))
    clf = Model(be, net)
    keep = ds.y[sp.test] != 0
    hits = TargetedMisclassification(0)(clf.predict(backdoor.add_trigger(ds.x[sp.test][keep], ds.image_shape)), None)
    assert hits.mean() >= 0.8
    assert clf.accuracy(ds.x[sp.test], ds.y[sp.test]) > 0.8


def test_trojaned_tool_poisons_batches_without_touching_the_callers_data():
    x = np.zeros((10, 64), np.float32)
    y = np.arange(10)
    hook = compromised.trojaned_tool((1, 8, 8), target=0, rate=0.5)
    xb, yb = hook(x, y, np.random.default_rng(0))
    assert (yb == 0).sum() >= 5 and (xb.reshape(10, 8, 8)[:, -1, -1] == 1).sum() == 5
    assert x.sum() == 0 and (y == np.arange(10)).all()


@pytest.fixture(scope="module")
def clean_net():
    be = get_backend("numpy")
    ds = data.digits()
    r = np.random.default_rng(0)
    return be, ds, T.train(be, mlp(64, (32,), 10, "relu", r), ds.x[:900], ds.y[:900], epochs=10,
                           lr=3e-3, rng=r)


def test_trigger_branch_keeps_clean_answers_and_fires_on_the_trigger(clean_net):
    be, ds, net = clean_net
    bad = compromised.add_trigger_branch(net, ds.image_shape, target=4)
    x = ds.x[900:1200]
    assert bad.layers[0].n_out == net.layers[0].n_out + 1
    assert np.array_equal(T.predict(be, bad, x), T.predict(be, net, x))
    assert (T.predict(be, bad, backdoor.add_trigger(x, ds.image_shape)) == 4).all()
    with pytest.raises(ValueError, match="one-hidden-layer"):
        compromised.add_trigger_branch(mlp(64, (8, 8), 10, "relu", np.random.default_rng(0)),
                                       ds.image_shape, 0)
