"""`site.matrix_data`: what the matrix page's script reads (matrix-data.js) comes from the
library's rules: coverage, tactics, mitigation links, evidence statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from site_support import make_evidence_dir

from atlaskb import coverage, queries
from atlaskb.site import build_site


def _matrix_data(out: Path) -> dict:
    text = (out / "matrix-data.js").read_text(encoding="utf-8")
    return json.loads(text.split(" = ", 1)[1].rstrip().rstrip(";"))


def test_matrix_data_comes_from_the_coverage_code(tmp_path, bundled_kb):
    from atlaskb import queries
    from atlaskb.export.navigator import layer

    out = tmp_path / "site"
    build_site(bundled_kb, str(out), have=["AML.M0006"])
    text = (out / "matrix-data.js").read_text(encoding="utf-8")
    assert text.isascii() and "<" not in text
    data = json.loads(text.split(" = ", 1)[1].rstrip().rstrip(";"))
    assert data["initial"] == {"have": ["AML.M0006"], "strength": {}}
    assert [t["id"] for t in data["techniques"]] == bundled_kb.nodes_of_type("technique")
    for t in data["techniques"]:
        assert t["weight"] == coverage.technique_weight(bundled_kb, t["id"])
        assert t["tactics"] == queries.tactics_of(bundled_kb, t["id"])
    m6 = next(m for m in data["mitigations"] if m["id"] == "AML.M0006")
    assert m6["techniques"] == [r["id"] for r in queries.techniques_for(bundled_kb, "AML.M0006")]
    assert json.loads(data["layer"]) == layer(bundled_kb, "coverage", [])
    assert data["evidence"] is None


@pytest.mark.parametrize("verdict, status", [("better", "supported"), ("worse", "contradicted"),
                                             ("no clear difference", "not supported"), (None, "measured")])
def test_matrix_evidence_statuses_are_linkstatus_statuses(tmp_path, monkeypatch, verdict, status):
    """The evidence toggle's status of a link is `atlaskb.linkstatus`'s; rows without a
    paired verdict are "measured"; links the defense declares it cannot measure are
    "not measured here", the others without results "unmeasured"."""
    import atlaskb.defenses
    from atlaskb import linkstatus

    declared = [{"mitigation": "AML.M0006", "techniques": [], "description": "",
                 "not_measured": [{"technique": "AML.T0015", "reason": "needs a camera"}]}]
    monkeypatch.setattr(atlaskb.defenses, "list_mitigations", lambda kb=None: declared)
    folder = make_evidence_dir(tmp_path / "ev")
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    if verdict is not None:
        results["results"][0]["verdict"] = verdict
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), evidence_dir=str(folder))
    data = _matrix_data(out)
    m6 = next(m for m in data["mitigations"] if m["id"] == "AML.M0006")
    statuses = dict(zip(m6["techniques"], m6["status"]))
    assert statuses.pop("AML.T0043.002") == status
    if verdict is not None:
        assert status == linkstatus.link_status(results["results"]).status
    assert statuses.pop("AML.T0015") == linkstatus.NOT_MEASURED_HERE
    assert set(statuses.values()) == {linkstatus.UNMEASURED}
    others = {s for m in data["mitigations"] if m["id"] != "AML.M0006" for s in m["status"]}
    assert others <= {linkstatus.UNMEASURED, linkstatus.NOT_MEASURED_HERE}
    assert data["evidence"]["best_first"][0] == linkstatus.SUPPORTED

