"""The runner on a tiny AML.M0006 configuration: the results document's schema and metric
directions, determinism, one technique alone matching the full run, the torch backend,
one seed, a recorded --diversity, and clear errors where the data leaves an attack
nothing to measure."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from atlaskb.defenses import results, runner
from atlaskb.defenses.mitigations import m0006

TINY = replace(m0006.QUICK, epochs=3, n_test=30, apgd_steps=3, apgd_restarts=1, eps_curve=(0.1, 0.5),
               select_steps=2, query_budget=30, shadow_per_family=2, shadow_ensembles_per_family=1,
               targets_per_family=1, probes=6, fingerprint_train=60,
               fingerprint_epochs=2)


@pytest.fixture(scope="module")
def tiny_doc():
    return runner.run(runner.Request("AML.M0006", backend="numpy", seeds=2, config=TINY),
                      progress=False, names={})


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


def test_validator_rejects_unknown_metric(tiny_doc):
    bad = json.loads(json.dumps(tiny_doc))
    bad["results"][0]["metric"] = "vibes"
    with pytest.raises(results.ResultsError, match="metric"):
        results.validate(bad)


def test_direction_of_each_metric(tiny_doc):
    expected = {"robust_accuracy": True, "accuracy": True, "queries": True,
                "attack_success_rate": False, "identification_accuracy": False}
    for r in tiny_doc["results"]:
        assert r["higher_is_better"] is expected[r["metric"]], r["attack"]


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
    """synthetic:20 leaves the attacker 5 images, fewer than the 10 real probes asked for:
    the probes reuse images (the noise half still differs) and fingerprinting is measured."""
    doc = runner.run(runner.Request("AML.M0006", ["AML.T0014"], backend="numpy", seeds=1,
                                    config=replace(TINY, probes=20), dataset="synthetic:20"),
                     progress=False, names={})
    assert doc["results"][0]["metric"] == "identification_accuracy"


def test_diversity_is_recorded_in_the_config_and_its_hash():
    doc = runner.run(runner.Request("AML.M0006", ["AML.T0043.002"], backend="numpy", seeds=1, config=TINY,
                                    diversity=0.5),
                     progress=False, names={})
    assert doc["provenance"]["config"]["diversity"] == 0.5
    assert doc["provenance"]["config_hash"] != TINY.hash()
    assert "joint" in doc["results"][0]["params"]["member_training"]
