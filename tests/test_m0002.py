"""The AML.M0002 reference defense (output obfuscation): the four ways of serving, the
attacks that adapt to them, and a tiny end-to-end run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from atlaskb.defenses import data, results, runner
from atlaskb.defenses.attacks import extraction as ex
from atlaskb.defenses.attacks import privacy as pv
from atlaskb.defenses.attacks.query import HopSkipJump, SimBA
from atlaskb.defenses.mitigations import m0002
from atlaskb.defenses.systems import Model
from atlaskb.defenses.threat import ThreatModel
from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp

TINY = replace(m0002.QUICK, epochs=20, target_train=120, n_test=60, query_budget=60, attacked_points=12,
               mi_points=40, mi_noise_samples=6, inversion_starts=1, inversion_steps=4, inversion_samples=6,
               copy_budget=60, copy_rounds=2, copy_epochs=5, pgd_steps=3, shadow_per_family=2,
               targets_per_family=1, probes=6, fingerprint_epochs=2, ontology_orders=5)


@pytest.fixture(scope="module")
def tiny_doc():
    return runner.run(runner.Request("AML.M0002", backend="numpy", seeds=2, config=TINY),
                      progress=False, names={})


@pytest.fixture(scope="module")
def served():
    """A small trained MLP on digits served the four ways, and data to query it with."""
    be = get_backend("numpy")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    r = np.random.default_rng(3)
    net = T.train(be, mlp(64, (64,), 10, "relu", r), ds.x[sp.train], ds.y[sp.train], epochs=15,
                  lr=3e-3, rng=r)
    model = Model(be, net)
    arms = {a: m0002.serve(m0002.QUICK, model, a) for a in ("baseline",) + m0002.ARMS}
    return be, ds, sp, arms


def test_run_writes_valid_results_with_the_new_metrics(tiny_doc):
    results.validate(tiny_doc)
    metrics = {r["metric"] for r in tiny_doc["results"]}
    assert {"auc", "true_positive_rate", "fidelity"} <= metrics
    assert set(tiny_doc["provenance"]["techniques"]) == set(m0002.EXPERIMENTS)
    assert {n["technique"] for n in tiny_doc["not_measured"]} == {"AML.T0042", "AML.T0063"}
    for t in m0002.EXPERIMENTS:  # one headline (the label-only API) per measured link
        heads = [r for r in tiny_doc["results"] if r["technique"] == t and r.get("headline")]
        assert len(heads) == 1 and "[label_only]" in heads[0]["attack"]
    for r in tiny_doc["results"]:
        if r["metric"] in ("auc", "true_positive_rate", "fidelity"):
            assert r["higher_is_better"] is False
            lo, hi = r["ci95"]["baseline"]
            assert hi > lo


def test_links_match_the_bundled_vault(bundled_kb):
    from atlaskb import queries

    linked = {t["id"] for t in queries.techniques_for(bundled_kb, "AML.M0002")}
    assert set(m0002.EXPERIMENTS) | set(m0002.NOT_MEASURED) == linked
    assert not set(m0002.EXPERIMENTS) & set(m0002.NOT_MEASURED)


def test_same_seeds_give_identical_results(tiny_doc):
    again = runner.run(runner.Request("AML.M0002", backend="numpy", seeds=2, config=TINY),
                       progress=False, names={})
    strip = lambda d: [{k: v for k, v in r.items()} for r in d["results"]]  # noqa: E731
    assert strip(again) == strip(tiny_doc)


def test_every_way_of_serving_keeps_the_top_label(served):
    _, ds, sp, arms = served
    x = ds.x[sp.test]
    top = arms["baseline"].predict(x)
    for arm in ("label_only", "reverse_sigmoid"):
        np.testing.assert_array_equal(arms[arm].predict(x), top)
    assert (arms["rounded"].predict(x) == top).mean() > 0.99  # rounding can tie two classes
    lab = arms["label_only"].scores(x)
    assert set(np.unique(lab)) == {0.0, 1.0} and (lab.sum(axis=1) == 1).all()
    rs, p = arms["reverse_sigmoid"].scores(x), arms["baseline"].scores(x)
    np.testing.assert_allclose(rs.sum(axis=1), 1.0, atol=1e-9)
    assert np.abs(rs - p).max() > 0.2  # it does perturb
    assert np.allclose(arms["rounded"].scores(x), np.round(p, m0002.QUICK.round_decimals))


def test_reverse_sigmoid_swaps_the_top_label_back():
    post = m0002.reverse_sigmoid(0.9, 0.9)
    s = np.array([[0.55, 0.45, 0.0], [0.98, 0.01, 0.01], [0.2, 0.3, 0.5]])
    np.testing.assert_array_equal(post(s).argmax(axis=1), s.argmax(axis=1))


def test_label_only_attacks_see_the_same_whatever_the_scores(served):
    """HopSkipJump and the noise-robustness membership attack use labels only, so hiding the
    scores changes nothing for them (same random stream, same answers); SimBA, which reads
    the scores, is stopped by the label-only API."""
    _, ds, sp, arms = served
    x, y = ds.x[sp.test][:20], ds.y[sp.test][:20]
    tm = ThreatModel("scores", "linf", 0.2, 200)
    outs = {a: HopSkipJump(ds.x[sp.attacker])(arms[a], x, y, tm, np.random.default_rng(5))
            for a in ("baseline", "label_only")}
    np.testing.assert_array_equal(outs["baseline"].x_adv, outs["label_only"].x_adv)
    assert outs["baseline"].success.mean() > 0.3
    noise = {a: pv.noise_robustness(arms[a], x, y, np.random.default_rng(1), 8, 0.2) for a in ("baseline", "label_only")}
    np.testing.assert_array_equal(noise["baseline"], noise["label_only"])
    simba = {a: SimBA()(arms[a], x, y, tm, np.random.default_rng(5)).success.mean() for a in ("baseline", "label_only")}
    assert simba["baseline"] > 0.5 and simba["label_only"] <= 0.1


def test_hopskipjump_with_a_large_budget_fools_an_undefended_model(served):
    _, ds, sp, arms = served
    x, y = ds.x[sp.test][:20], ds.y[sp.test][:20]
    out = HopSkipJump(ds.x[sp.attacker])(arms["baseline"], x, y, ThreatModel("labels", "linf", 0.5, 400),
                                          np.random.default_rng(0))
    assert (arms["baseline"].predict(out.x_adv) == y).mean() <= 0.05


def test_copies_train_on_soft_targets_and_match_the_victim(served):
    be, ds, sp, arms = served
    pool = ex.query_pool(ds.x[sp.attacker], np.random.default_rng(0), 1)
    assert len(pool) == 2 * len(sp.attacker) and pool.min() >= 0 and pool.max() <= 1
    for active in (False, True):
        idx, answers = ex.choose_queries(be, arms["baseline"], pool, 200, active, 2, 10, ds.image_shape,
                                         epochs=10, batch=64, lr=3e-3, rng=np.random.default_rng(1))
        assert len(idx) == len(set(idx.tolist())) == 200
        net = ex.copycat(be, pool, idx, answers, True, 10, ds.image_shape, epochs=20, batch=64, lr=3e-3,
                         rng=np.random.default_rng(2))
        x = ds.x[sp.test]
        assert (Model(be, net).predict(x) == arms["baseline"].predict(x)).mean() > 0.7


def test_inversion_recovers_recognisable_classes_from_full_scores(served):
    be, ds, sp, arms = served
    from sklearn.svm import SVC

    judge = SVC(gamma="scale").fit(ds.x[sp.attacker], ds.y[sp.attacker])
    xr, t, q = pv.invert_classes(arms["baseline"], 10, 64, np.random.default_rng(0), starts=2, steps=40,
                                 samples=20, sigma=0.2, lr=0.03, tv=0.3, image=ds.image_shape)
    assert q == 40 * 20 and xr.min() >= 0 and xr.max() <= 1
    assert (judge.predict(xr) == t).mean() > 0.3  # chance is 0.1


def test_ontology_counts_one_query_for_a_score_vector():
    truth = m0002._classes_named(np.array([0.1, 0.7, 0.2]), True)
    assert list(truth) == [0, 1, 2]
    assert list(m0002._classes_named(np.array([0, 1, 0.0]), False)) == [1]


def test_adaptive_copy_of_reverse_sigmoid_scores_is_at_least_as_faithful(served):
    """Trained on the top label (which the defense keeps), the copy beats one trained on the
    perturbed scores: the adaptive attacker is at least as strong as the non-adaptive one."""
    be, ds, sp, _ = served
    r = np.random.default_rng(4)  # a confident (overfit) victim, as in the experiment
    net = T.train(be, mlp(64, (128,), 10, "relu", r), ds.x[sp.train][:200], ds.y[sp.train][:200],
                  epochs=200, lr=3e-3, rng=r)
    victim_model = Model(be, net)
    api = m0002.serve(m0002.QUICK, victim_model, "reverse_sigmoid")
    pool = ex.query_pool(ds.x[sp.attacker], np.random.default_rng(0), 2)
    idx, answers = ex.choose_queries(be, api, pool, 300, False, 1, 10, ds.image_shape,
                                     epochs=30, batch=64, lr=3e-3, rng=np.random.default_rng(1))
    x, victim = ds.x[sp.test], victim_model.predict(ds.x[sp.test])
    fid = {}
    for soft in (True, False):
        net = ex.copycat(be, pool, idx, answers, soft, 10, ds.image_shape, epochs=40, batch=64, lr=3e-3,
                         rng=np.random.default_rng(2))
        fid[soft] = (Model(be, net).predict(x) == victim).mean()
    assert fid[False] > fid[True]
