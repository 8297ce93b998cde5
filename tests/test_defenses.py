"""The AML.M0006 reference defense: schema, determinism, coverage of every technique, and
that each attack does what it claims on a tiny problem."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from atlaskb.defenses import data, ensemble, models, results, runner, stats
from atlaskb.defenses.attacks import backdoor, compromised, manual
from atlaskb.defenses.attacks.query import Boundary, SimBA
from atlaskb.defenses.mitigations import m0006
from atlaskb.defenses.systems import Ensemble, Model
from atlaskb.defenses.threat import TargetedMisclassification, ThreatModel
from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp

TINY = replace(m0006.QUICK, epochs=3, n_test=30, apgd_steps=3, apgd_restarts=1, eps_curve=(0.1, 0.5),
               select_steps=2, query_budget=30, shadow_per_family=2, shadow_ensembles_per_family=1,
               targets_per_family=1, probes=6, fingerprint_train=60,
               fingerprint_epochs=2)


@pytest.fixture(scope="module")
def tiny_doc():
    return runner.run(runner.Request("AML.M0006", backend="numpy", seeds=2, config=TINY),
                      progress=False, names={})


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


def test_results_schema_and_metric_vocabulary(tiny_doc):
    results.validate(tiny_doc)
    assert set(tiny_doc) == {"mitigation", "backend", "device", "dataset", "provenance",
                             "clean_accuracy", "results", "not_measured"}
    assert tiny_doc["mitigation"] == "AML.M0006" and tiny_doc["backend"] == "numpy"
    prov = tiny_doc["provenance"]
    assert {"versions", "seeds", "config_hash", "timings"} <= set(prov)
    assert prov["seeds"] == [0, 1] and "numpy" in prov["versions"] and "python" in prov["versions"]
    for r in tiny_doc["results"]:
        assert r["metric"] in results.METRICS
        assert set(r["ci95"]) == {"baseline", "defended"}
        lo, hi = r["ci95"]["defended"]
        assert lo <= r["defended"] <= hi
        assert r["plots"] == [f"plots/{r['technique']}.png", f"plots/{r['technique']}.svg"]
        assert len(r["params"]["per_seed"]["baseline"]) == 2


def test_every_technique_the_graph_lists_gets_a_result(tiny_doc, bundled_kb):
    from atlaskb import queries

    in_graph = {t["id"] for t in queries.techniques_for(bundled_kb, "AML.M0006")}
    assert len(in_graph) == 11
    assert set(m0006.EXPERIMENTS) == in_graph
    assert {r["technique"] for r in tiny_doc["results"]} == in_graph


def test_same_seeds_give_identical_results(tiny_doc):
    again = runner.run(runner.Request("AML.M0006", backend="numpy", seeds=2, config=TINY),
                       progress=False, names={})
    a, b = dict(tiny_doc), dict(again)
    a["provenance"] = {k: v for k, v in a["provenance"].items() if k != "timings"}
    b["provenance"] = {k: v for k, v in b["provenance"].items() if k != "timings"}
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_one_technique_alone_matches_the_full_run(tiny_doc):
    one = runner.run(runner.Request("AML.M0006", ["aml.t0043.002"], backend="numpy", seeds=2, config=TINY),
                     progress=False, names={})
    assert one["results"] == [r for r in tiny_doc["results"] if r["technique"] == "AML.T0043.002"]


def test_query_attacks_respect_the_budget_and_succeed_sometimes(trained):
    be, ds, sp, clf = trained
    x, y = ds.x[sp.test][:40], ds.y[sp.test][:40]
    ok = clf.predict(x) == y
    x, y = x[ok], y[ok]
    s = SimBA()(clf, x, y, ThreatModel("scores", "linf", 0.3, 100), np.random.default_rng(0))
    assert s.queries.max() <= 100 and s.success_rate > 0.3
    assert np.abs(s.x_adv - x).max() <= 0.3 + 1e-6
    assert (clf.predict(s.x_adv[s.success]) != y[s.success]).all()
    b = Boundary(ds.x[sp.attacker])(clf, x, y, ThreatModel("labels", "l2", 2.5, 100), np.random.default_rng(0))
    assert b.queries.max() <= 100 and b.success_rate > 0.3
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


def test_diversity_training_is_joint_deterministic_and_recorded():
    be = get_backend("numpy")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    x, y = ds.x[sp.train][:300], ds.y[sp.train][:300]
    cfg = replace(TINY, epochs=2)
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
    doc = runner.run(runner.Request("AML.M0006", ["AML.T0043.002"], backend="numpy", seeds=1, config=TINY,
                                    diversity=0.5),
                     progress=False, names={})
    assert doc["provenance"]["config"]["diversity"] == 0.5
    assert doc["provenance"]["config_hash"] != TINY.hash()
    assert "joint" in doc["results"][0]["params"]["member_training"]


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


def test_majority_vote_counts_votes():
    be = get_backend("numpy")
    rng = np.random.default_rng(0)
    nets = [mlp(64, (8,), 10, "relu", rng) for _ in range(3)]
    x = rng.random((5, 64)).astype(np.float32)
    maj = Ensemble(be, nets, "majority").predict(x)
    votes = np.stack([Model(be, n).predict(x) for n in nets])
    for i in range(5):
        counts = np.bincount(votes[:, i], minlength=10)
        assert counts[maj[i]] == counts.max()


def test_validator_rejects_unknown_metric(tiny_doc):
    bad = json.loads(json.dumps(tiny_doc))
    bad["results"][0]["metric"] = "vibes"
    with pytest.raises(results.ResultsError, match="metric"):
        results.validate(bad)


# ---- data ------------------------------------------------------------------------

def test_digits_and_synthetic_are_in_unit_range():
    d = data.digits()
    assert d.x.shape == (1797, 64) and d.x.min() == 0 and d.x.max() == 1 and d.n_classes == 10
    s = data.synthetic(200, seed=1)
    assert s.x.shape == (200, 64) and 0 <= s.x.min() and s.x.max() <= 1
    assert (data.synthetic(200, seed=1).x == s.x).all()


def test_npz_loader_reads_plain_arrays_and_scales(tmp_path):
    p = tmp_path / "mine.npz"
    rng = np.random.default_rng(0)
    np.savez(p, x=rng.normal(size=(60, 5, 5)) * 10, y=np.repeat(["a", "b", "c"], 20).astype("S1").view(np.uint8))
    ds = data.load_npz(str(p))
    assert ds.x.shape == (60, 25) and ds.image_shape == (1, 5, 5) and ds.n_classes == 3
    assert ds.x.min() == 0 and ds.x.max() == 1


@pytest.mark.parametrize("arrays, message", [
    ({"features": np.zeros((4, 2)), "y": np.zeros(4, int)}, "expected arrays named 'x'"),
    ({"x": np.zeros((40, 4)), "y": np.zeros(30, int)}, "one label per row"),
    ({"x": np.array([{"a": 1}] * 40, dtype=object), "y": np.zeros(40, int)}, "unpickling"),
    ({"x": np.zeros((40, 4)), "y": np.zeros(40, int)}, "at least two classes"),
])
def test_bad_npz_gives_a_clear_message(tmp_path, arrays, message):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(data.DataError, match=message):
        data.load_npz(str(p))


def test_not_an_npz_file(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"definitely not a zip")
    with pytest.raises(data.DataError, match="not a readable .npz"):
        data.load_npz(str(p))


def test_torch_backend_runs_the_same_experiment_when_installed(tiny_doc):
    pytest.importorskip("torch")
    b = runner.run(runner.Request("AML.M0006", ["AML.T0043.003"], backend="torch", device="cpu", seeds=2,
                                  config=TINY),
                   progress=False, names={})
    assert b["backend"] == "torch" and b["device"] == "cpu" and "torch" in b["provenance"]["versions"]
    a = [r for r in tiny_doc["results"] if r["technique"] == "AML.T0043.003"]
    # same seeds, same algorithm: float32 rounding may move a point or two at most
    assert [r["attack"] for r in a] == [r["attack"] for r in b["results"]]
    for ra, rb in zip(a, b["results"]):
        assert abs(ra["defended"] - rb["defended"]) <= 0.06


def test_attacker_data_is_disjoint_from_the_defenders():
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(5))
    sets = [set(sp.train), set(sp.attacker), set(sp.test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert len(sets[0] | sets[1] | sets[2]) == len(ds.y)


def test_direction_of_each_metric(tiny_doc):
    expected = {"robust_accuracy": True, "accuracy": True, "queries": True,
                "attack_success_rate": False, "identification_accuracy": False}
    for r in tiny_doc["results"]:
        assert r["higher_is_better"] is expected[r["metric"]], r["attack"]


def test_npz_without_samples_is_a_clear_error(tmp_path):
    p = tmp_path / "empty.npz"
    np.savez(p, x=np.zeros((0, 64), np.float32), y=np.zeros(0, np.int64))
    with pytest.raises(data.DataError, match="empty"):
        data.load_npz(str(p))


def test_data_that_leaves_an_attack_nothing_to_measure_is_a_clear_error(tmp_path):
    """A class so rare that the test split holds nothing but the target class: the trigger
    success has no input to count, which must be an AtlasError naming the technique, not a
    schema failure (ResultsError) after the whole run."""
    rng = np.random.default_rng(0)
    p = tmp_path / "skewed.npz"
    np.savez(p, x=rng.random((200, 64)).astype(np.float32), y=np.r_[np.zeros(199, np.int64), [1]])
    with pytest.raises(runner.AtlasError, match="AML.T0010.001.*could not be measured") as info:
        runner.run(runner.Request("AML.M0006", ["AML.T0010.001"], backend="numpy", seeds=1, config=TINY,
                                  dataset=str(p)),
                   progress=False, names={})
    assert not isinstance(info.value, results.ResultsError)


def test_one_seed_still_has_intervals_from_the_test_points():
    """--seeds 1: no crash; rates still get an interval of positive width from the test
    points' sampling error, and the plot title says there is no spread over seeds."""
    from atlaskb.defenses import plots

    doc = runner.run(runner.Request("AML.M0006", ["AML.T0043.003"], backend="numpy", seeds=1, config=TINY),
                     progress=False, names={})
    for r in doc["results"]:
        for side in ("baseline", "defended"):
            lo, hi = r["ci95"][side]
            assert lo <= r[side] <= hi and hi > lo
    fig = plots.figure("AML.T0043.003", "Manual Modification", doc["results"])
    title = fig._suptitle.get_text()
    assert "one seed: no interval" in title and "95% CI" not in title
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_fingerprinting_runs_when_the_attacker_owns_fewer_images_than_probes():
    """synthetic:20 leaves the attacker 5 images; asking for 10 real probes from them was
    an internal error (numpy's choice without replacement)."""
    doc = runner.run(runner.Request("AML.M0006", ["AML.T0014"], backend="numpy", seeds=1,
                                    config=replace(TINY, probes=20), dataset="synthetic:20"),
                     progress=False, names={})
    assert doc["results"][0]["metric"] == "identification_accuracy"


def test_data_folder_is_named_as_a_folder(tmp_path):
    with pytest.raises(data.DataError, match="is a folder"):
        data.get_dataset(str(tmp_path))


def test_poison_reaches_only_the_chosen_members_partitions():
    """`extra` appends the poison to member 0's training data only: every other member is
    bit-identical to one trained without poison, and member 0 differs."""
    be = get_backend("numpy")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    x, y = ds.x[sp.train][:300], ds.y[sp.train][:300]
    cfg = replace(TINY, epochs=1)
    xp, yp = backdoor.poison_set(ds.x[sp.attacker], ds.image_shape, 0, 20, np.random.default_rng(1))
    clean = ensemble.train_members(be, x, y, 10, ds.image_shape, cfg, np.random.default_rng(2))
    dirty = ensemble.train_members(be, x, y, 10, ds.image_shape, cfg, np.random.default_rng(2),
                                   extra={0: (xp, yp)})
    probe = ds.x[sp.test][:50]
    assert not np.array_equal(T.logits(be, [clean[0]], probe), T.logits(be, [dirty[0]], probe))
    for a, b in zip(clean[1:], dirty[1:]):
        assert np.array_equal(T.logits(be, [a], probe), T.logits(be, [b], probe))
