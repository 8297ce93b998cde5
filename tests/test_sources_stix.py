"""The STIX 2.1 bundle reader (atlaskb.sources.stix): MITRE's shape, its published
defects, files that are not usable bundles, and arbitrary property values that must never
make the reader, or what is built on it, raise."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import atlaskb
from atlaskb.sources import detect_kind
from atlaskb.sources.stix import read_stix
from conftest import run_cli, run_cli_process, uses_bundle
from stix_support import (
    T_SEARCH,
    T_API,
    M_LIMIT,
    STAMP,
    ext,
    rel,
    mitre_objects,
    write_bundle,
    codes,
    edge_set,
)


# -- reading MITRE's shape -----------------------------------------------------------------

def test_mitre_shaped_bundle_loads(tmp_path):
    path = write_bundle(tmp_path / "stix-atlas.json", mitre_objects())
    assert detect_kind(str(path)) == "stix"
    kb = atlaskb.load(str(path))
    assert kb.findings == []
    g = kb.graph
    assert {n: g.nodes[n]["type"] for n in g} == {
        "AML.TA0002": "tactic", "AML.TA0000": "tactic", "AML.T0000": "technique",
        "AML.T0000.000": "technique", "AML.T0040": "technique", "AML.M0000": "mitigation"}
    assert g.nodes["AML.T0040"]["name"] == "AI Model Inference API Access"
    assert g.nodes["AML.T0000"]["created"] == "2025-10-14"
    assert g.has_edge("AML.T0000.000", "AML.T0000", key="subtechnique-of")
    assert not g.edges["AML.T0000.000", "AML.T0000", "subtechnique-of"].get("inferred")
    assert g.has_edge("AML.T0040", "AML.TA0000", key="achieves")
    # The sub-technique's repeated phase is what the bundle states, so it is kept.
    assert g.has_edge("AML.T0000.000", "AML.TA0002", key="achieves")
    note = g.edges["AML.M0000", "AML.T0000", "mitigates"]["note"]
    assert note == "Keep public research apart from the production training data."
    # Kill-chain order comes from the matrix's tactic_refs.
    from atlaskb.queries import tactics
    assert tactics(kb) == ["AML.TA0002", "AML.TA0000"]


def test_queries_work_on_a_stix_source(tmp_path):
    path = write_bundle(tmp_path / "b.json", mitre_objects())
    code, out, err = run_cli("--source", str(path), "export", "json")
    assert code == 0, err
    edges = {(e["source"], e["type"], e["target"]) for e in json.loads(out)["edges"]}
    assert ("AML.M0000", "mitigates", "AML.T0000.000") in edges


# -- published defects ------------------------------------------------------------------------

def test_identical_repeated_object_is_reported_once_and_changes_nothing(tmp_path):
    objects = mitre_objects()
    objects.append(dict(objects[4]))  # AML.T0040 twice, byte for byte
    kb = atlaskb.load(str(write_bundle(tmp_path / "b.json", objects)))
    assert codes(kb.findings) == ["repeated-id"]
    assert "AML.T0040" in kb.findings[0].message or T_API in kb.findings[0].message
    assert kb.findings[0].level == "warning"
    assert len(kb) == 6


def test_repeated_object_with_newer_version_wins(tmp_path):
    objects = mitre_objects()
    newer = dict(objects[4], name="AI Model Inference API Access (renamed)", modified="2026-01-01T00:00:00Z")
    objects.insert(0, newer)  # the newer version comes first in the file: still wins
    kb = atlaskb.load(str(write_bundle(tmp_path / "b.json", objects)))
    assert kb.graph.nodes["AML.T0040"]["name"] == "AI Model Inference API Access (renamed)"
    assert codes(kb.findings) == ["repeated-id"]
    assert "different content" in kb.findings[0].message


def test_relationship_id_reused_for_two_links_keeps_both(tmp_path):
    objects = mitre_objects()
    clash = rel("00000000-0000-4000-8000-000000000002", "mitigates", M_LIMIT, T_API, "Reused ID.")
    objects.append(clash)
    kb = atlaskb.load(str(write_bundle(tmp_path / "b.json", objects)))
    assert edge_set(kb, "mitigates") == {("AML.M0000", "AML.T0000", "mitigates"),
                                         ("AML.M0000", "AML.T0000.000", "mitigates"),
                                         ("AML.M0000", "AML.T0040", "mitigates")}
    assert codes(kb.findings) == ["repeated-id"]


def test_dangling_reference_is_reported_with_line_and_other_links_survive(tmp_path):
    objects = mitre_objects()
    missing = "attack-pattern--deadbeef-0000-4000-8000-000000000000"
    objects.append(rel("00000000-0000-4000-8000-0000000000ff", "mitigates", M_LIMIT, missing, "Gone."))
    path = write_bundle(tmp_path / "b.json", objects, indent=2)
    kb = atlaskb.load(str(path))
    [finding] = [f for f in kb.findings if f.code == "dangling-ref"]
    assert finding.level == "error"
    assert missing in finding.message and "AML.M0000" in finding.message
    lines = path.read_text().splitlines()
    # The finding points at the line where the relationship object starts.
    assert lines[finding.line - 1].strip() == "{"
    assert "0000000000ff" in lines[finding.line + 2]
    assert len(edge_set(kb, "mitigates")) == 2


def test_dangling_kill_chain_phase_is_reported(tmp_path):
    objects = mitre_objects()
    objects[4]["kill_chain_phases"].append({"kill_chain_name": "mitre-atlas", "phase_name": "ml-model-access"})
    kb = atlaskb.load(str(write_bundle(tmp_path / "b.json", objects)))
    [finding] = kb.findings
    assert finding.code == "dangling-phase" and "ml-model-access" in finding.message
    assert edge_set(kb, "achieves") >= {("AML.T0040", "AML.TA0000", "achieves")}


def test_attack_objects_in_a_combined_bundle_are_summarised_not_dropped_silently(tmp_path):
    objects = mitre_objects()
    attack = {"type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--a1", "name": "Phishing",
              "created": STAMP, "modified": STAMP,
              "external_references": [{"source_name": "mitre-attack", "external_id": "T1566"}]}
    objects += [attack, rel("00000000-0000-4000-8000-0000000000aa", "mitigates", M_LIMIT, "attack-pattern--a1")]
    kb = atlaskb.load(str(write_bundle(tmp_path / "b.json", objects)))
    assert codes(kb.findings) == ["not-atlas", "not-atlas-link"]
    assert all(f.level == "warning" for f in kb.findings)
    assert "1 mitigates relationship" in [f for f in kb.findings if f.code == "not-atlas-link"][0].message


def test_unsupported_relationship_type_is_reported(tmp_path):
    objects = mitre_objects() + [rel("00000000-0000-4000-8000-0000000000bb", "related-to", T_API, T_SEARCH)]
    kb = atlaskb.load(str(write_bundle(tmp_path / "b.json", objects)))
    assert codes(kb.findings) == ["unsupported-relationship"]


def test_wrongly_typed_relationship_is_reported_by_the_graph_builder(tmp_path):
    objects = mitre_objects() + [rel("00000000-0000-4000-8000-0000000000cc", "mitigates", T_API, T_SEARCH)]
    kb = atlaskb.load(str(write_bundle(tmp_path / "b.json", objects)))
    assert codes(kb.findings) == ["wrong-link-type"]


def test_report_case_study_links_its_techniques(tmp_path):
    objects = mitre_objects() + [{
        "type": "report", "spec_version": "2.1", "id": "report--1", "name": "A case", "created": STAMP,
        "modified": STAMP, "published": STAMP, "external_references": ext("AML.CS0000", "studies"),
        "object_refs": [T_API, "attack-pattern--missing"]}]
    kb = atlaskb.load(str(write_bundle(tmp_path / "b.json", objects)))
    assert kb.graph.nodes["AML.CS0000"]["type"] == "case-study"
    assert kb.graph.has_edge("AML.CS0000", "AML.T0040", key="uses")
    assert codes(kb.findings) == ["dangling-ref"]


# -- files that are not usable bundles -----------------------------------------------------------

@pytest.mark.parametrize("content, code, line", [
    (b'{"type": "bundle",\n "id": "bundle--1",\n "objects": [\n  {"type": "attack-pattern",,}\n]}', "bad-json", 4),
    (b'{"type": "bundle", "objects": [', "bad-json", 1),
    (b'[{"type": "bundle"}]', "bad-stix", 1),
    (b'{"type": "bundle", "spec_version": "2.1", "objects": {}}', "bad-stix", 1),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not-text", 1),
    (b"   \n", "empty-file", 1),
])
def test_unusable_files_become_findings(tmp_path, content, code, line):
    path = tmp_path / "bundle.json"
    path.write_bytes(content)
    result = read_stix(str(path))
    assert [(f.code, f.line) for f in result.findings] == [(code, line)]
    assert result.objects == [] and result.links == []
    assert result.findings[0].file == str(path)


def test_huge_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    import atlaskb.sources.stix as stix_module

    monkeypatch.setattr(stix_module, "MAX_DATA_BYTES", 1000)
    path = write_bundle(tmp_path / "big.json", mitre_objects())
    result = read_stix(str(path))
    assert codes(result.findings) == ["too-large"]


def test_deeply_nested_json_is_a_finding(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"type": "bundle", "objects": [' + "[" * 100000 + "]" * 100000 + "]}")
    result = read_stix(str(path))
    assert codes(result.findings) == ["bad-json"]


def test_broken_bundle_on_the_command_line_never_shows_a_traceback(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"type": "bundle", "id": "bundle--1", "objects": [{"type": "x-mitre-tactic"', encoding="utf-8")
    code, out, err = run_cli_process("--source", str(path), "lint")
    assert code == 1
    assert "Traceback" not in err + out
    assert f"{path}:1: error: [bad-json]" in out


def test_import_stix_refuses_a_binary_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(range(256)) * 4)
    code, out, err = run_cli("import", "stix", str(path), "--out", str(tmp_path / "vault"))
    assert code == 2
    assert "not a STIX bundle" in err
    assert not (tmp_path / "vault").exists()


# -- no input makes the reader (or what is built on it) raise ---------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=8)
    | st.sampled_from(["reconnaissance", "AML.T0000", "AML.TA0002", T_SEARCH, M_LIMIT, "mitre-atlas"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["step", "tactic", "external_id", "source_name", "phase_name", "kill_chain_name", "id"]),
        inner, max_size=3),
    max_leaves=6)
_fields = st.sampled_from([
    "type", "id", "name", "description", "created", "modified", "external_references", "kill_chain_phases",
    "x_mitre_shortname", "source_ref", "target_ref", "relationship_type", "tactic_refs", "object_refs",
    "x_atlaskb_order", "x_atlaskb_steps", "x_atlaskb_procedure", "x_atlaskb_has_page", "x_atlaskb_type",
    "x_atlaskb_category", "x_atlaskb_maturity"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10), _fields, _json_values), min_size=1, max_size=4))
def test_arbitrary_property_values_never_raise(tmp_path, edits):
    from atlaskb.export.navigator import layer
    from atlaskb.export.stix import to_json
    from atlaskb.export.tables import to_csv, to_graphml
    from atlaskb.kb import build

    objects = mitre_objects()
    for index, field, value in edits:
        objects[index][field] = value
    path = write_bundle(tmp_path / "fuzz.json", objects)
    kb = build([read_stix(str(path))])
    for score in ("case-studies", "mitigations"):
        layer(kb, score)
    to_json(kb)
    to_csv(kb, "edges")
    to_graphml(kb)


def test_a_step_tactic_that_is_not_an_id_makes_no_object(tmp_path):
    """A step's tactic that is not an ATLAS ID (`{step: 1, tactic: "lol"}`) is reported and
    left out; it never becomes an object of no type, and the uses link stays."""
    path = tmp_path / "b.json"
    path.write_text(json.dumps(uses_bundle([{"step": 1, "tactic": "lol"}])), encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert set(kb.graph.nodes) == {"AML.T0001", "AML.CS0001"}
    assert kb.graph.edges["AML.CS0001", "AML.T0001", "uses"]["steps"] == [{"step": 1, "tactic": None}]
    assert any("'lol'" in f.message for f in kb.findings)


# -- a `uses` relationship whose step list is unusable is still a link --------------------

@pytest.mark.parametrize("steps", [["not a step"], [{"step": "one"}]])
def test_stix_uses_link_with_bad_steps_is_kept(tmp_path, steps):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(uses_bundle(steps)), encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert kb.graph.has_edge("AML.CS0001", "AML.T0001", key="uses")
    assert any(f.code == "bad-property" for f in kb.findings)
