"""Defects found by a review that used the CLI as a demanding analyst would: each test
failed before its fix. Small hand-made inputs, so they run in well under a second."""

from __future__ import annotations

import json

import pytest

import atlaskb
from atlaskb import queries as q
from atlaskb.errors import NotFound
from conftest import FIXTURES, run_cli


DEFECTS = str(FIXTURES / "vault_defects")


# -- a cycle of sub-technique links (lint reports it) must not crash the queries ------------

def test_tactics_of_ends_on_a_subtechnique_cycle():
    kb = atlaskb.load(DEFECTS)
    assert q.tactics_of(kb, "ACME.T0001.001") == []


@pytest.mark.parametrize("args", [
    ("show", "ACME.T0001.001"),
    ("coverage", "--have", "ACME.M0001"),
    ("export", "navigator", "--score", "coverage", "--have", "ACME.M0001"),
])
def test_commands_survive_a_subtechnique_cycle(args):
    code, out, err = run_cli("--source", DEFECTS, *args)
    assert code == 0, err
    assert "internal error" not in err and "Recursion" not in err


# -- STIX: a `uses` relationship whose step list is unusable is still a link -----------------

def _bundle(steps) -> dict:
    ext = lambda i: [{"source_name": "mitre-atlas", "external_id": i}]  # noqa: E731
    return {"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "attack-pattern", "id": "attack-pattern--1", "name": "Tech", "external_references": ext("AML.T0001")},
        {"type": "campaign", "id": "campaign--1", "name": "Study", "external_references": ext("AML.CS0001")},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "uses",
         "source_ref": "campaign--1", "target_ref": "attack-pattern--1", "x_atlaskb_steps": steps},
    ]}


@pytest.mark.parametrize("steps", [["not a step"], [{"step": "one"}]])
def test_stix_uses_link_with_bad_steps_is_kept(tmp_path, steps):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_bundle(steps)), encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert kb.graph.has_edge("AML.CS0001", "AML.T0001", key="uses")
    assert any(f.code == "bad-property" for f in kb.findings)


# -- empty, ambiguous and wrong-type queries ----------------------------------------------------

@pytest.fixture
def nameless_vault(tmp_path):
    """A mitigation linking to a technique known only by its ID (so with no name)."""
    (tmp_path / "m.md").write_text(
        '---\ntitle: "ACME.M0005: Thing"\ntype: mitigation\n---\n# ACME.M0005: Thing\n\n'
        "## Techniques (1)\n\n- [[techniques/zz|ACME.T0009]] — x\n", encoding="utf-8")
    return str(tmp_path)


def test_empty_query_never_matches_a_nameless_object(nameless_vault):
    kb = atlaskb.load(nameless_vault)
    assert kb.graph.nodes["ACME.T0009"].get("name", "") == ""
    for blank in ("", "  "):
        with pytest.raises(NotFound):
            q.resolve(kb, blank)


def test_empty_argument_is_a_usage_error(nameless_vault):
    code, out, err = run_cli("--source", nameless_vault, "show", "")
    assert code == 2 and out == "" and "empty" in err
    code, out, err = run_cli("search", " ")
    assert code == 2 and out == "" and "word" in err


def test_ambiguous_partial_name_says_so():
    code, _, err = run_cli("show", "adversarial")
    assert code == 1 and "ambiguous" in err and "did you mean" in err and "no object matches" not in err
    code, _, err = run_cli("show", "poison")  # 17 hits: the closest names are offered first
    assert code == 1 and "AML.T0020 (Poison Training Data)" in err and "(or 12 more)" in err


def test_coverage_of_a_technique_id_names_its_type():
    code, _, err = run_cli("coverage", "--have", "AML.T0043")
    assert code == 1 and "AML.T0043 is a technique, not a mitigation" in err


# -- the global --format ------------------------------------------------------------------------

def test_global_format_is_checked():
    code, out, err = run_cli("--format", "xml", "lint")
    assert code == 2 and "xml" in err and out == ""


def test_global_format_text_means_table_for_queries():
    code, out, err = run_cli("--format", "text", "tactics")
    assert code == 0, err
    assert "AML.TA0002" in out and not out.lstrip().startswith("[")


# -- import --out replaces the folder as a whole: never a folder holding other things ---------

def _tiny_release(tmp_path):
    path = tmp_path / "ATLAS.yaml"
    path.write_text("id: ATLAS\nmatrices:\n- id: ATLAS\n  tactics:\n  - {id: AML.TA0001, name: Staging}\n"
                    "  techniques:\n  - {id: AML.T0001, name: T, tactics: [AML.TA0001]}\n  mitigations: []\n",
                    encoding="utf-8")
    return str(path)


def test_import_refuses_to_replace_a_folder_that_is_not_a_vault(tmp_path):
    release = _tiny_release(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine", encoding="utf-8")
    code, _, err = run_cli("import", "atlas-yaml", release, "--out", str(project))
    assert code == 2 and "notes.txt" in err
    assert (project / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_import_may_replace_a_vault_it_wrote_before(tmp_path):
    release = _tiny_release(tmp_path)
    out = tmp_path / "vault"
    for _ in range(2):
        code, _, err = run_cli("import", "atlas-yaml", release, "--out", str(out))
        assert code == 0, err
    assert atlaskb.load(str(out)).graph.has_node("AML.T0001")


def test_show_json_shape_follows_the_arguments_not_their_dedup():
    for args in (("AML.T0051", "AML.T0051"), ("AML.T0051", "aml.t0051")):
        code, out, err = run_cli("show", *args, "--format", "json")
        assert code == 0, err
        data = json.loads(out)
        assert isinstance(data, list) and [d["id"] for d in data] == ["AML.T0051"]


# -- a STIX bundle written with sorted keys is still a bundle ----------------------------------

def test_sorted_key_bundle_is_detected_as_stix(tmp_path):
    from atlaskb.sources import detect_kind

    bundle = _bundle([{"step": 1, "tactic": None}])
    bundle["objects"][0]["description"] = "padding " * 1000  # pushes "type": "bundle" past the sniffed head
    path = tmp_path / "sorted.json"
    path.write_text(json.dumps(bundle, sort_keys=True, indent=2), encoding="utf-8")
    assert detect_kind(str(path)) == "stix"
    kb = atlaskb.load(str(path))
    assert kb.graph.has_edge("AML.CS0001", "AML.T0001", key="uses")


def test_json_that_is_not_a_bundle_is_an_error_not_a_page(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n', encoding="utf-8")
    code, _, err = run_cli("--source", str(path), "lint")
    assert code == 1 and "bad-stix" in err + _


def test_release_redumped_with_sorted_keys_is_detected(tmp_path):
    """yaml.safe_dump sorts keys: `case-studies:` comes first, `matrices:` after 4 KB."""
    import yaml

    from atlaskb.sources import detect_kind

    release = yaml.safe_load(open(_tiny_release(tmp_path), encoding="utf-8"))
    release["case-studies"] = [{"id": f"AML.CS{i:04d}", "name": f"Study {i}", "summary": "padding " * 40,
                                "procedure": [{"tactic": "AML.TA0001", "technique": "AML.T0001",
                                               "description": "x"}]} for i in range(20)]
    path = tmp_path / "sorted.yaml"
    path.write_text(yaml.safe_dump(release), encoding="utf-8")
    assert path.read_text(encoding="utf-8").startswith("case-studies:")
    assert detect_kind(str(path)) == "atlas-yaml"
    kb = atlaskb.load(str(path))
    assert kb.graph.has_edge("AML.CS0019", "AML.T0001", key="uses")


def test_ids_without_the_aml_prefix_resolve_as_site_build_takes_them():
    code, out, err = run_cli("coverage", "--have", "m0006", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["have"] == ["AML.M0006"]
    code, out, err = run_cli("mitigations", "T0043.002", "--format", "json")
    assert code == 0, err
    assert {r["technique"] for r in json.loads(out)} == {"AML.T0043.002"}
    code, _, err = run_cli("mitigations", "M0003")
    assert code == 1 and "AML.M0003 is a mitigation" in err


# -- rich tables on a terminal: names from the sources are text, never markup ----------------

def test_markup_in_a_name_is_printed_on_a_terminal_not_interpreted(tmp_path, monkeypatch):
    from atlaskb.cli import output

    (tmp_path / "t.md").write_text(
        '---\ntitle: "ACME.T0001: Evil [/bold] [red]name"\n---\n# ACME.T0001: Evil [/bold] [red]name\n\n'
        "## Metadata\n\n- **Maturity:** realized\n", encoding="utf-8")
    (tmp_path / "a.md").write_text(
        '---\ntitle: "ACME.TA0001: [/] Tactic"\n---\n# ACME.TA0001: [/] Tactic\n\n'
        "## Techniques (1)\n\n- [[t|ACME.T0001]] — x\n", encoding="utf-8")
    monkeypatch.setattr(output, "_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    for args in (("show", "ACME.T0001"), ("matrix",)):
        code, out, err = run_cli("--no-color", "--source", str(tmp_path), *args)
        assert code == 0, err
    code, out, err = run_cli("--no-color", "--source", str(tmp_path), "show", "ACME.T0001")
    assert "Evil [/bold] [red]name" in out
