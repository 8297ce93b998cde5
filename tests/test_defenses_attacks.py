"""Attacks on a tiny problem: query attacks keep to their budget (and a smaller budget is
a prefix of a larger one), manual modifications change the input without a model, a
backdoored pretrained member carries its trigger, a trojaned training tool poisons
batches without touching the caller's data, blended, adaptive and source-specific poison
sets carry what they say, and an added trigger branch keeps clean answers."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.defenses import data
from atlaskb.defenses.attacks import backdoor, compromised, manual
from atlaskb.defenses.attacks.query import Boundary, SimBA
from atlaskb.defenses.systems import Model
from atlaskb.defenses.threat import TargetedMisclassification, ThreatModel
from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp


@pytest.fixture(scope="module")
def trained():
    """One small MLP on digits, plus the split it was trained on."""
    be = get_backend("numpy")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    net = mlp(64, (64,), 10, "relu", rng)
    net = T.train(be, net, ds.x[sp.train], ds.y[sp.train], epochs=10, lr=3e-3, rng=rng)
    clf = Model(be, net)
    return be, ds, sp, clf


def test_query_attacks_respect_the_budget_and_succeed_sometimes(trained):
    be, ds, sp, clf = trained
    x, y = ds.x[sp.test][:40], ds.y[sp.test][:40]
    ok = clf.predict(x) == y
    x, y = x[ok], y[ok]
    s = SimBA()(clf, x, y, ThreatModel("scores", "linf", 0.3, 100), np.random.default_rng(0))
    assert s.queries.max() <= 100 and s.success.mean() > 0.3
    assert np.abs(s.x_adv - x).max() <= 0.3 + 1e-6
    assert (clf.predict(s.x_adv[s.success]) != y[s.success]).all()
    b = Boundary(ds.x[sp.attacker])(clf, x, y, ThreatModel("labels", "l2", 2.5, 100), np.random.default_rng(0))
    assert b.queries.max() <= 100 and b.success.mean() > 0.3
    won = b.success
    assert (clf.predict(b.x_adv[won]) != y[won]).all()
    assert (np.linalg.norm(b.x_adv[won] - x[won], axis=1) <= 2.5 + 1e-6).all()


def test_simba_budget_binds_and_smaller_budgets_are_prefixes(trained):
    """The budget is the limit, not one pass over the features: with a small step the attack
    runs pass after pass until the budget is spent, stays inside the eps ball, and a run with
    a smaller budget is exactly the start of a run with a larger one (which is what lets
    results.json report success within 1/8, 1/4 and 1/2 of the budget from one run)."""
    be, ds, sp, clf = trained
    x, y = ds.x[sp.test][:30], ds.y[sp.test][:30]
    ok = clf.predict(x) == y
    x, y = x[ok], y[ok]
    d = x.shape[1]
    big = SimBA()(clf, x, y, ThreatModel("scores", "linf", 0.05, 400), np.random.default_rng(1))
    assert big.queries.max() > 2 * d + 1  # more than one pass was spent
    assert (big.queries[~big.success] == 400).all()  # every failure spent the whole budget
    assert np.abs(big.x_adv - x).max() <= 0.05 + 1e-6
    assert big.x_adv.min() >= 0 and big.x_adv.max() <= 1
    for b in (20, 150):
        small = SimBA()(clf, x, y, ThreatModel("scores", "linf", 0.05, b), np.random.default_rng(1))
        assert small.queries.max() <= b and (small.queries[~small.success] == b).all()
        np.testing.assert_array_equal(small.success, big.success & (big.queries <= b))
        np.testing.assert_array_equal(small.queries, np.minimum(big.queries, b))


def test_manual_modifications_need_no_model_and_change_the_input():
    x = data.digits().x[:20]
    for name, fn in manual.MODIFICATIONS.items():
        out = fn(x, (1, 8, 8), np.random.default_rng(0))
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1, name
        assert not np.allclose(out, x), name
    shifted = manual.shift(x[:1], (1, 8, 8), np.random.default_rng(0))
    assert np.isclose(shifted.sum(), x[:1].sum(), atol=x[:1].reshape(8, 8)[[0, -1]].sum() + 5)


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


def test_blended_and_adaptive_poison_carry_what_they_say():
    rng = np.random.default_rng(0)
    x = rng.random((40, 64)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    pattern = backdoor.blend_pattern(64, rng)
    xb = backdoor.blend(x, pattern, 0.2)
    assert np.allclose(xb, 0.8 * x + 0.2 * pattern, atol=1e-6)
    xp, yp, marked = backdoor.adaptive_blend_set(x, y, (1, 8, 8), pattern, 3, 10, 0.2, rng)
    assert len(xp) == 20 and marked.sum() == 10 and (yp[marked] == 3).all()
    masks = backdoor.piece_masks(5, (1, 8, 8), rng)
    assert masks.shape == (5, 64) and 0 < masks.mean() < 1
    xs, ys = backdoor.source_specific_set(x, y, (1, 8, 8), int(y[0]), 9 if y[0] != 9 else 8, 3, rng)
    assert (ys[:3] == (9 if y[0] != 9 else 8)).all() and len(xs) == len(ys)


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
