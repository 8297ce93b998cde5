"""Query attacks on a tiny problem keep to their budget, stay inside the eps ball, succeed
sometimes, a smaller budget is a prefix of a larger one, and HopSkipJump refuses l2."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.defenses import data
from atlaskb.defenses.attacks.query import Boundary, HopSkipJump, SimBA
from atlaskb.defenses.systems import Model
from atlaskb.defenses.threat import ThreatModel
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


def test_hopskipjump_refuses_l2():
    with pytest.raises(ValueError, match="linf"):
        HopSkipJump(np.zeros((2, 4), np.float32))(Model(get_backend("numpy"), mlp(4, (3,), 2, "relu",
                                                  np.random.default_rng(0))), np.zeros((1, 4), np.float32),
                                                  np.zeros(1, int), ThreatModel("labels", "l2", 1.0, 10),
                                                  np.random.default_rng(0))
