"""`atlaskb export navigator`: layer shape, scores checked against the raw release (MITRE's
case-study rule, mitigations, coverage), and what MITRE's own ATLAS layers declare."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import run_cli


def expected_case_study_scores(data):
    """MITRE's rule from the raw procedure steps: top-level technique per (technique,
    tactic name slug); sub-technique per technique, no tactic. Zero entries included."""
    matrix = data["matrices"][0]
    slug = {t["id"]: t["name"].lower().replace(" ", "-") for t in matrix["tactics"]}
    techniques = {t["id"]: t for t in matrix["techniques"]}
    scores = {}
    for t in techniques.values():
        if "subtechnique-of" in t:
            scores[(t["id"], None)] = 0
        else:
            for tactic in t["tactics"]:
                scores[(t["id"], slug[tactic])] = 0
    for study in data["case-studies"]:
        for step in study["procedure"]:
            t = techniques[step["technique"]]
            key = (t["id"], None) if "subtechnique-of" in t else (t["id"], slug[step["tactic"]])
            scores[key] += 1
    return scores


# What MITRE's own ATLAS case-study layers declare (mitre-atlas/atlas-navigator-data,
# dist/default-navigator-layers/atlas_case_study_frequency.json and
# dist/case-study-navigator-layers/AML.CS0000.json, ATLAS data 5.0.1): the ATLAS
# Navigator MITRE runs warns on any other version.
MITRE_CASE_STUDY_LAYER = {"versions": {"layer": "4.3", "navigator": "4.6.4"}, "domain": "atlas-atlas"}
# MITRE's layer for AML.CS0000: the coloured entries, and the parents opened (tactic).
MITRE_CS0000 = {
    "used": {"AML.T0000.001", "AML.T0002.000", "AML.T0005", "AML.T0043.003", "AML.T0042", "AML.T0015"},
    "opened": {("AML.T0000", "reconnaissance"), ("AML.T0002", "resource-development"),
               ("AML.T0043", "ai-attack-staging")},
}


def navigator(*args):
    code, out, err = run_cli(*args)
    assert code == 0, err
    return json.loads(out)


def entries(layer):
    return {(e["techniqueID"], e.get("tactic")): e for e in layer["techniques"]}


# -- Navigator ---------------------------------------------------------------------------------

def test_layer_shape(bundled_kb):
    layer = navigator("export", "navigator")
    assert layer["versions"] == MITRE_CASE_STUDY_LAYER["versions"]
    assert layer["domain"] == "atlas-atlas"
    assert layer["name"] == "ATLAS Case Study Frequency"
    tactic_slugs = {"reconnaissance", "resource-development", "initial-access", "ai-model-access", "execution",
                    "persistence", "privilege-escalation", "defense-evasion", "credential-access", "discovery",
                    "lateral-movement", "collection", "ai-attack-staging", "command-and-control",
                    "exfiltration", "impact"}
    for e in layer["techniques"]:
        assert set(e) <= {"techniqueID", "tactic", "showSubtechniques", "score", "comment"}
        assert isinstance(e["score"], int)
        assert isinstance(e["comment"], str) and e["comment"]
        if "tactic" in e:
            assert e["tactic"] in tactic_slugs
    assert {e["techniqueID"] for e in layer["techniques"]} == set(bundled_kb.nodes_of_type("technique"))
    assert len(entries(layer)) == len(layer["techniques"])  # one entry per (technique, tactic)


def test_case_study_scores_match_mitres_rule_on_the_release(atlas_yaml_56, raw_release_56):
    path, data = atlas_yaml_56, raw_release_56
    layer = navigator("--source", str(path), "export", "navigator", "--score", "case-studies")
    got = {k: e["score"] for k, e in entries(layer).items()}
    expected = expected_case_study_scores(data)
    assert got == expected
    assert sum(got.values()) == sum(len(c["procedure"]) for c in data["case-studies"])
    assert layer["metadata"][0] == {"name": "atlas_data_version", "value": "5.6.0"}


def test_case_study_scores_from_the_bundled_vault_equal_the_release(atlas_yaml_56, raw_release_56):
    data = raw_release_56
    layer = navigator("export", "navigator")
    assert {k: e["score"] for k, e in entries(layer).items()} == expected_case_study_scores(data)


def test_technique_in_several_tactics_counts_steps_per_tactic(atlas_yaml_56, raw_release_56):
    data = raw_release_56
    matrix = data["matrices"][0]
    slug = {t["id"]: t["name"].lower().replace(" ", "-") for t in matrix["tactics"]}
    multi = [t for t in matrix["techniques"] if len(t.get("tactics", [])) > 1]
    assert multi
    layer = entries(navigator("export", "navigator"))
    for t in multi:
        per_tactic = Counter(s["tactic"] for c in data["case-studies"] for s in c["procedure"]
                             if s["technique"] == t["id"])
        for tactic in t["tactics"]:
            entry = layer[(t["id"], slug[tactic])]
            assert entry["score"] == per_tactic[tactic]
            assert entry["showSubtechniques"] is True
            if entry["score"]:
                assert entry["comment"].startswith(f"{entry['score']} procedure step")


def test_mitigation_scores(atlas_yaml_56, raw_release_56):
    path, data = atlas_yaml_56, raw_release_56
    # Distinct mitigations: the release lists some pairs twice in one mitigation.
    pairs = {(m["id"], t["id"]) for m in data["matrices"][0]["mitigations"] for t in m["techniques"]}
    counts = Counter(t for _, t in pairs)
    layer = navigator("--source", str(path), "export", "navigator", "--score", "mitigations")
    for e in layer["techniques"]:
        assert e["score"] == counts[e["techniqueID"]], e["techniqueID"]


def test_coverage_scores_follow_the_coverage_module(bundled_kb):
    from atlaskb.coverage import compute

    have = ["AML.M0015", "AML.M0007"]
    layer = navigator("export", "navigator", "--score", "coverage", "--have", "aml.m0015",
                      "--have", "Sanitize Training Data")
    covered = set(compute(bundled_kb, have)["covered"])
    assert covered
    for e in layer["techniques"]:
        assert e["score"] == (1 if e["techniqueID"] in covered else 0)
        if e["score"]:
            assert e["comment"].startswith("covered")
    assert "AML.M0015" in layer["description"] and "AML.M0007" in layer["description"]


def test_coverage_from_a_profile_with_strengths(bundled_kb, tmp_path):
    from atlaskb.coverage import compute

    profile = tmp_path / "profile.yaml"
    profile.write_text("mitigations:\n  - id: AML.M0015\n    strength: 0.5\n", encoding="utf-8")
    layer = navigator("export", "navigator", "--score", "coverage", "--profile", str(profile))
    expected = compute(bundled_kb, ["AML.M0015"], {"AML.M0015": 0.5})["level"]
    scored = {e["techniqueID"]: e["score"] for e in layer["techniques"] if e["score"]}
    assert scored == expected
    assert set(scored.values()) == {0.5}


def test_coverage_needs_known_mitigations():
    code, _, err = run_cli("export", "navigator", "--score", "coverage")
    assert code == 2 and "--have" in err
    code, _, err = run_cli("export", "navigator", "--have", "AML.M0015")
    assert code == 2 and "--score coverage" in err
    code, _, err = run_cli("export", "navigator", "--score", "coverage", "--have", "AML.M9999")
    assert code == 1 and "did you mean" in err


def test_layers_declare_what_mitres_atlas_layers_declare_and_have_a_legend():
    layer = navigator("export", "navigator", "--score", "case-studies")
    assert {k: layer[k] for k in ("versions", "domain")} == MITRE_CASE_STUDY_LAYER
    assert layer["legendItems"] and all(i["label"] and i["color"].startswith("#") for i in layer["legendItems"])
    # Scaled like MITRE's layer: white to red, 0 to the number of case studies.
    assert layer["gradient"] == {"colors": ["#FFFFFF", "#F44336"], "minValue": 0, "maxValue": 57}
    assert {"name": "atlas_data_version", "value": "5.6.0"} in layer["metadata"]
    for args in (("--score", "mitigations"), ("--score", "coverage", "--have", "AML.M0015")):
        other = navigator("export", "navigator", *args)
        assert other["legendItems"] and other["versions"] == MITRE_CASE_STUDY_LAYER["versions"]
        assert [i["color"] for i in other["legendItems"]] == other["gradient"]["colors"]


def test_layer_for_attack_navigator_5():
    layer = navigator("export", "navigator", "--navigator", "5")
    assert layer["versions"] == {"layer": "4.5", "navigator": "5.1.0"}
    assert layer["techniques"] == navigator("export", "navigator")["techniques"]
    code, _, err = run_cli("export", "navigator", "--navigator", "4")
    assert code == 2


def test_case_study_layer_matches_mitres(atlas_yaml_56, raw_release_56):
    path = atlas_yaml_56
    layer = navigator("--source", str(path), "export", "navigator", "--case-study", "AML.CS0000")
    assert {k: layer[k] for k in ("versions", "domain")} == MITRE_CASE_STUDY_LAYER
    assert layer["name"] == "Evasion of Deep Learning Detector for Malware C&C Traffic"
    assert layer["metadata"][0] == {"name": "url", "value": "https://atlas.mitre.org/studies/AML.CS0000"}
    assert {"name": "atlas_data_version", "value": "5.6.0"} in layer["metadata"]
    used = {e["techniqueID"] for e in layer["techniques"] if e.get("color")}
    opened = {(e["techniqueID"], e["tactic"]) for e in layer["techniques"] if not e.get("color")}
    assert used == MITRE_CS0000["used"] and opened == MITRE_CS0000["opened"]
    assert layer["legendItems"] == [{"label": "Used in case study", "color": "#C8E6C9"}]
    assert next(e for e in layer["techniques"] if e["techniqueID"] == "AML.T0005")["comment"].startswith("step 3")


def test_every_case_study_layer_into_a_folder(bundled_kb, tmp_path):
    out = tmp_path / "layers"
    for _ in range(2):  # a second run replaces the folder it wrote
        code, _, err = run_cli("export", "navigator", "--case-study", "all", "--out", str(out))
        assert code == 0, err
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert files == [f"{cs}.json" for cs in bundled_kb.nodes_of_type("case-study")]
    one = json.loads((out / "AML.CS0016.json").read_text(encoding="utf-8"))
    assert one == navigator("export", "navigator", "--case-study", "mathgpt")
    code, _, err = run_cli("export", "navigator", "--case-study", "all")
    assert code == 2 and "--out" in err
    code, _, err = run_cli("export", "navigator", "--case-study", "AML.T0000")
    assert code == 1 and "not a case-study" in err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep", encoding="utf-8")
    code, _, err = run_cli("export", "navigator", "--case-study", "all", "--out", str(mine))
    assert code != 0 and (mine / "notes.txt").read_text(encoding="utf-8") == "keep"


def test_layer_from_a_stix_source_is_the_same(tmp_path):
    bundle = tmp_path / "atlas.json"
    assert run_cli("export", "stix", "--out", str(bundle))[0] == 0
    from_vault = navigator("export", "navigator")
    from_stix = navigator("--source", str(bundle), "export", "navigator")
    assert from_stix["techniques"] == from_vault["techniques"]


def test_library_rejects_unknown_score(bundled_kb):
    from atlaskb.export.navigator import layer

    with pytest.raises(ValueError):
        layer(bundled_kb, "popularity")
