"""`atlaskb diff`: ATLAS 5.4.0 against 5.6.0, with every expectation computed from the
two YAML files directly, plus the output and exit-code contract."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import SHARED, run_cli, run_cli_process

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _release(version):
    path = SHARED / "atlas-data" / f"ATLAS-{version}.yaml"
    if not path.exists():
        pytest.skip(f"{path} not available (../shared is absent)")
    with open(path, encoding="utf-8") as fh:
        return path, yaml.load(fh, Loader=_Loader)


@pytest.fixture(scope="module")
def releases():
    return _release("5.4.0"), _release("5.6.0")


@pytest.fixture(scope="module")
def result(releases):
    (old, _), (new, _) = releases
    code, out, err = run_cli("diff", "--old", str(old), "--new", str(new), "--format", "json")
    assert code == 0, err
    return json.loads(out)


def objects(data):
    matrix = data["matrices"][0]
    found = {o["id"]: o for kind in ("tactics", "techniques", "mitigations") for o in matrix[kind]}
    found.update({c["id"]: c for c in data["case-studies"]})
    return found


def effective_tactics(data, technique_id):
    techniques = {t["id"]: t for t in data["matrices"][0]["techniques"]}
    t = techniques[technique_id]
    if t.get("tactics"):
        return sorted(t["tactics"])
    return sorted(techniques[t["subtechnique-of"]].get("tactics", [])) if "subtechnique-of" in t else []


def mitigates(data):
    return {(m["id"], t["id"]) for m in data["matrices"][0]["mitigations"] for t in m["techniques"]}


def uses(data):
    return {(c["id"], s["technique"]) for c in data["case-studies"] for s in c["procedure"]}


def test_json_contract(result):
    for key in ("added", "removed", "changed", "links_added", "links_removed", "links_changed"):
        assert isinstance(result[key], list)
        assert all(isinstance(item, dict) and item.get("id") for item in result[key])
    assert result["summary"] == {key: len(result[key]) for key in result["summary"]}


def test_added_and_removed_objects(releases, result):
    (_, old), (_, new) = releases
    old_ids, new_ids = set(objects(old)), set(objects(new))
    assert {o["id"] for o in result["added"]} == new_ids - old_ids
    assert {o["id"] for o in result["removed"]} == old_ids - new_ids
    assert result["added"], "5.6.0 adds techniques and case studies"
    for item in result["added"]:
        assert item["name"] == objects(new)[item["id"]]["name"]


def test_changed_maturity_names_and_tactics(releases, result):
    (_, old), (_, new) = releases
    before, after = objects(old), objects(new)
    changed = {c["id"]: c["changes"] for c in result["changed"]}
    both = [i for i in before if i in after]
    maturity = {i for i in both if before[i].get("maturity") != after[i].get("maturity")}
    assert maturity, "5.6.0 raises several techniques' maturity"
    for i in maturity:
        assert changed[i]["maturity"] == {"before": before[i].get("maturity"), "after": after[i].get("maturity")}
    names = {i for i in both if before[i]["name"].strip() != after[i]["name"].strip()}
    for i in names:
        assert changed[i]["name"]["after"] == after[i]["name"].strip()
    technique_ids = {t["id"] for t in new["matrices"][0]["techniques"]} & set(before)
    moved = {i for i in technique_ids if effective_tactics(old, i) != effective_tactics(new, i)}
    for i in moved:
        assert changed[i]["tactics"]["after"] == effective_tactics(new, i)
    unchanged_fields = {i for i in both if i not in changed}
    for i in unchanged_fields:
        assert before[i].get("maturity") == after[i].get("maturity")
        assert before[i]["name"].strip() == after[i]["name"].strip()
    # Every change has a before and an after that differ.
    for fields in changed.values():
        for change in fields.values():
            assert change["before"] != change["after"]


def test_links_added_and_removed(releases, result):
    (_, old), (_, new) = releases
    added = {(link["source"], link["target"]) for link in result["links_added"] if link["type"] == "mitigates"}
    removed = {(link["source"], link["target"]) for link in result["links_removed"] if link["type"] == "mitigates"}
    assert added == mitigates(new) - mitigates(old)
    assert removed == mitigates(old) - mitigates(new)
    uses_added = {(link["source"], link["target"]) for link in result["links_added"] if link["type"] == "uses"}
    uses_removed = {(link["source"], link["target"]) for link in result["links_removed"] if link["type"] == "uses"}
    assert uses_added == uses(new) - uses(old)
    assert uses_removed == uses(old) - uses(new)
    for link in result["links_added"]:
        assert link["id"] == f"{link['source']} {link['type']} {link['target']}"


def test_same_source_has_no_differences_and_exit_code(releases):
    (old, _), (new, _) = releases
    code, out, _ = run_cli("diff", "--old", str(new), "--new", str(new), "--format", "json", "--exit-code")
    assert code == 0
    data = json.loads(out)
    assert not any(data["summary"].values())
    code, _, _ = run_cli("diff", "--old", str(old), "--new", str(new), "--format", "json", "--exit-code")
    assert code == 1
    code, _, _ = run_cli("diff", "--old", str(old), "--new", str(new), "--format", "json")
    assert code == 0


def test_release_against_its_own_stix_export_has_no_differences(releases, tmp_path):
    _, (new, _) = releases
    bundle = tmp_path / "atlas.json"
    assert run_cli("--source", str(new), "export", "stix", "--out", str(bundle))[0] == 0
    code, out, err = run_cli("diff", "--old", str(new), "--new", str(bundle), "--format", "json")
    assert code == 0, err
    assert not any(json.loads(out)["summary"].values())


def test_table_output_for_people(releases):
    (old, _), (new, _) = releases
    code, out, _ = run_cli("diff", "--old", str(old), "--new", str(new), "--format", "table")
    assert code == 0
    assert "Objects added and removed" in out and "Objects changed" in out
    assert "maturity" in out
    assert "\x1b[" not in out  # piped: plain columns, no colour codes


def test_missing_source_is_a_usage_error_without_traceback(tmp_path):
    code, out, err = run_cli_process("diff", "--old", str(tmp_path / "nope.yaml"), "--new", str(tmp_path))
    assert code == 2
    assert "source not found" in err
    assert "Traceback" not in err + out


def test_diff_requires_both_sides():
    code, _, err = run_cli("diff", "--new", "x")
    assert code == 2 and "--old" in err


def _tiny_release(path, *, name, tactic, maturity, note, step_tactic):
    path.write_text(f"""id: ATLAS
name: Tiny
version: 0.0.1
matrices:
- id: ATLAS
  name: Tiny
  tactics:
  - id: AML.TA0002
    name: Reconnaissance
  - id: AML.TA0003
    name: Resource Development
  techniques:
  - id: AML.T0000
    name: {name}
    tactics:
    - {tactic}
    maturity: {maturity}
  - id: AML.T0000.000
    name: Journals
    subtechnique-of: AML.T0000
  mitigations:
  - id: AML.M0000
    name: Limit Release
    techniques:
    - id: AML.T0000
      use: {note}
case-studies:
- id: AML.CS0000
  name: Study
  summary: A study.
  procedure:
  - tactic: {step_tactic}
    technique: AML.T0000.000
    description: Read papers.
""", encoding="utf-8")
    return path


def test_rename_tactic_move_maturity_note_and_steps(tmp_path):
    old = _tiny_release(tmp_path / "old.yaml", name="Search Databases", tactic="AML.TA0002",
                        maturity="feasible", note="Publish less.", step_tactic="AML.TA0002")
    new = _tiny_release(tmp_path / "new.yaml", name="Search Open Databases", tactic="AML.TA0003",
                        maturity="realized", note="Publish much less.", step_tactic="AML.TA0003")
    code, out, err = run_cli("diff", "--old", str(old), "--new", str(new), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    changed = {c["id"]: c["changes"] for c in data["changed"]}
    assert changed["AML.T0000"]["name"] == {"before": "Search Databases", "after": "Search Open Databases"}
    assert changed["AML.T0000"]["maturity"] == {"before": "feasible", "after": "realized"}
    assert changed["AML.T0000"]["tactics"] == {"before": ["AML.TA0002"], "after": ["AML.TA0003"],
                                               "added": ["AML.TA0003"], "removed": ["AML.TA0002"]}
    # The sub-technique moves with its parent: its effective tactics changed too.
    assert changed["AML.T0000.000"]["tactics"]["after"] == ["AML.TA0003"]
    assert {link["id"] for link in data["links_added"]} == {"AML.T0000 achieves AML.TA0003"}
    assert {link["id"] for link in data["links_removed"]} == {"AML.T0000 achieves AML.TA0002"}
    links = {link["id"]: link["changes"] for link in data["links_changed"]}
    assert links["AML.M0000 mitigates AML.T0000"]["note"] == {"before": "Publish less.", "after": "Publish much less."}
    assert "steps" in links["AML.CS0000 uses AML.T0000.000"]
    assert data["added"] == [] and data["removed"] == []
    code, out, _ = run_cli("diff", "--old", str(old), "--new", str(new), "--format", "yaml")
    assert code == 0 and yaml.safe_load(out)["summary"]["changed"] == 2


def test_subtechnique_tactics_stated_or_implied_are_the_same(tmp_path):
    base = dict(name="Search", tactic="AML.TA0002", maturity="feasible", note="n", step_tactic="AML.TA0002")
    old = _tiny_release(tmp_path / "old.yaml", **base)
    new = tmp_path / "new.yaml"
    # As MITRE's STIX bundles do: the sub-technique repeats its parent's tactic.
    new.write_text(old.read_text().replace("    subtechnique-of: AML.T0000\n",
                                           "    subtechnique-of: AML.T0000\n    tactics:\n    - AML.TA0002\n"))
    code, out, _ = run_cli("diff", "--old", str(old), "--new", str(new), "--format", "json", "--exit-code")
    assert code == 0, out
