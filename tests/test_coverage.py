"""`atlaskb.coverage`: its guarantees (partition, ranking, greedy cover) on real ATLAS
data, profiles good and bad, and how mitigations named by a user become IDs."""

from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import atlaskb
from atlaskb import coverage
from atlaskb.errors import NotFound, SourceError, UsageError


@pytest.fixture(scope="module")
def kb56():
    from conftest import SHARED

    path = SHARED / "atlas-data" / "ATLAS-5.6.0.yaml"
    if not path.exists():
        pytest.skip(f"{path} not available")
    return atlaskb.load(str(path))


def techniques(kb):
    return kb.nodes_of_type("technique")


def assert_partition(kb, result):
    covered, uncovered = result["covered"], result["uncovered"]
    assert not set(covered) & set(uncovered)
    assert sorted(covered + uncovered) == sorted(techniques(kb))
    for tactic, entry in result["by_tactic"].items():
        assert set(entry["covered"]) <= set(covered) and set(entry["uncovered"]) <= set(uncovered)
        total = len(entry["covered"]) + len(entry["uncovered"])
        assert entry["ratio"] == (round(len(entry["covered"]) / total, 4) if total else 0.0)


# -- library ----------------------------------------------------------------------------------

def test_partition_on_bundled_vault_and_release(bundled_kb, kb56):
    for kb in (bundled_kb, kb56):
        mitigations = kb.nodes_of_type("mitigation")
        for have in ([], mitigations[:3], mitigations):
            assert_partition(kb, coverage.compute(kb, have))


MITIGATION_IDS = [f"AML.M{n:04d}" for n in range(35)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(MITIGATION_IDS), max_size=8))
def test_partition_property(bundled_kb, have):
    result = coverage.compute(bundled_kb, have)
    assert_partition(bundled_kb, result)
    # covered is exactly what the deployed mitigations link to directly
    direct = {t for m in have for _, t, k in bundled_kb.graph.out_edges(m, keys=True) if k == "mitigates"}
    assert set(result["covered"]) == direct


def test_covered_matches_release_links(kb56):
    result = coverage.compute(kb56, ["AML.M0003"])
    assert "AML.T0043.002" in result["covered"]
    assert "AML.T0000" in result["uncovered"]
    staging = result["by_tactic"]["AML.TA0001"]
    assert staging["name"] == "AI Attack Staging" and "AML.T0043.002" in staging["covered"]
    assert list(result["by_tactic"])[0] == "AML.TA0002"  # kill-chain order, Reconnaissance first


def test_parent_is_not_covered_by_its_subtechniques(bundled_kb):
    # AML.M0024 links to sub-techniques of AML.T0024 and to AML.T0024 itself; pick one that
    # lists a sub-technique but not its parent, if the data has such a mitigation.
    g = bundled_kb.graph
    for m in bundled_kb.nodes_of_type("mitigation"):
        targets = {t for _, t, k in g.out_edges(m, keys=True) if k == "mitigates"}
        for t in targets:
            parent = next((p for _, p, k in g.out_edges(t, keys=True) if k == "subtechnique-of"), None)
            if parent and parent not in targets:
                result = coverage.compute(bundled_kb, [m])
                assert t in result["covered"] and parent in result["uncovered"]
                return
    pytest.skip("no mitigation lists a sub-technique without its parent")


def test_gaps_ranked_by_maturity_then_case_studies(bundled_kb):
    gaps = coverage.compute(bundled_kb, ["AML.M0003"])["gaps"]
    rank = {"realized": 3, "demonstrated": 2, "feasible": 1}
    keys = [(-rank.get(g["maturity"] or "", 0), -g["case_studies"]) for g in gaps]
    assert keys == sorted(keys)
    assert gaps[0]["maturity"] == "realized"
    assert {"id", "name", "maturity", "case_studies", "weight"} <= set(gaps[0])


def test_strength_zero_does_not_cover(bundled_kb):
    result = coverage.compute(bundled_kb, ["AML.M0003"], strength={"AML.M0003": 0.0})
    assert "AML.T0043.002" in result["uncovered"]
    half = coverage.compute(bundled_kb, ["AML.M0003", "AML.M0006"], strength={"AML.M0003": 0.5, "AML.M0006": 0.5})
    assert half["level"]["AML.T0043.002"] == 0.75


def test_unknown_mitigation_raises_not_found(bundled_kb):
    with pytest.raises(NotFound) as e:
        coverage.compute(bundled_kb, ["AML.M0999"])
    assert e.value.suggestions
    with pytest.raises(NotFound):
        coverage.recommend(bundled_kb, ["nope-nothing"])


def test_recommend_is_greedy_weighted_set_cover(bundled_kb):
    picks = coverage.recommend(bundled_kb, ["AML.M0003"], top=4)
    assert len(picks) == 4
    # each pick's gain is the weight of the techniques it newly covers (nothing partial here)
    covered = set(coverage.compute(bundled_kb, ["AML.M0003"])["covered"])
    for p in picks:
        assert p["gain"] == pytest.approx(sum(coverage.technique_weight(bundled_kb, t) for t in p["newly_covered"]))
        assert not set(p["newly_covered"]) & covered
        covered |= set(p["newly_covered"])
    gains = [p["gain"] for p in picks]
    assert gains == sorted(gains, reverse=True)
    # the first pick is the best single mitigation
    best = max((m for m in bundled_kb.nodes_of_type("mitigation") if m != "AML.M0003"),
               key=lambda m: sum(coverage.technique_weight(bundled_kb, t)
                                 for t in coverage.compute(bundled_kb, ["AML.M0003", m])["covered"]))
    assert picks[0]["id"] == best
    assert coverage.recommend(bundled_kb, ["AML.M0003"], top=4) == picks  # deterministic


def test_recommend_stops_when_nothing_left(bundled_kb):
    everything = bundled_kb.nodes_of_type("mitigation")
    assert coverage.recommend(bundled_kb, everything, top=5) == []


# -- profiles ---------------------------------------------------------------------------------

def test_profile_shapes(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("name: lab\nmitigations:\n  - aml.m0003\n  - id: AML.M0015\n    note: WAF\n    strength: 0.5\n")
    prof = coverage.load_profile(str(p))
    assert prof.mitigations == ["AML.M0003", "AML.M0015"]
    assert prof.notes == {"AML.M0015": "WAF"} and prof.strength == {"AML.M0015": 0.5}
    p.write_text("mitigations:\n  AML.M0003:\n  AML.M0015: {note: x, strength: 1}\n")
    prof = coverage.load_profile(str(p))
    assert prof.mitigations == ["AML.M0003", "AML.M0015"] and prof.strength == {"AML.M0015": 1.0}
    p.write_text("- AML.M0003\n")
    assert coverage.load_profile(str(p)).mitigations == ["AML.M0003"]


@pytest.mark.parametrize("text,error,line", [
    ("mitigations:\n  - [AML.M0003\n", SourceError, 3),
    ("mitigations:\n  - id: AML.M0003\n    strength: high\n", UsageError, 3),
    ("mitigations:\n  - id: AML.M0003\n    colour: red\n", UsageError, 3),
    ("mitigation:\n  - AML.M0003\n", UsageError, 1),
    ("mitigations:\n  - note: no id\n", UsageError, 2),
    ("mitigations: 5\n", UsageError, 1),
    ("", UsageError, None),
    ("mitigations:\n  - !!python/object/apply:os.system ['true']\n", UsageError, None),
])
def test_bad_profiles_name_file_and_line(tmp_path, text, error, line):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(error) as e:
        profile = coverage.load_profile(str(p))
        # a python tag is never constructed: at most it is an unknown mitigation "ID"
        coverage.compute(atlaskb.load(), profile.mitigations)
    msg = str(e.value)
    assert str(p) in msg or isinstance(e.value, NotFound)
    if line:
        assert f"{p}:{line}:" in msg


def test_python_tag_is_not_executed(tmp_path, bundled_kb):
    marker = tmp_path / "ran"
    p = tmp_path / "evil.yaml"
    p.write_text(f"mitigations:\n  - !!python/object/apply:os.system ['touch {marker}']\n")
    try:
        profile = coverage.load_profile(str(p))
    except UsageError:
        profile = None
    assert not marker.exists()
    if profile is not None:
        with pytest.raises(NotFound):
            coverage.compute(bundled_kb, profile.mitigations)


# -- mitigations as a user names them ---------------------------------------------------------

def test_resolve_deployed_takes_ids_short_ids_and_names_once_each_in_order(bundled_kb):
    deployed = coverage.resolve_deployed(bundled_kb, ["m0015", "Model Hardening", "AML.M0015", "aml.m0003"])
    assert deployed.ids == ["AML.M0015", "AML.M0003"]
    assert deployed.strength == {} and deployed.notes == {}


def test_resolve_deployed_keys_strengths_and_notes_by_id(bundled_kb):
    deployed = coverage.resolve_deployed(bundled_kb, ["Model Hardening", "M0015"],
                                         strength={"Model Hardening": 0.5, "M0015": "0.25", "No Such Thing": 1.0},
                                         notes={"M0015": "detector"})
    assert deployed.strength == {"AML.M0003": 0.5, "AML.M0015": 0.25}
    assert deployed.notes == {"AML.M0015": "detector"}


def test_resolve_deployed_refuses_an_unknown_mitigation_with_suggestions(bundled_kb):
    with pytest.raises(NotFound) as e:
        coverage.resolve_deployed(bundled_kb, ["AML.M0003", "Model Hardeningx"])
    assert "did you mean AML.M0003 (Model Hardening)" in str(e.value)
    with pytest.raises(NotFound):
        coverage.resolve_deployed(bundled_kb, ["AML.T0043"])  # a technique, not a mitigation


def test_compute_counts_a_strength_given_under_a_name(bundled_kb):
    by_name = coverage.compute(bundled_kb, ["Model Hardening"], {"Model Hardening": 0.5})
    by_id = coverage.compute(bundled_kb, ["AML.M0003"], {"AML.M0003": 0.5})
    assert by_name == by_id and set(by_name["level"].values()) == {0.5}
