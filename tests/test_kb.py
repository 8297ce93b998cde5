"""The Python API as a script uses it (compared with mitreattack-python's MitreAttackData):
lookups in any case and by STIX ID, tactics by shortname or name, clear errors for an
unknown ID or an object of the wrong kind, listings of objects, date and deprecation
filters."""

from __future__ import annotations

import datetime as dt

import pytest

from atlaskb import queries
from atlaskb.errors import NotFound


def test_get_takes_any_case_a_short_id_and_our_stix_id(bundled_kb):
    from atlaskb.export.stix import to_bundle

    assert bundled_kb.get("aml.t0043.002")["id"] == "AML.T0043.002"
    assert bundled_kb.get("T0043.002")["name"] == "Black-Box Transfer"
    assert bundled_kb.get("AML.T9999") is None and bundled_kb.get("") is None
    for obj in to_bundle(bundled_kb)["objects"]:
        if obj["type"] in ("attack-pattern", "course-of-action", "x-mitre-tactic", "campaign"):
            assert bundled_kb.get(obj["id"])["id"] == obj["external_references"][0]["external_id"]


def test_techniques_of_tactic_by_id_shortname_or_name(bundled_kb):
    expected = queries.techniques_of_tactic(bundled_kb, "AML.TA0001")
    assert expected
    for key in ("aml.ta0001", "ai-attack-staging", "AI Attack Staging", "ai attack staging"):
        assert queries.techniques_of_tactic(bundled_kb, key) == expected


@pytest.mark.parametrize("call, arg, message", [
    (queries.mitigations_for, "AML.M0003", "AML.M0003 is a mitigation, not a technique"),
    (queries.techniques_for, "AML.T0043", "AML.T0043 is a technique, not a mitigation"),
    (queries.tactics_of, "AML.T9999", "no object matches 'AML.T9999'"),
    (queries.techniques_of_tactic, "nowhere", "no object matches 'nowhere'"),
    (queries.case_studies_for, "AML.TA0001", "is a tactic, not a technique"),
    (queries.parent, "AML.CS0000", "is a case-study, not a technique"),
])
def test_questions_about_the_wrong_object_raise_a_clear_error(bundled_kb, call, arg, message):
    with pytest.raises(NotFound, match=message):
        call(bundled_kb, arg)


def test_queries_take_ids_in_any_case(bundled_kb):
    assert queries.mitigations_for(bundled_kb, "aml.t0043.002") == queries.mitigations_for(bundled_kb, "AML.T0043.002")


def test_listings_give_ids_or_objects_with_filters(bundled_kb):
    ids = bundled_kb.techniques()
    assert ids == bundled_kb.nodes_of_type("technique") and len(ids) == 170
    objects = bundled_kb.techniques(objects=True)
    assert [o["id"] for o in objects] == ids and all(o["name"] for o in objects)
    assert bundled_kb.tactics() == queries.tactics(bundled_kb)
    recent = bundled_kb.techniques(modified_after="2025-06-01")
    assert recent and all(bundled_kb.get(t)["modified"] > "2025-06-01" for t in recent)
    assert bundled_kb.techniques(modified_after=dt.date(2025, 6, 1)) == recent
    assert set(bundled_kb.mitigations(created_after="2024-01-01")) < set(bundled_kb.mitigations())
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        bundled_kb.techniques(created_after="last week")


def test_deprecated_objects_can_be_left_out(tmp_path):
    import json

    import atlaskb

    bundle = {"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "attack-pattern", "id": "attack-pattern--1", "name": "Old", "spec_version": "2.1",
         "created": "2021-01-01T00:00:00.000Z", "modified": "2021-01-01T00:00:00.000Z", "revoked": True,
         "external_references": [{"source_name": "mitre-atlas", "external_id": "AML.T0001"}]},
        {"type": "attack-pattern", "id": "attack-pattern--2", "name": "Live", "spec_version": "2.1",
         "created": "2021-01-01T00:00:00.000Z", "modified": "2021-01-01T00:00:00.000Z",
         "external_references": [{"source_name": "mitre-atlas", "external_id": "AML.T0002"}]}]}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert kb.techniques() == ["AML.T0001", "AML.T0002"]
    assert kb.techniques(remove_deprecated=True) == ["AML.T0002"]
