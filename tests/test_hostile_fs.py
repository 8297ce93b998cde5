"""Hostile file-system situations around `--out`, temporary folders, the parse cache and
evidence folders: nothing the user wrote is lost, nothing outside is read or written,
no traceback, no leftovers after an interrupted run (rules in `atlaskb.fsutil`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import atlaskb
from atlaskb import fsutil
from atlaskb.errors import UsageError
from atlaskb.site import build_site
from conftest import run_cli

TINY_RELEASE = ("id: ATLAS\nmatrices:\n- id: ATLAS\n  tactics:\n  - {id: AML.TA0001, name: Staging}\n"
                "  techniques:\n  - {id: AML.T0001, name: T one, tactics: [AML.TA0001]}\n"
                "  - {id: AML.T0002, name: T two, tactics: [AML.TA0001]}\n"
                "  mitigations:\n  - {id: AML.M0001, name: M one, techniques: [AML.T0001]}\n")


def tree(root: Path) -> dict:
    """Every file under `root` (relative path -> bytes), symlinks as their target."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(folder) / name
            rel = str(full.relative_to(root))
            if full.is_symlink():
                found[rel] = ("link", os.readlink(full))
            elif full.is_file():
                found[rel] = full.read_bytes()
    return found


@pytest.fixture
def release(tmp_path) -> str:
    path = tmp_path / "ATLAS.yaml"
    path.write_text(TINY_RELEASE, encoding="utf-8")
    return str(path)


@pytest.fixture
def stix_bundle(tmp_path, release) -> str:
    out = tmp_path / "bundle.json"
    code, _, err = run_cli("--source", release, "export", "stix", "--out", str(out))
    assert code == 0, err
    return str(out)


@pytest.fixture(scope="module")
def tiny_kb(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    (root / "ATLAS.yaml").write_text(TINY_RELEASE, encoding="utf-8")
    return atlaskb.load(str(root / "ATLAS.yaml"))


# -- an empty --out is not the current folder --------------------------------------------------

@pytest.mark.parametrize("args", [
    ("site", "build", "--out", ""),
    ("import", "atlas-yaml", "{release}", "--out", ""),
    ("import", "stix", "{stix}", "--out", ""),
    ("defend", "run", "AML.M0006", "--quick", "--seeds", "1", "--technique", "AML.T0043.003", "--out", ""),
    ("export", "json", "--out", ""),
    ("export", "csv", "--out", ""),
    ("export", "graphml", "--out", ""),
])
def test_empty_out_is_refused_and_the_current_folder_is_untouched(args, tmp_path, release, stix_bundle,
                                                                  monkeypatch):
    work = tmp_path / "project"
    work.mkdir()
    (work / "thesis.tex").write_text("precious", encoding="utf-8")
    monkeypatch.chdir(work)
    args = [a.format(release=release, stix=stix_bundle) for a in args]
    code, out, err = run_cli(*args)
    assert code == 2, (out, err)
    assert "--out is empty" in err and "Traceback" not in err
    assert tree(work) == {"thesis.tex": b"precious"}
    assert "written" not in out


def test_empty_out_is_refused_by_the_python_api_too(tiny_kb):
    with pytest.raises(UsageError, match="empty"):
        build_site(tiny_kb, "")


# -- a folder atlaskb did not write is never replaced ------------------------------------------

def test_defend_run_refuses_a_folder_that_merely_holds_a_results_json(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "results.json").write_text("{}", encoding="utf-8")
    (ev / "thesis.tex").write_text("precious", encoding="utf-8")
    before = tree(ev)
    code, _, err = run_cli("defend", "run", "AML.M0006", "--technique", "AML.T0043.003", "--quick",
                           "--seeds", "1", "--out", str(ev))
    assert code == 2 and "refusing to replace" in err and "Traceback" not in err
    assert tree(ev) == before


def test_import_refuses_a_hand_written_vault(tmp_path, release):
    vault = tmp_path / "vault"
    (vault / "techniques").mkdir(parents=True)
    (vault / "mitigations").mkdir()
    (vault / "techniques" / "my-page.md").write_text("---\nid: x\n---\n# mine\n", encoding="utf-8")
    (vault / "mitigations" / "m.md").write_text("# mine too\n", encoding="utf-8")
    before = tree(vault)
    for kind, src in (("atlas-yaml", release),):
        code, _, err = run_cli("import", kind, src, "--out", str(vault))
        assert code == 2 and "refusing to replace" in err, err
    assert tree(vault) == before


def test_import_refuses_a_vault_whose_pages_were_edited(tmp_path, release):
    vault = tmp_path / "vault"
    assert run_cli("import", "atlas-yaml", release, "--out", str(vault))[0] == 0
    page = next(vault.glob("mitigations/*.md"))
    page.write_text(page.read_text(encoding="utf-8") + "\nMy own notes.\n", encoding="utf-8")
    before = tree(vault)
    code, _, err = run_cli("import", "atlas-yaml", release, "--out", str(vault))
    assert code == 2 and "was changed after atlaskb wrote it" in err and page.name in err
    assert tree(vault) == before


def test_import_refuses_a_page_added_inside_a_vault_it_wrote(tmp_path, release):
    vault = tmp_path / "vault"
    assert run_cli("import", "atlas-yaml", release, "--out", str(vault))[0] == 0
    (vault / "mitigations" / "extra.md").write_text("# mine\n", encoding="utf-8")
    before = tree(vault)
    code, _, err = run_cli("import", "atlas-yaml", release, "--out", str(vault))
    assert code == 2 and "mitigations/extra.md" in err and "did not write" in err
    assert tree(vault) == before


def test_site_rebuild_keeps_what_the_user_added_at_the_top(tmp_path, tiny_kb):
    site = tmp_path / "site"
    build_site(tiny_kb, str(site))
    (site / "CNAME").write_text("atlas.example.org\n", encoding="utf-8")
    (site / ".git" / "objects").mkdir(parents=True)
    (site / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n", encoding="utf-8")
    (site / ".git" / "objects" / "ab").write_bytes(b"\x00\x01blob")
    os.symlink("CNAME", site / "alias")
    user = {k: v for k, v in tree(site).items() if k.startswith((".git", "CNAME", "alias"))}
    for _ in range(2):
        build_site(tiny_kb, str(site))
        after = tree(site)
        assert {k: v for k, v in after.items() if k in user} == user
        assert (site / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary folder left


def test_site_rebuild_refuses_when_a_page_it_wrote_was_edited(tmp_path, tiny_kb):
    site = tmp_path / "site"
    build_site(tiny_kb, str(site))
    (site / "index.html").write_text("<p>my edits</p>", encoding="utf-8")
    before = tree(site)
    with pytest.raises(UsageError, match="index.html was changed after atlaskb wrote it"):
        build_site(tiny_kb, str(site))
    assert tree(site) == before


def test_site_rebuild_refuses_a_user_entry_the_new_site_would_overwrite(tmp_path, tiny_kb):
    site = tmp_path / "site"
    build_site(tiny_kb, str(site))  # no --have: no coverage page
    (site / "coverage.html").write_text("my own coverage notes", encoding="utf-8")
    before = tree(site)
    with pytest.raises(UsageError, match="coverage.html"):
        build_site(tiny_kb, str(site), have=["AML.M0001"])
    assert tree(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_an_output_of_another_kind_is_not_replaced(tmp_path, tiny_kb, release):
    site = tmp_path / "site"
    build_site(tiny_kb, str(site))
    before = tree(site)
    code, _, err = run_cli("import", "atlas-yaml", release, "--out", str(site))
    assert code == 2 and "holds a site" in err
    assert tree(site) == before


@pytest.mark.parametrize("manifest", [
    "not json",
    json.dumps({"written_by": "someone else", "kind": "site", "format": 1, "files": {}}),
    json.dumps({"written_by": "atlaskb", "kind": "site", "format": 1, "files": ["index.html"]}),
    "[" * 100_000,
    '{"written_by": "atlaskb", "kind": "site", "format": 1, "files": {}, "n": ' + "9" * 5000 + "}",
])
def test_a_manifest_atlaskb_did_not_write_does_not_make_a_folder_ours(tmp_path, tiny_kb, manifest):
    site = tmp_path / "site"
    site.mkdir()
    (site / fsutil.MANIFEST).write_text(manifest, encoding="utf-8")
    (site / "index.html").write_text("mine", encoding="utf-8")
    before = tree(site)
    with pytest.raises(UsageError, match="refusing to replace"):
        build_site(tiny_kb, str(site))
    assert tree(site) == before


def test_out_that_is_a_symlink_is_refused(tmp_path, tiny_kb):
    real = tmp_path / "real"
    build_site(tiny_kb, str(real))
    os.symlink(real, tmp_path / "link")
    with pytest.raises(UsageError, match="symbolic link"):
        build_site(tiny_kb, str(tmp_path / "link"))
    assert (tmp_path / "link").is_symlink()


# -- --out below a file, or where nothing can be created ----------------------------------------

@pytest.mark.parametrize("command", [("export", "json"), ("export", "csv"), ("export", "stix"),
                                     ("export", "graphml"), ("export", "navigator"),
                                     ("import", "atlas-yaml", "{release}"), ("import", "stix", "{stix}")])
@pytest.mark.parametrize("where", ["below-file", "proc", "folder"])
def test_out_that_cannot_be_written_is_a_clear_error(command, where, tmp_path, release, stix_bundle):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep", encoding="utf-8")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    if where == "folder" and command[0] == "import":
        pytest.skip("a folder is what import writes")
    out = {"below-file": str(blocker / "sub" / "out"), "proc": "/proc/atlaskb-test/out",
           "folder": str(folder)}[where]
    args = [a.format(release=release, stix=stix_bundle) for a in command]
    code, stdout, err = run_cli("--source", release, *args, "--out", out) if command[0] == "export" \
        else run_cli(*args, "--out", out)
    assert code in (1, 2), (stdout, err)
    assert "Traceback" not in err and "internal error" not in err
    assert "cannot write" in err or "is a directory" in err or "is a folder" in err, err
    assert blocker.read_text(encoding="utf-8") == "keep" and list(folder.iterdir()) == []
