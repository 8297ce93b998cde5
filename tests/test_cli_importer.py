"""`atlaskb import`'s --out: the folder is replaced as a whole, and only when it is a vault
atlaskb wrote; a folder holding anything else is refused untouched."""

from __future__ import annotations

import atlaskb
from conftest import run_cli, tiny_release


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
