"""`atlaskb import`: a release becomes a vault that loads back into the same graph;
`--facts-only` carries no MITRE prose; the bundled vault is exactly its output; --out is
replaced as a whole, and only when it is a vault atlaskb wrote."""

from __future__ import annotations

import filecmp
import os

import pytest

import atlaskb
from atlaskb.resources import data_dir
from conftest import run_cli, tiny_release


def graph_facts(kb, with_text=True):
    nodes = {}
    for n, d in kb.graph.nodes(data=True):
        keys = ["type", "name", "maturity", "created", "modified", "category", "lifecycle", "has_page", "order"]
        if with_text:
            keys.append("description")
        nodes[n] = tuple(str(d.get(k)) for k in keys)
    edges = {}
    for u, v, k, d in kb.graph.edges(keys=True, data=True):
        edges[(u, v, k)] = (d.get("note", "") if with_text else "", str(d.get("steps")))
    return nodes, edges


@pytest.fixture(scope="module")
def full_vault(tmp_path_factory, request):
    from conftest import SHARED

    release = SHARED / "atlas-data" / "ATLAS-5.6.0.yaml"
    if not release.exists():
        pytest.skip("../shared is absent")
    out = tmp_path_factory.mktemp("imp") / "vault"
    code, _, err = run_cli("import", "atlas-yaml", str(release), "--out", str(out))
    assert code == 0, err
    return release, out


def test_import_then_load_gives_the_same_graph_as_the_release(full_vault):
    release, out = full_vault
    assert graph_facts(atlaskb.load(str(out))) == graph_facts(atlaskb.load(str(release)))


def test_imported_vault_lints_clean(full_vault):
    _, out = full_vault
    code, stdout, _ = run_cli("--source", str(out), "lint")
    assert (code, stdout) == (0, "")


def test_full_import_keeps_mitre_text_for_the_users_own_copy(full_vault):
    _, out = full_vault
    kb = atlaskb.load(str(out))
    assert len(kb.graph.nodes["AML.M0006"]["description"]) > 50
    assert kb.graph.edges["AML.M0006", "AML.T0015", "mitigates"]["note"]


def test_facts_only_import_has_no_prose(atlas_yaml_56, tmp_path):
    out = tmp_path / "facts"
    code, _, err = run_cli("import", "atlas-yaml", str(atlas_yaml_56), "--out", str(out), "--facts-only")
    assert code == 0, err
    kb = atlaskb.load(str(out))
    assert all(not d.get("description") for _, d in kb.graph.nodes(data=True))
    assert all(not d.get("note") for *_, d in kb.graph.edges(data=True))
    assert graph_facts(kb, with_text=False) == graph_facts(atlaskb.load(str(atlas_yaml_56)), with_text=False)


def test_bundled_vault_is_exactly_the_importers_output(atlas_yaml_56, tmp_path):
    """data/atlas is generated (`make data`), never hand-edited."""
    out = tmp_path / "atlas"
    code, _, err = run_cli("import", "atlas-yaml", str(atlas_yaml_56), "--out", str(out), "--facts-only",
                           "--summaries", os.path.join(data_dir(), "summaries"))
    assert code == 0, err
    cmp = filecmp.dircmp(out, os.path.join(data_dir(), "atlas"))

    def differences(c):
        found = c.left_only + c.right_only + c.diff_files + c.funny_files
        for sub in c.subdirs.values():
            found += differences(sub)
        return found

    assert differences(cmp) == []


def test_a_summaries_file_that_is_not_text_is_named_and_nothing_is_written(atlas_yaml_56, tmp_path):
    bad = tmp_path / "summaries.yaml"
    bad.write_bytes(b"\xff\xfeAML.T0000: x\n")
    out = tmp_path / "vault"
    code, _, err = run_cli("import", "atlas-yaml", str(atlas_yaml_56), "--out", str(out), "--facts-only",
                           "--summaries", str(bad))
    assert code == 2 and f"{bad}: not UTF-8 text" in err and "internal error" not in err
    assert not out.exists()


def test_import_is_deterministic(atlas_yaml_56, tmp_path):
    for name in ("a", "b"):
        run_cli("import", "atlas-yaml", str(atlas_yaml_56), "--out", str(tmp_path / name), "--facts-only")
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only


def test_import_of_something_else_is_a_usage_error(tmp_path, seed_page):
    code, _, err = run_cli("import", "atlas-yaml", str(seed_page), "--out", str(tmp_path / "x"))
    assert code == 2 and "not an ATLAS.yaml release" in err
    code, _, err = run_cli("import", "atlas-yaml", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "x"))
    assert code == 2 and "missing.yaml" in err
    assert not (tmp_path / "x").exists()


def test_a_failed_import_leaves_the_previous_vault(tmp_path, atlas_yaml_56, monkeypatch):
    out = tmp_path / "vault"
    run_cli("import", "atlas-yaml", str(atlas_yaml_56), "--out", str(out), "--facts-only")
    before = sorted(p.name for p in out.rglob("*.md"))
    from atlaskb.export import vault_writer as vault_mod

    def boom(self, object_id):
        raise RuntimeError("disk full")

    monkeypatch.setattr(vault_mod._PageWriter, "page", boom)
    code, _, err = run_cli("import", "atlas-yaml", str(atlas_yaml_56), "--out", str(out), "--facts-only")
    assert code == 3 and "Traceback" not in err
    assert sorted(p.name for p in out.rglob("*.md")) == before
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_release_with_broken_entries_reports_them(tmp_path):
    path = tmp_path / "ATLAS.yaml"
    path.write_text(
        "id: ATLAS\nmatrices:\n- id: ATLAS\n  tactics:\n  - {id: AML.TA0001, name: Staging}\n"
        "  - {name: no id here}\n  techniques:\n  - {id: AML.T0001, name: T, tactics: [AML.TA0001]}\n"
        "  - {id: AML.M0001, name: wrong kind}\n  mitigations:\n  - id: AML.M0002\n    name: M\n"
        "    techniques: [{id: AML.T0001, use: x}, {use: no id}]\n", encoding="utf-8")
    kb = atlaskb.load(str(path))
    found = sorted((f.code, f.line) for f in kb.findings)
    assert found == [("bad-entry", 6), ("bad-entry", 9), ("broken-link", 13)]
    assert kb.graph.has_edge("AML.M0002", "AML.T0001", key="mitigates")


def test_release_that_is_not_yaml(tmp_path):
    path = tmp_path / "ATLAS.yaml"
    path.write_text("matrices:\n  - id: [unclosed\n", encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert [(f.code, f.line) for f in kb.findings] == [("bad-yaml", 3)]


def test_release_fields_of_the_wrong_shape_make_no_junk_objects(tmp_path):
    """A lone string where a list belongs (`techniques: "AML.T0001"`) is not iterated
    character by character into objects ".", "0", "A" ...; a mapping where an ID belongs
    never becomes an object named after its repr."""
    path = tmp_path / "ATLAS.yaml"
    path.write_text(
        "id: ATLAS\nmatrices:\n- id: ATLAS\n  tactics:\n  - {id: AML.TA0001, name: Staging}\n"
        "  techniques:\n  - {id: AML.T0001, name: T, tactics: AML.TA0001}\n"
        "  - {id: AML.T0002, name: U, tactics: [{id: AML.TA0001}]}\n"
        "  mitigations:\n  - {id: AML.M0001, name: M, category: Technical, techniques: AML.T0001}\n"
        "  - {id: AML.M0002, name: N, techniques: [not an id]}\n"
        "case-studies:\n- {id: AML.CS0001, name: C, procedure: nope}\n", encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert set(kb.graph.nodes) == {"AML.TA0001", "AML.T0001", "AML.T0002", "AML.M0001", "AML.M0002", "AML.CS0001"}
    assert kb.graph.has_edge("AML.M0001", "AML.T0001", key="mitigates")
    assert kb.graph.has_edge("AML.T0001", "AML.TA0001", key="achieves")
    assert kb.graph.has_edge("AML.T0002", "AML.TA0001", key="achieves")
    assert kb.graph.nodes["AML.M0001"]["category"] == ["Technical"]
    codes = {f.code for f in kb.findings}
    assert {"broken-link", "bad-entry"} <= codes


def test_bundled_vault_keeps_every_attack_reference_the_release_has(atlas_yaml_56, bundled_kb):
    """Mitigations adapt ATT&CK mitigations too (AML.M0011 → M1038, ...): the vault keeps them."""
    release = atlaskb.load(str(atlas_yaml_56))
    wanted = {n: d["attack_ref"]["id"] for n, d in release.graph.nodes(data=True) if d.get("attack_ref")}
    have = {n: d["attack_ref"]["id"] for n, d in bundled_kb.graph.nodes(data=True) if d.get("attack_ref")}
    assert {"AML.M0011", "AML.M0012", "AML.M0013", "AML.M0016", "AML.M0018"} <= set(wanted)
    assert have == wanted


def test_vault_names_the_release_it_was_imported_from(atlas_yaml_56, bundled_kb, tmp_path):
    assert [s.get("version") for s in bundled_kb.sources] == ["5.6.0"]
    out = tmp_path / "vault"
    code, _, err = run_cli("import", "atlas-yaml", str(atlas_yaml_56), "--out", str(out), "--facts-only")
    assert code == 0, err
    assert atlaskb.load(str(out)).sources[0]["version"] == "5.6.0"


@pytest.mark.parametrize("text", ["version: [1, 2]\n", "- a\n- b\n", "version: \"" + "9" * 200 + "\"\n", "a: [\n"])
def test_unusable_release_file_is_a_warning_not_a_version(tmp_path, text):
    from atlaskb.sources.vault import RELEASE_FILE

    (tmp_path / RELEASE_FILE).write_text(text, encoding="utf-8")
    kb = atlaskb.load(str(tmp_path))
    assert "version" not in kb.sources[0]
    assert [f.file for f in kb.findings] == [RELEASE_FILE]


# -- --out is replaced as a whole: never a folder holding other things -----------------------

def test_import_refuses_to_replace_a_folder_that_is_not_a_vault(tmp_path):
    release = tiny_release(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine", encoding="utf-8")
    code, _, err = run_cli("import", "atlas-yaml", release, "--out", str(project))
    assert code == 2 and "notes.txt" in err
    assert (project / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_import_may_replace_a_vault_it_wrote_before(tmp_path):
    release = tiny_release(tmp_path)
    out = tmp_path / "vault"
    for _ in range(2):
        code, _, err = run_cli("import", "atlas-yaml", release, "--out", str(out))
        assert code == 0, err
    assert atlaskb.load(str(out)).graph.has_node("AML.T0001")
