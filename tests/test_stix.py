"""STIX 2.1 bundles: MITRE's shape, its published defects, broken files, and the round
trip through `export stix`."""

from __future__ import annotations

import json

import pytest

import atlaskb
from atlaskb.sources import detect_kind
from atlaskb.sources.stix import read_stix
from conftest import run_cli, run_cli_process, uses_bundle

# -- a small bundle shaped like MITRE's stix-atlas.json ---------------------------------

TACTIC_RECON = "x-mitre-tactic--044fbb79-dd83-40e9-abe0-f78e23325e92"
TACTIC_ACCESS = "x-mitre-tactic--752d1bc1-97de-477d-bf60-1d6eef797fa8"
T_SEARCH = "attack-pattern--8ed6d88d-79c6-48f5-a863-3d960d9a192c"
T_JOURNALS = "attack-pattern--3a2ba42c-5cc6-4d9c-b4b0-c2d5c5a6b1f1"
T_API = "attack-pattern--90a420d4-3f03-4800-86c0-223c4376804a"
M_LIMIT = "course-of-action--40076545-e797-4508-a294-943096a12111"
STAMP = "2025-10-14T17:11:05.532738Z"


def ext(atlas_id, route="techniques"):
    return [{"source_name": "mitre-atlas", "url": f"https://atlas.mitre.org/{route}/{atlas_id}",
             "external_id": atlas_id}]


def tactic(sid, atlas_id, name, short):
    return {"type": "x-mitre-tactic", "spec_version": "2.1", "id": sid, "created": STAMP, "modified": STAMP,
            "name": name, "description": f"{name} tactic.", "external_references": ext(atlas_id, "tactics"),
            "x_mitre_shortname": short}


def technique(sid, atlas_id, name, phases, sub=False):
    obj = {"type": "attack-pattern", "spec_version": "2.1", "id": sid, "created": STAMP, "modified": STAMP,
           "name": name, "description": f"{name} technique.",
           "kill_chain_phases": [{"kill_chain_name": "mitre-atlas", "phase_name": p} for p in phases],
           "external_references": ext(atlas_id), "x_mitre_platforms": ["ATLAS"]}
    if sub:
        obj["x_mitre_is_subtechnique"] = True
    return obj


def rel(rid, rel_type, src, dst, description=None):
    obj = {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{rid}", "created": STAMP,
           "modified": STAMP, "relationship_type": rel_type, "source_ref": src, "target_ref": dst}
    if description:
        obj["description"] = description
    return obj


def mitre_objects():
    return [
        tactic(TACTIC_RECON, "AML.TA0002", "Reconnaissance", "reconnaissance"),
        tactic(TACTIC_ACCESS, "AML.TA0000", "AI Model Access", "ai-model-access"),
        technique(T_SEARCH, "AML.T0000", "Search Open Technical Databases", ["reconnaissance"]),
        # MITRE repeats the parent's phase on each sub-technique.
        technique(T_JOURNALS, "AML.T0000.000", "Journals and Conference Proceedings", ["reconnaissance"], sub=True),
        technique(T_API, "AML.T0040", "AI Model Inference API Access", ["ai-model-access"]),
        {"type": "course-of-action", "spec_version": "2.1", "id": M_LIMIT, "created": STAMP, "modified": STAMP,
         "name": "Limit Public Release of Information", "description": "Limit what is published.",
         "external_references": ext("AML.M0000", "mitigations")},
        rel("00000000-0000-4000-8000-000000000001", "subtechnique-of", T_JOURNALS, T_SEARCH),
        rel("00000000-0000-4000-8000-000000000002", "mitigates", M_LIMIT, T_SEARCH,
            "Keep public research apart from the production training data.\n"),
        rel("00000000-0000-4000-8000-000000000003", "mitigates", M_LIMIT, T_JOURNALS, "Limit published papers.\n"),
        {"type": "x-mitre-matrix", "spec_version": "2.1", "id": "x-mitre-matrix--2fba01bd-a376-4771-bb35-71eca685a9fb",
         "created": STAMP, "modified": STAMP, "name": "ATLAS Matrix", "external_references": ext("mitre-atlas"),
         "tactic_refs": [TACTIC_RECON, TACTIC_ACCESS]},
        {"type": "x-mitre-collection", "spec_version": "2.1", "id": "x-mitre-collection--0b2f2b5b-0ab8-4a4b-9a0d-5f2f0b0c0d0e",
         "name": "ATLAS", "x_mitre_contents": [{"object_ref": TACTIC_RECON, "object_modified": STAMP}]},
    ]


def write_bundle(path, objects, indent=None):
    """MITRE publishes the bundle on one line; `indent` gives a multi-line one."""
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--b83aa1f9-4d7d-4da1-9672-372b06239bf3",
                                "objects": objects}, indent=indent), encoding="utf-8")
    return path


def codes(findings):
    return sorted(f.code for f in findings)


def edge_set(kb, kind=None):
    return {(u, v, k) for u, v, k in kb.graph.edges(keys=True) if kind is None or k == kind}


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


# -- round trip ---------------------------------------------------------------------------------

COMPARED_EDGES = ("mitigates", "subtechnique-of", "achieves", "uses")


def assert_same_graph(a, b):
    assert set(a.graph.nodes) == set(b.graph.nodes)
    for kind in COMPARED_EDGES:
        assert edge_set(a, kind) == edge_set(b, kind), kind
    for n, data in a.graph.nodes(data=True):
        other = b.graph.nodes[n]
        for key in set(data) | set(other):
            if key not in ("file", "line", "shortname"):
                assert data.get(key) == other.get(key), (n, key)
    for u, v, k, data in a.graph.edges(keys=True, data=True):
        other = b.graph.edges[u, v, k]
        for key in ("note", "steps", "step"):
            assert data.get(key) == other.get(key), (u, v, k, key)


def test_release_round_trips_through_stix(atlas_yaml_56, tmp_path):
    out = tmp_path / "atlas.json"
    code, _, err = run_cli("--source", str(atlas_yaml_56), "export", "stix", "--out", str(out))
    assert code == 0, err
    original = atlaskb.load(str(atlas_yaml_56))
    reloaded = atlaskb.load(str(out))
    assert reloaded.findings == []
    assert_same_graph(original, reloaded)
    # Deterministic: exporting the reloaded graph gives the same bytes.
    code, again, _ = run_cli("--source", str(out), "export", "stix")
    assert again == out.read_text(encoding="utf-8")


def test_stix_export_is_valid_shape(bundled_kb):
    from atlaskb.export.stix import to_bundle

    bundle = to_bundle(bundled_kb)
    ids = [o["id"] for o in bundle["objects"]]
    assert len(ids) == len(set(ids))
    known = set(ids)
    by_type = {}
    for obj in bundle["objects"]:
        by_type[obj["type"]] = by_type.get(obj["type"], 0) + 1
        assert obj["spec_version"] == "2.1"
        assert obj["created"] <= obj["modified"]
        if obj["type"] == "relationship":
            assert obj["source_ref"] in known and obj["target_ref"] in known
    assert by_type["x-mitre-tactic"] == 16
    assert by_type["attack-pattern"] == 170
    assert by_type["course-of-action"] == 35
    assert by_type["campaign"] == 57
    # IDs are UUIDv5 of the ATLAS ID and the text's origin: stable from run to run and
    # machine to machine; the bundled vault's own summaries are not MITRE's text.
    from atlaskb.export.stix import stix_id
    assert stix_id("attack-pattern", "AML.T0000", "vault") in known
    assert stix_id("attack-pattern", "AML.T0000") not in known


def test_import_stix_writes_a_vault_that_loads_the_same(bundled_kb, tmp_path):
    bundle = tmp_path / "atlas.json"
    code, _, err = run_cli("export", "stix", "--out", str(bundle))
    assert code == 0, err
    vault = tmp_path / "vault"
    code, _, err = run_cli("import", "stix", str(bundle), "--out", str(vault))
    assert code == 0, err
    assert "wrote 278 pages" in err
    assert_same_graph(atlaskb.load(str(bundle)), atlaskb.load(str(vault)))


def test_import_stix_reports_defects_and_imports_the_rest(tmp_path):
    objects = mitre_objects()
    objects.append(dict(objects[4]))
    objects.append(rel("00000000-0000-4000-8000-0000000000ff", "mitigates", M_LIMIT, "attack-pattern--gone"))
    path = write_bundle(tmp_path / "b.json", objects)
    code, _, err = run_cli("import", "stix", str(path), "--out", str(tmp_path / "vault"))
    assert code == 0
    assert "[repeated-id]" in err and "[dangling-ref]" in err
    kb = atlaskb.load(str(tmp_path / "vault"))
    assert kb.graph.has_edge("AML.M0000", "AML.T0000.000", key="mitigates")


# -- no input makes the reader (or what is built on it) raise ---------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

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
    """Review: `x_atlaskb_steps: [{step: 1, tactic: "lol"}]` made an object "lol" of no type,
    silently. Now it is reported; the uses link stays, without that tactic."""
    import json as _json

    import atlaskb

    ext = lambda i: [{"source_name": "mitre-atlas", "external_id": i}]  # noqa: E731
    bundle = {"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "attack-pattern", "id": "attack-pattern--1", "name": "Tech", "external_references": ext("AML.T0001")},
        {"type": "campaign", "id": "campaign--1", "name": "Study", "external_references": ext("AML.CS0001")},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "uses", "source_ref": "campaign--1",
         "target_ref": "attack-pattern--1", "x_atlaskb_steps": [{"step": 1, "tactic": "lol"}]}]}
    path = tmp_path / "b.json"
    path.write_text(_json.dumps(bundle), encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert set(kb.graph.nodes) == {"AML.T0001", "AML.CS0001"}
    assert kb.graph.edges["AML.CS0001", "AML.T0001", "uses"]["steps"] == [{"step": 1, "tactic": None}]
    assert any("'lol'" in f.message for f in kb.findings)


# -- fit with MITRE's tools (issue 15) ----------------------------------------------------


@pytest.fixture
def release_bundle(atlas_yaml_56, tmp_path):
    out = tmp_path / "atlas.json"
    code, _, err = run_cli("--source", str(atlas_yaml_56), "export", "stix", "--out", str(out))
    assert code == 0, err
    return out, json.loads(out.read_text(encoding="utf-8"))


def test_subtechniques_carry_their_parents_phases(release_bundle):
    """The Navigator builds its matrix from kill_chain_phases; a phase filter must find
    sub-techniques too (MITRE's bundle: 17 techniques under ai-attack-staging)."""
    _, bundle = release_bundle
    objects = {o["id"]: o for o in bundle["objects"]}
    subs = {r["source_ref"]: r["target_ref"] for r in bundle["objects"]
            if r["type"] == "relationship" and r["relationship_type"] == "subtechnique-of"}
    assert len(subs) == 69
    for sub, parent in subs.items():
        assert objects[sub]["kill_chain_phases"] == objects[parent]["kill_chain_phases"], objects[sub]["name"]
    patterns = [o for o in bundle["objects"] if o["type"] == "attack-pattern"]
    assert all(o.get("kill_chain_phases") for o in patterns)
    staging = [o for o in patterns if {"kill_chain_name": "mitre-atlas", "phase_name": "ai-attack-staging"}
               in o["kill_chain_phases"]]
    assert len(staging) == 17


def test_collection_lists_every_object_at_its_version(release_bundle):
    _, bundle = release_bundle
    collections = [o for o in bundle["objects"] if o["type"] == "x-mitre-collection"]
    assert len(collections) == 1
    collection = collections[0]
    assert collection["x_mitre_version"] == "5.6.0"
    contents = {c["object_ref"]: c["object_modified"] for c in collection["x_mitre_contents"]}
    others = [o for o in bundle["objects"] if o is not collection]
    assert contents == {o["id"]: o["modified"] for o in others}


def test_attack_cross_reference_is_not_mistaken_for_the_objects_own_id(release_bundle):
    _, bundle = release_bundle
    refs = [r for o in bundle["objects"] for r in o.get("external_references", [])]
    assert not [r for r in refs if r["source_name"] == "mitre-attack"]
    xrefs = [r for r in refs if r["source_name"] == "attack-cross-reference"]
    assert len(xrefs) >= 53 and all(r["external_id"].startswith(("T", "M", "TA")) for r in xrefs)
    technique = next(o for o in bundle["objects"] if o.get("name") == "Search Open Technical Databases")
    assert technique["external_references"][0]["external_id"].startswith("AML.T")


def test_campaigns_are_dated_by_their_incident(release_bundle):
    _, bundle = release_bundle
    campaign = next(o for o in bundle["objects"] if o["type"] == "campaign"
                    and o["external_references"][0]["external_id"] == "AML.CS0000")
    assert campaign["first_seen"] == "2020-01-01T00:00:00.000Z"
    assert campaign["created"] == campaign["first_seen"]
    assert not [o for o in bundle["objects"] if o["type"] == "campaign" and o["created"].startswith("1970")]


def test_bundle_id_follows_the_content(release_bundle, atlas_yaml_54, tmp_path):
    path, bundle = release_bundle
    older = tmp_path / "older.json"
    code, _, err = run_cli("--source", str(atlas_yaml_54), "export", "stix", "--out", str(older))
    assert code == 0, err
    assert json.loads(older.read_text(encoding="utf-8"))["id"] != bundle["id"]
    code, _, err = run_cli("--source", str(path), "export", "stix", "--out", str(tmp_path / "same.json"))
    assert code == 0, err
    assert json.loads((tmp_path / "same.json").read_text(encoding="utf-8"))["id"] == bundle["id"]


def test_vault_and_release_exports_do_not_share_ids_for_different_text(release_bundle, bundled_kb):
    from atlaskb.export.stix import to_bundle

    _, release = release_bundle
    vault = to_bundle(bundled_kb)
    ids = lambda b: {o["id"]: o for o in b["objects"] if o["type"] in ("attack-pattern", "course-of-action")}  # noqa: E731
    shared = set(ids(release)) & set(ids(vault))
    assert not shared
    assert vault["objects"][-1]["x_atlaskb_text_origin"] == "vault"


def test_release_export_is_valid_stix(release_bundle):
    """What stix2-validator (OASIS) says, where it is installed (the `test` extra)."""
    validator = pytest.importorskip("stix2validator")
    path, _ = release_bundle
    result = validator.validate_file(str(path), validator.ValidationOptions())
    assert result.is_valid, [str(e) for o in result.object_results for e in o.errors]


# -- a `uses` relationship whose step list is unusable is still a link --------------------

@pytest.mark.parametrize("steps", [["not a step"], [{"step": "one"}]])
def test_stix_uses_link_with_bad_steps_is_kept(tmp_path, steps):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(uses_bundle(steps)), encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert kb.graph.has_edge("AML.CS0001", "AML.T0001", key="uses")
    assert any(f.code == "bad-property" for f in kb.findings)
