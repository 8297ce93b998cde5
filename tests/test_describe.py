"""`atlaskb.describe`: one object with all its relationships as plain data (what `show
--format json` prints and the Python API returns), and the evidence a measured run adds
to its mitigation links."""

from __future__ import annotations

import pytest

from atlaskb import queries as q
from atlaskb.describe import PROVENANCE_FIELDS, attach_evidence, describe, with_link_status
from atlaskb.linkstatus import of_evidence


def test_a_technique_with_parent_tactics_mitigations_and_case_studies(bundled_kb):
    obj = describe(bundled_kb, "AML.T0043.002")
    assert obj["id"] == "AML.T0043.002" and obj["type"] == "technique" and obj["name"] == "Black-Box Transfer"
    assert obj["parent"] == {"id": "AML.T0043", "name": "Craft Adversarial Data"}
    assert obj["subtechniques"] == []
    assert obj["tactics"] == [{"id": "AML.TA0001", "name": "AI Attack Staging"}]  # the parent's
    assert [m["id"] for m in obj["mitigations"]] == ["AML.M0003", "AML.M0006", "AML.M0010", "AML.M0015"]
    assert all(set(m) == {"id", "name", "note"} for m in obj["mitigations"])
    assert obj["case_studies"] == q.case_studies_for(bundled_kb, "AML.T0043.002")
    assert "order" not in obj
    assert not set(PROVENANCE_FIELDS) & set(obj)
    parent = describe(bundled_kb, "AML.T0043")
    assert parent["parent"] is None and [s["id"] for s in parent["subtechniques"]][:2] == ["AML.T0043.000",
                                                                                          "AML.T0043.001"]


def test_provenance_only_on_request(bundled_kb):
    obj = describe(bundled_kb, "AML.T0043", provenance=True)
    assert obj["file"].endswith(".md") and obj["line"] >= 1 and obj["has_page"] is True


def test_a_mitigation_a_tactic_and_a_case_study(bundled_kb):
    m = describe(bundled_kb, "AML.M0003")
    assert [t["id"] for t in m["techniques"]] == [t["id"] for t in q.techniques_for(bundled_kb, "AML.M0003")]
    assert all(set(t) == {"id", "name", "note", "tactics"} for t in m["techniques"])
    tactic = describe(bundled_kb, "AML.TA0001")
    assert [t["id"] for t in tactic["techniques"]] == q.techniques_of_tactic(bundled_kb, "AML.TA0001",
                                                                             include_subtechniques=True)
    case = describe(bundled_kb, "AML.CS0000")
    firsts = [min(s["step"] for s in t["steps"]) for t in case["techniques"]]
    assert firsts == sorted(firsts) and case["techniques"]  # in procedure order


def _statuses(kb, rows):
    from atlaskb.evidence import Evidence

    evidence = Evidence()
    for row in rows:
        evidence.setdefault((row["mitigation"], row["technique"]), []).append(row)
    return of_evidence(kb, evidence)


ROW = {"mitigation": "AML.M0006", "technique": "AML.T0043.002", "attack": "transfer-fgsm",
       "metric": "robust_accuracy", "higher_is_better": True, "baseline": 0.41, "defended": 0.63,
       "ci95": {"baseline": [0.38, 0.44], "defended": [0.58, 0.68]}, "params": {},
       "difference": {"mean": 0.22, "ci95": [0.15, 0.29]}, "verdict": "better"}


def test_attach_evidence_gives_each_link_its_status_and_rows(bundled_kb):
    statuses = _statuses(bundled_kb, [ROW])
    obj = describe(bundled_kb, "AML.T0043.002")
    measured = attach_evidence(bundled_kb, obj, statuses.rows, statuses)
    assert measured == [("AML.M0006", "AML.T0043.002", ROW)]
    by_id = {m["id"]: m for m in obj["mitigations"]}
    assert by_id["AML.M0006"]["status"] == "supported" and by_id["AML.M0006"]["evidence"] == [ROW]
    assert {m["status"] for i, m in by_id.items() if i != "AML.M0006"} == {"unmeasured"}
    assert all("evidence" not in m for i, m in by_id.items() if i != "AML.M0006")
    # From the mitigation's side, the same link.
    mitigation = describe(bundled_kb, "AML.M0006")
    assert attach_evidence(bundled_kb, mitigation, statuses.rows, statuses) == measured
    # Without statuses, only the rows; a tactic has no mitigation links.
    plain = describe(bundled_kb, "AML.T0043.002")
    assert attach_evidence(bundled_kb, plain, statuses.rows) == measured
    assert all("status" not in m for m in plain["mitigations"])
    tactic = describe(bundled_kb, "AML.TA0001")
    assert attach_evidence(bundled_kb, tactic, statuses.rows, statuses) == [] and tactic == describe(
        bundled_kb, "AML.TA0001")


def test_rows_for_a_link_the_graph_lacks_are_not_attached(bundled_kb):
    stray = {**ROW, "mitigation": "AML.M0004"}
    obj = describe(bundled_kb, "AML.T0043.002")
    obj["mitigations"].append({"id": "AML.M0004", "name": "", "note": ""})  # a caller's own entry, no link
    assert attach_evidence(bundled_kb, obj, {("AML.M0004", "AML.T0043.002"): [stray]}) == []
    assert "evidence" not in obj["mitigations"][-1]


@pytest.mark.parametrize("rollup", [False, True])
def test_with_link_status_takes_a_rolled_up_rows_status_from_its_own_link(bundled_kb, rollup):
    # AML.M0004 is stated for AML.T0043, not for its sub-technique AML.T0043.002.
    statuses = _statuses(bundled_kb, [{**ROW, "mitigation": "AML.M0004", "technique": "AML.T0043"}])
    rows = with_link_status(q.mitigations_for(bundled_kb, "AML.T0043.002", rollup=rollup), "AML.T0043.002", statuses)
    by_id = {r["id"]: r for r in rows}
    assert all(r["status"] == "unmeasured" for r in rows if r["via"] is None)
    assert ("AML.M0004" in by_id) == rollup
    if rollup:
        assert by_id["AML.M0004"]["via"] == "AML.T0043" and by_id["AML.M0004"]["status"] == "supported"
