"""Loading: the contract of `export json`, the real releases, the seed page, overlays,
and the vault-format variants seen in real vaults."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

import atlaskb
from atlaskb.model import id_sort_key
from conftest import FIXTURES, run_cli


def release_facts(path):
    """The relationship pairs stated by an ATLAS.yaml release, read independently of
    atlaskb's own loader."""
    data = yaml.safe_load(open(path, encoding="utf-8"))
    matrix = data["matrices"][0]
    objects = {o["id"]: kind for kind in ("tactics", "techniques", "mitigations") for o in matrix[kind]}
    objects.update({c["id"]: "case-studies" for c in data["case-studies"]})
    mitigates = {(m["id"], t["id"]) for m in matrix["mitigations"] for t in m["techniques"]}
    sub = {(t["id"], t["subtechnique-of"]) for t in matrix["techniques"] if "subtechnique-of" in t}
    achieves = {(t["id"], ta) for t in matrix["techniques"] for ta in t.get("tactics", [])}
    uses = {(c["id"], s["technique"]) for c in data["case-studies"] for s in c["procedure"]}
    return objects, {"mitigates": mitigates, "subtechnique-of": sub, "achieves": achieves, "uses": uses}


def graph_pairs(export):
    pairs = {}
    for e in export["edges"]:
        pairs.setdefault(e["type"], set()).add((e["source"], e["target"]))
    return pairs


def export_json(*sources):
    args = [a for s in sources for a in ("--source", str(s))]
    code, out, err = run_cli(*args, "export", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def bundled_export():
    return export_json()


def test_bundled_vault_has_exactly_the_release_objects(bundled_export, atlas_yaml_56):
    objects, _ = release_facts(atlas_yaml_56)
    assert {n["id"] for n in bundled_export["nodes"]} == set(objects)
    counts = Counter(n["type"] for n in bundled_export["nodes"])
    assert counts == {"tactic": 16, "technique": 170, "mitigation": 35, "case-study": 57}


@pytest.mark.parametrize("which", ["bundled", "yaml"])
def test_every_relationship_of_the_release(which, bundled_export, atlas_yaml_56):
    export = bundled_export if which == "bundled" else export_json(atlas_yaml_56)
    _, facts = release_facts(atlas_yaml_56)
    pairs = graph_pairs(export)
    assert len(facts["mitigates"]) == 244 and len(facts["subtechnique-of"]) == 69
    for edge_type, expected in facts.items():
        assert pairs[edge_type] == expected, edge_type


def test_export_json_shape(bundled_export):
    for node in bundled_export["nodes"]:
        assert {"id", "type", "name", "file", "line", "has_page"} <= set(node)
        assert node["type"] in {"tactic", "technique", "mitigation", "case-study"}
    for edge in bundled_export["edges"]:
        assert {"source", "target", "type", "file", "line"} <= set(edge)
    ids = [n["id"] for n in bundled_export["nodes"]]
    assert ids == sorted(ids, key=id_sort_key)


def test_export_json_is_deterministic():
    assert run_cli("export", "json")[1] == run_cli("export", "json")[1]


def test_provenance_points_at_the_defining_line(atlas_yaml_56):
    kb = atlaskb.load(str(atlas_yaml_56))
    node = kb.graph.nodes["AML.M0006"]
    lines = open(atlas_yaml_56, encoding="utf-8").read().split("\n")
    assert "id: AML.M0006" in lines[node["line"] - 1]
    edge = kb.graph.edges["AML.M0006", "AML.T0043.002", "mitigates"]
    assert "AML.T0043.002" in lines[edge["line"] - 1]


def test_bundled_vault_carries_no_mitre_prose(bundled_kb, atlas_yaml_56):
    mitre = atlaskb.load(str(atlas_yaml_56))
    for n, d in bundled_kb.graph.nodes(data=True):
        theirs = mitre.graph.nodes[n].get("description", "")
        ours = d.get("description", "")
        if theirs and ours:
            assert ours != theirs, n
            words = theirs.split()
            runs = {" ".join(words[i:i + 10]) for i in range(len(words) - 9)}
            assert not any(r in ours for r in runs), f"{n} shares a 10-word run with MITRE's text"
    for u, v, k, d in bundled_kb.graph.edges(keys=True, data=True):
        assert not d.get("note"), f"{u}->{v} carries a per-link note"


def test_seed_page_gives_ensemble_with_eleven_techniques(seed_page):
    data = export_json(seed_page)
    m = next(n for n in data["nodes"] if n["id"] == "AML.M0006")
    assert m["name"] == "Use Ensemble Methods" and m["type"] == "mitigation"
    targets = {e["target"] for e in data["edges"] if e["source"] == "AML.M0006" and e["type"] == "mitigates"}
    assert targets == {"AML.T0031", "AML.T0010.001", "AML.T0010.003", "AML.T0015", "AML.T0014",
                       "AML.T0043.000", "AML.T0043.001", "AML.T0043.002", "AML.T0043.004",
                       "AML.T0043.003", "AML.T0043"}
    linked_only = [n for n in data["nodes"] if n["id"] in targets]
    assert all(n["has_page"] is False for n in linked_only)


def test_seed_slugs_that_name_the_wrong_object_resolve_by_label_id(seed_page):
    kb = atlaskb.load(str(seed_page))
    assert kb.graph.nodes["AML.T0010.001"]["name"] == "AI Software"
    assert kb.graph.nodes["AML.T0010.003"]["name"] == "Model"
    slug = [f for f in kb.findings if f.code == "slug-mismatch"]
    assert sorted(f.line for f in slug) == [24, 25]


def test_seed_over_the_release_changes_nothing_it_should_not(seed_page, atlas_yaml_56):
    kb = atlaskb.load(str(atlas_yaml_56), str(seed_page))
    assert kb.graph.number_of_nodes() == 278
    mitigates = [1 for _, _, k in kb.graph.edges(keys=True) if k == "mitigates"]
    assert len(mitigates) == 244


def test_overlay_adds_an_organisations_own_mitigation(tmp_path):
    page = tmp_path / "acme-guard.md"
    page.write_text(
        "---\ntitle: \"ACME.M0001: Prompt Firewall\"\ntype: mitigation\n---\n\n"
        "# ACME.M0001: Prompt Firewall\n\nOur own control.\n\n## Techniques (2)\n\n"
        "- [[frameworks/atlas/techniques/ai-attack-staging/craft-adversarial-data/craft-adversarial-data-black-box-transfer|AML.T0043.002: Black-Box Transfer]] — filters replayed inputs\n"
        "- [[x|AML.T0015: Evade AI Model]]\n", encoding="utf-8")
    kb = atlaskb.load(atlaskb.resources.bundled_vault(), str(page))
    assert kb.graph.nodes["ACME.M0001"]["type"] == "mitigation"
    assert kb.graph.edges["ACME.M0001", "AML.T0043.002", "mitigates"]["note"] == "filters replayed inputs"
    assert kb.graph.nodes["AML.T0043.002"]["has_page"] is True  # still the bundled page
    assert kb.graph.number_of_nodes() == 279


def test_no_source_means_the_bundled_vault(bundled_kb):
    assert len(bundled_kb) == 278
    assert bundled_kb.sources[0]["kind"] == "vault"


def test_vault_variants_load_with_the_right_relationships():
    """atlas/ prefixes and slug-only paths, Tactic before Technique, sentences between a
    heading and its list, case studies as ### headings, 'May 13, 2021' dates."""
    kb = atlaskb.load(str(FIXTURES / "vault_v2"))
    g = kb.graph
    assert set(g.successors("AML.M0006")) == {"AML.T0043", "AML.T0043.002", "AML.T0015"}
    assert g.edges["AML.T0043.002", "AML.T0043", "subtechnique-of"]
    assert g.edges["AML.T0015", "AML.TA0004", "achieves"]  # tactic linked by name only
    uses = {v: d["steps"] for _, v, k, d in g.out_edges("AML.CS0001", keys=True, data=True) if k == "uses"}
    assert uses == {
        "AML.T0043.002": [{"step": 1, "tactic": "AML.TA0001"}],
        "AML.T0015": [{"step": 2, "tactic": "AML.TA0004"}],
        "AML.T0043": [{"step": 3, "tactic": "AML.TA0001"}],
    }
    assert g.nodes["AML.T0043"]["created"] == "2021-05-13"
    assert g.nodes["AML.T0043"]["maturity"] == "realized"
    # A mention inside the description is prose, not a relationship.
    assert not g.has_edge("AML.T0043", "AML.T0015")
    assert g.nodes["AML.T0042"]["has_page"] is False
    assert "initial-access/initial-access.md" not in {g.nodes[n]["file"] for n in g}


def test_relationships_listed_on_either_side_are_merged():
    kb = atlaskb.load(str(FIXTURES / "vault_v2"))
    # AML.T0015's page does not list AML.M0006; the mitigation's page does.
    assert kb.graph.has_edge("AML.M0006", "AML.T0015", key="mitigates")


def test_subtechnique_tactics_come_from_the_parent(bundled_kb):
    from atlaskb import queries

    assert queries.tactics_of(bundled_kb, "AML.T0043.002") == ["AML.TA0001"]
    assert not any(k == "achieves" for _, _, k in bundled_kb.graph.out_edges("AML.T0043.002", keys=True))


def test_missing_source_is_a_usage_error():
    code, out, err = run_cli("--source", "/nonexistent/vault", "export", "json")
    assert code == 2
    assert "source not found: /nonexistent/vault" in err
    assert "Traceback" not in err


def test_case_study_variant_with_summary_section_and_attack_procedure():
    """Another real vault version: the description under `## Summary`, steps under
    `## Attack Procedure`, slug-only link paths, a step table that repeats the steps."""
    kb = atlaskb.load(str(FIXTURES / "vault_v3"))
    g = kb.graph
    cs = g.nodes["AML.CS0005"]
    assert cs["description"].startswith("Fixture prose: researchers copied")
    assert (cs["incident_date"], cs["target"], cs["case_study_type"]) == ("2020", "Fixture translation services", "exercise")
    uses = {v: d["steps"] for _, v, k, d in g.out_edges("AML.CS0005", keys=True, data=True) if k == "uses"}
    assert uses == {"AML.T0043.002": [{"step": 1, "tactic": "AML.TA0001"}],
                    "AML.T0015": [{"step": 2, "tactic": "AML.TA0011"}]}
    assert g.edges["AML.T0043.002", "AML.T0043", "subtechnique-of"]["inferred"] is True
