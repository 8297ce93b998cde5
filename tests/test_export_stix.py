"""`atlaskb export stix` (atlaskb.export.stix): a release and the bundled vault round-trip
through a bundle; the bundle is valid STIX and fits MITRE's tools (phases, collection,
cross-references, content-derived IDs)."""

from __future__ import annotations

import json

import pytest

import atlaskb
from conftest import run_cli
from stix_support import M_LIMIT, rel, mitre_objects, write_bundle, edge_set


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


# -- fit with MITRE's tools (mitreattack-python, stix2) -----------------------------------


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
