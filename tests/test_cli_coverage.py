"""`atlaskb coverage` and `atlaskb recommend`: the output contract, --have and --profile
together, bad input as a message and an exit code (`atlaskb.coverage`'s rules: test_coverage.py)."""

from __future__ import annotations

import csv
import io
import json

import yaml

from conftest import run_cli, run_cli_process


def test_coverage_json_contract():
    code, out, err = run_cli("coverage", "--have", "AML.M0003,Adversarial Input Detection", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["have"] == ["AML.M0003", "AML.M0015"]
    assert {"covered", "uncovered", "by_tactic", "gaps"} <= set(data)
    assert len(data["covered"]) + len(data["uncovered"]) == 170


def test_coverage_profile_and_have_combine(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("mitigations:\n  - id: AML.M0015\n    note: vendor box\n")
    code, out, err = run_cli("coverage", "--profile", str(p), "--have", "AML.M0003", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["have"] == ["AML.M0003", "AML.M0015"]
    code, out, _ = run_cli("coverage", "--profile", str(p))
    assert code == 0 and "vendor box" in out and "Coverage by tactic" in out


def test_empty_have_means_nothing_deployed():
    code, out, err = run_cli("coverage", "--have", "", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["have"] == [] and data["covered"] == [] and len(data["uncovered"]) == 170
    code, out, err = run_cli("recommend", "--have", "", "--top", "2", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 2


def test_coverage_needs_have_or_profile():
    code, _, err = run_cli("coverage")
    assert code == 2 and "--have" in err


def test_coverage_unknown_mitigation_exits_1_with_suggestion():
    code, out, err = run_cli("coverage", "--have", "AML.M0003,AML.M0O15")
    assert code == 1 and out == "" and "did you mean" in err and "AML.M0015" in err


def test_malformed_profile_in_a_real_process(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("mitigations:\n  - id: AML.M0003\n   strength: [\n")
    code, out, err = run_cli_process("coverage", "--profile", str(p))
    assert code != 0 and "Traceback" not in err
    assert str(p) in err and out == ""


def test_recommend_json_contract_and_formats():
    code, out, err = run_cli("recommend", "--have", "AML.M0003", "--top", "3", "--format", "json")
    assert code == 0, err
    picks = json.loads(out)
    assert len(picks) == 3 and all(p["id"] and p["name"] and p["newly_covered"] for p in picks)
    code, out, _ = run_cli("recommend", "--have", "AML.M0003", "--top", "3", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("#,ID,Name,Gain")
    code, out, _ = run_cli("recommend", "--have", "AML.M0003", "--top", "3", "--format", "yaml")
    assert [p["id"] for p in yaml.safe_load(out)] == [p["id"] for p in picks]
    code, _, err = run_cli("recommend", "--have", "AML.M0003", "--top", "0")
    assert code == 2


def test_profile_notes_and_strengths_show_for_mitigations_named_not_by_id(tmp_path):
    """A profile may name a mitigation by name or short ID: the table shows its strength and
    note under its ID, as `compute` counts it (`coverage.resolve_deployed`)."""
    profile = tmp_path / "p.yaml"
    profile.write_text("mitigations:\n  - id: Model Hardening\n    note: adv training\n    strength: 0.5\n"
                       "  - id: m0015\n    note: detector\n    strength: 0.25\n", encoding="utf-8")
    code, out, err = run_cli("coverage", "--profile", str(profile), "--format", "csv")
    assert code == 0, err
    rows = [line.split(",") for line in out.splitlines() if line.startswith("Deployed mitigations,")]
    assert [r[1:5] for r in rows] == [["AML.M0003", "Model Hardening", "0.5", "adv training"],
                                                ["AML.M0015", "Adversarial Input Detection", "0.25", "detector"]]


def test_coverage_of_a_technique_id_names_its_type():
    code, _, err = run_cli("coverage", "--have", "AML.T0043")
    assert code == 1 and "AML.T0043 is a technique, not a mitigation" in err


def test_coverage_lists_covered_techniques_and_tactics_in_kill_chain_order(bundled_kb):
    from atlaskb import queries

    code, out, err = run_cli("coverage", "--have", "AML.M0015", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data["by_tactic"]) == queries.tactics(bundled_kb)
    code, table, _ = run_cli("coverage", "--have", "AML.M0015")
    assert "Covered techniques (9)" in table and "Craft Adversarial Data: White-Box Optimization" in table
    code, text, _ = run_cli("coverage", "--have", "AML.M0015", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    covered = [r for r in rows if r["section"].startswith("Covered techniques")]
    assert {r["ID"] for r in covered} == set(data["covered"])


def test_gaps_and_recommendations_name_sub_techniques_with_their_parent():
    code, table, _ = run_cli("coverage", "--have", "AML.M0015", "--gaps", "200")
    assert "External Harms: User Harm" in table
    code, table, _ = run_cli("recommend", "--have", "AML.M0015", "--top", "1")
    assert "Exfiltration via AI Inference API: Invert AI Model" in table
