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
    ("export", "navigator", "--case-study", "all", "--out", ""),
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


# -- leftovers of interrupted runs --------------------------------------------------------------

def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def fake_leftover(parent: Path, name: str, pid: int | None, carried=(), target="site") -> Path:
    folder = parent / name
    folder.mkdir()
    (folder / "index.html").write_text("half a site", encoding="utf-8")
    if pid is not None:
        (folder / fsutil.OWNER).write_text(json.dumps(
            {"written_by": "atlaskb", "pid": pid, "start": None, "host": os.uname().nodename,
             "target": target, "carried": list(carried)}), encoding="utf-8")
    return folder


def test_next_run_removes_only_stale_leftovers_that_atlaskb_made(tmp_path, tiny_kb):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = fake_leftover(tmp_path, ".site.tmp-dead1", dead_pid())
        unmarked = fake_leftover(tmp_path, ".site.tmp-nomark", None)
        running = fake_leftover(tmp_path, ".site.tmp-alive", live.pid)
        other = fake_leftover(tmp_path, ".other.tmp-dead2", dead_pid(), target="other")
        not_ours_name = fake_leftover(tmp_path, "site.tmp-dead3", dead_pid())
        build_site(tiny_kb, str(tmp_path / "site"))
        assert not stale.exists()
        for kept in (unmarked, running, other, not_ours_name):
            assert (kept / "index.html").read_text(encoding="utf-8") == "half a site"
    finally:
        live.kill()
        live.wait()


def test_a_run_killed_as_it_made_its_folder_leaves_nothing_behind(tmp_path, tiny_kb):
    """Killed between making its temporary folder and writing the owner record: the folder
    is empty, but its name carries the PID, so the next run removes it; an empty folder of
    a live process, or one that holds anything but that record's temporary file, stays."""
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = dead_pid()
        killed = tmp_path / f".site.tmp-{dead}-abc"
        killed.mkdir()
        (killed / f".{fsutil.OWNER}.x1y2").write_text('{"writ', encoding="utf-8")  # cut mid-write
        old_killed = tmp_path / f".site.old-{dead_pid()}-def"
        old_killed.mkdir()
        running = tmp_path / f".site.tmp-{live.pid}-ghi"
        running.mkdir()
        holding = tmp_path / f".site.tmp-{dead}-jkl"
        holding.mkdir()
        (holding / "notes.txt").write_text("mine", encoding="utf-8")
        build_site(tiny_kb, str(tmp_path / "site"))
        assert not killed.exists() and not old_killed.exists()
        assert running.is_dir() and (holding / "notes.txt").read_text(encoding="utf-8") == "mine"
    finally:
        live.kill()
        live.wait()


def test_a_killed_swap_gives_back_the_users_entries(tmp_path, tiny_kb):
    """Killed while moving the user's CNAME into the new site: the next run puts it back."""
    site = tmp_path / "site"
    build_site(tiny_kb, str(site))
    leftover = fake_leftover(tmp_path, ".site.tmp-killed", dead_pid(), carried=["CNAME"])
    (leftover / "CNAME").write_text("atlas.example.org\n", encoding="utf-8")
    build_site(tiny_kb, str(site))
    assert (site / "CNAME").read_text(encoding="utf-8") == "atlas.example.org\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_swap_killed_between_its_renames_restores_the_previous_output(tmp_path, tiny_kb):
    site = tmp_path / "site"
    build_site(tiny_kb, str(site))
    before = tree(site)
    old = tmp_path / ".site.old-killed"
    old.mkdir()
    (old / fsutil.OWNER).write_text(json.dumps(
        {"written_by": "atlaskb", "pid": dead_pid(), "start": None, "host": os.uname().nodename,
         "target": "site", "carried": []}), encoding="utf-8")
    os.replace(site, old / "previous")
    assert fsutil.clean_leftovers(str(site)) == [str(old)]
    assert tree(site) == before


def _kill_when_building(args: list[str], out: Path, cwd: Path) -> None:
    """Start `atlaskb ARGS --out OUT`, SIGKILL it once its temporary folder holds files,
    and check that it did leave one (else this test would prove nothing)."""
    proc = subprocess.Popen([sys.executable, "-m", "atlaskb", *args, "--out", str(out)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            temps = [p for p in out.parent.glob(f".{out.name}.tmp-*") if (p / fsutil.OWNER).exists()]
            if temps and sum(len(f) for _, _, f in os.walk(temps[0])) > 3:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        proc.kill()
        proc.wait()  # reaped: a zombie would still look alive
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert list(out.parent.glob(f".{out.name}.tmp-*")), "the kill left nothing to clean up"


@pytest.mark.parametrize("kind", ["site", "import"])
def test_sigkill_mid_run_leaves_nothing_after_the_next_run(kind, tmp_path, atlas_yaml_56):
    parent = tmp_path / "outputs"
    parent.mkdir()
    out = parent / "result"
    if kind == "site":
        args = ["site", "build"]
    else:
        args = ["import", "atlas-yaml", str(atlas_yaml_56)]
    code, _, err = run_cli(*args, "--out", str(out))  # an earlier good output
    assert code == 0, err
    (out / "CNAME").write_text("mine\n", encoding="utf-8")
    before = tree(out)
    _kill_when_building(args, out, tmp_path)
    assert tree(out) == before  # the previous output is intact after the kill
    code, _, err = run_cli(*args, "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in parent.iterdir()) == ["result"]
    assert (out / "CNAME").read_text(encoding="utf-8") == "mine\n"


def test_sigkill_while_writing_evidence_leaves_nothing_after_the_next_run(tmp_path):
    out = tmp_path / "ev"
    args = ["defend", "run", "AML.M0006", "--technique", "AML.T0043.003", "--quick", "--seeds", "1"]
    for attempt in range(3):  # the folder exists only while plots are written: a short window
        proc = subprocess.Popen([sys.executable, "-m", "atlaskb", *args, "--out", str(out)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while proc.poll() is None:
                if any((p / fsutil.OWNER).exists() for p in tmp_path.glob(".ev.tmp-*")):
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.001)
        finally:
            proc.kill()
            proc.wait()
        if proc.returncode == -signal.SIGKILL and list(tmp_path.glob(".ev.tmp-*")):
            break
        for p in tmp_path.iterdir():
            fsutil.clean_leftovers(str(p))
    else:
        pytest.skip("the evidence was written before the kill landed, three times")
    code, _, err = run_cli(*args, "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev"]


# -- evidence folders are untrusted ---------------------------------------------------------------

def _png(path: Path, text_chunk: str | None = None) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if text_chunk:
        info.add_text("Comment", text_chunk)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path, pnginfo=info)
    return path.read_bytes()


def _evidence(root: Path, plots: list[str], **result_changes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    result = {"technique": "AML.T0043.002", "attack": "pgd", "metric": "robust_accuracy",
              "higher_is_better": True, "baseline": 0.3, "defended": 0.5,
              "ci95": {"baseline": [0.2, 0.4], "defended": [0.4, 0.6]}, "params": {"eps": 0.1},
              "plots": plots} | result_changes
    doc = {"mitigation": "AML.M0006", "backend": "numpy", "device": "cpu", "dataset": "digits",
           "provenance": {"seeds": [0, 1]}, "clean_accuracy": {"baseline": 0.9, "defended": 0.9},
           "results": [result]}
    (root / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


SCRIPT_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>'
              '<rect width="5" height="5"/></svg>')


def test_svg_plots_with_script_are_never_served(tmp_path, bundled_kb):
    ev = _evidence(tmp_path / "ev", ["plots/AML.T0043.002.svg", "plots/fake.png"])
    (ev / "plots").mkdir()
    (ev / "plots" / "AML.T0043.002.svg").write_text(SCRIPT_SVG, encoding="utf-8")
    (ev / "plots" / "fake.png").write_text(SCRIPT_SVG, encoding="utf-8")  # a PNG by name only
    site = tmp_path / "site"
    build_site(bundled_kb, str(site), evidence_dir=str(ev))
    served = [p for p in tree(site) if p.startswith("evidence/files")]
    assert served == [] or all(not p.endswith((".svg", "fake.png")) for p in served), served
    page = (site / "techniques" / "AML.T0043.002.html").read_text(encoding="utf-8")
    assert "alert(" not in page and "Not shown: plots/AML.T0043.002.svg" in page
    assert "plots/fake.png" in page and 'src="../evidence/files/AML.M0006/plots/fake.png"' not in page
    assert not any(b"alert(" in v for v in tree(site).values() if isinstance(v, bytes))


def test_png_plots_are_served_re_encoded(tmp_path, bundled_kb):
    ev = _evidence(tmp_path / "ev", ["plots/AML.T0043.002.png"])
    original = _png(ev / "plots" / "AML.T0043.002.png", text_chunk="<script>alert(3)</script>")
    site = tmp_path / "site"
    build_site(bundled_kb, str(site), evidence_dir=str(ev))
    served = (site / "evidence" / "files" / "AML.M0006" / "plots" / "AML.T0043.002.png").read_bytes()
    assert served.startswith(b"\x89PNG") and b"alert" not in served and served != original
    from PIL import Image

    with Image.open(site / "evidence" / "files" / "AML.M0006" / "plots" / "AML.T0043.002.png") as img:
        assert img.size == (8, 8) and img.convert("RGB").getpixel((0, 0)) == (200, 30, 30)


@pytest.mark.parametrize("how", ["folder-link", "file-link", "deep-folder-link"])
def test_plots_behind_a_symlink_are_not_copied(how, tmp_path, bundled_kb):
    outside = tmp_path / "outside"
    secret = _png(outside / "secret.png", text_chunk="SECRET-OUTSIDE")
    ev = tmp_path / "deep" / "ev"
    rel = {"folder-link": "leak/secret.png", "file-link": "plots/secret.png",
           "deep-folder-link": "plots/leak/secret.png"}[how]
    _evidence(ev, [rel])
    (ev / "plots").mkdir()
    if how == "folder-link":
        os.symlink("../../outside", ev / "leak")
    elif how == "file-link":
        os.symlink(outside / "secret.png", ev / "plots" / "secret.png")
    elif how == "deep-folder-link":
        os.symlink(outside, ev / "plots" / "leak")
    site = tmp_path / "site"
    build_site(bundled_kb, str(site), evidence_dir=str(ev))
    assert not (site / "evidence" / "files").exists()
    page = (site / "techniques" / "AML.T0043.002.html").read_text(encoding="utf-8")
    assert "not found in the evidence folder" in page
    assert secret  # the file existed and was readable: only the check kept it out


@pytest.mark.parametrize("change, message", [
    ({"params": {"deep": "DEEP-900"}}, "nests deeper"),
    ({"params": {"deep": "DEEP-40"}}, "nests deeper"),
    ({"attack": "pgd\ud800"}, "lone surrogate"),
    ({"params": {"\udcff": 1}}, "lone surrogate"),
    ({"baseline": 10 ** 400}, "too large"),
    ({"params": {"n": 10 ** 400}}, "too large"),
])
def test_hostile_results_json_is_a_clear_error(change, message, tmp_path):
    ev = _evidence(tmp_path / "ev", [])
    doc = json.loads((ev / "results.json").read_text(encoding="utf-8"))
    doc["results"][0].update(change)
    text = json.dumps(doc)
    for n in (900, 40):
        text = text.replace(f'"DEEP-{n}"', "[" * n + "]" * n)
    (ev / "results.json").write_text(text, encoding="utf-8")
    code, _, err = run_cli("site", "build", "--out", str(tmp_path / "site"), "--evidence", str(ev))
    assert code == 2 and message in err and "results.json" in err, err
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("text, message", [
    ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"a": ' + "9" * 5000 + "}", "not a results file"),
    ('{"a": NaN}', "not a finite number"),
])
def test_results_json_the_decoder_chokes_on_is_a_clear_error(text, message, tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "results.json").write_text(text, encoding="utf-8")
    code, _, err = run_cli("site", "build", "--out", str(tmp_path / "site"), "--evidence", str(ev))
    assert code == 2 and message in err, err
    assert "Traceback" not in err and "internal error" not in err


def test_results_json_linked_from_outside_is_not_read(tmp_path):
    real = _evidence(tmp_path / "outside", [])
    ev = tmp_path / "ev"
    ev.mkdir()
    os.symlink(real / "results.json", ev / "results.json")
    code, _, err = run_cli("site", "build", "--out", str(tmp_path / "site"), "--evidence", str(ev))
    assert code == 2 and "symbolic link out of the evidence folder" in err


# -- profiles nested past the stack ---------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "mitigations:\n  - " + "[" * 3000 + "]" * 3000 + "\n",
    "mitigations: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "mitigations:\n" + "".join("  " * (i + 1) + "-\n" for i in range(600)),
])
@pytest.mark.parametrize("command", [("coverage",), ("export", "navigator", "--score", "coverage"),
                                     ("site", "build", "--out", "{site}")])
def test_deeply_nested_profile_is_a_clear_error(body, command, tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text(body, encoding="utf-8")
    args = [a.format(site=tmp_path / "site") for a in command]
    code, _, err = run_cli(*args, "--profile", str(profile))
    assert code == 2 and "nested too deeply" in err and "profile.yaml" in err, err
    assert "Traceback" not in err and "internal error" not in err
    assert not (tmp_path / "site").exists()


# -- output names the terminal or the file system cannot take -------------------------------------

@pytest.mark.parametrize("command", [("export", "json"), ("export", "csv"), ("site", "build"),
                                     ("import", "atlas-yaml", "{release}")])
def test_out_with_a_lone_surrogate_is_a_clear_error(command, tmp_path, release):
    args = [a.format(release=release) for a in command]
    code, out, err = run_cli("--source", release, *args, "--out", str(tmp_path / "bad\ud800name"))
    assert code == 2 and "not a valid file name" in err, (out, err)
    assert "Traceback" not in err and "internal error" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ATLAS.yaml"]


@pytest.mark.parametrize("command", [("export", "json"), ("site", "build"), ("import", "atlas-yaml", "{release}")])
def test_out_with_undecodable_bytes_is_written_and_reported_readably(command, tmp_path, release):
    """A name with bytes that are not UTF-8 is a valid file name on Linux: written where
    asked, and printed with escapes instead of failing to print."""
    name = os.fsdecode(b"out-\xff")
    args = [a.format(release=release) for a in command]
    proc = subprocess.run([sys.executable, "-m", "atlaskb", "--source", release, *args, "--out",
                           os.path.join(os.fsencode(tmp_path), b"out-\xff")],
                          capture_output=True, env=dict(os.environ, PYTHONIOENCODING="utf-8"), timeout=120)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert os.path.lexists(tmp_path / name)
    assert b"out-\\udcff" in proc.stdout + proc.stderr or command == ("export", "json")


# -- fuzzing (hypothesis) ---------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=int(os.environ.get("ATLASKB_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_names = st.sampled_from(["a", "b", "index.html", "CNAME", ".git", "static", fsutil.MANIFEST, fsutil.OWNER])
_rel = st.lists(_names, min_size=1, max_size=3).map("/".join)
_files = st.dictionaries(_rel, st.binary(max_size=20), max_size=6)
_mutation = st.tuples(st.sampled_from(["add", "edit", "delete", "link", "dir"]), _rel, st.binary(max_size=8))


def _write_tree(root: Path, files: dict) -> None:
    """Write what a command would; a path that collides with a folder is skipped."""
    for rel, data in sorted(files.items()):
        path = root / rel
        if any(part in (fsutil.MANIFEST, fsutil.OWNER) for part in path.relative_to(root).parts):
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except (IsADirectoryError, NotADirectoryError, FileExistsError):
            pass


def _mutate(root: Path, mutations) -> None:
    for op, rel, data in mutations:
        path = root / rel
        try:
            if op == "add" and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            elif op == "edit" and path.is_file() and not path.is_symlink():
                path.write_bytes(path.read_bytes() + b"!" + data)
            elif op == "delete" and path.is_file() and not path.is_symlink():
                path.unlink()
            elif op == "link" and not os.path.lexists(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                os.symlink("/etc/passwd", path)
            elif op == "dir" and not os.path.lexists(path):
                (path / "inner").mkdir(parents=True)
                (path / "inner" / "f").write_bytes(data)
        except (OSError, ValueError):
            pass


@FUZZ
@given(first=_files, mutations=st.lists(_mutation, max_size=4), second=_files)
def test_fuzz_a_second_output_never_loses_what_the_user_wrote(tmp_path_factory, first, mutations, second):
    parent = tmp_path_factory.mktemp("fuzz")
    target = parent / "out"
    with fsutil.output_dir(str(target), "fuzz", "the fuzzer") as tmp:
        _write_tree(Path(tmp), first)
    ours = set(fsutil.read_manifest(str(target))["files"])
    _mutate(target, mutations)
    before = tree(target)
    user_top = {k: v for k, v in before.items()
                if k.split("/", 1)[0] not in {p.split("/", 1)[0] for p in ours} | {fsutil.MANIFEST, fsutil.OWNER}}
    try:
        with fsutil.output_dir(str(target), "fuzz", "the fuzzer") as tmp:
            _write_tree(Path(tmp), second)
    except UsageError:
        assert tree(target) == before  # refused: nothing touched
    else:
        after = tree(target)
        for rel, data in user_top.items():  # everything the user added at the top survives
            assert after.get(rel) == data, rel
    assert sorted(p.name for p in parent.iterdir()) == ["out"]  # no temporary folder left


@FUZZ
@given(st.text(max_size=40))
def test_fuzz_out_paths_are_a_path_or_a_usage_error(text):
    try:
        path = fsutil.check_out_path(text)
    except UsageError as e:
        str(e).encode("utf-8")  # printable
    else:
        assert os.path.isabs(path)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=30,
)


@FUZZ
@given(doc=_json, result=st.dictionaries(st.sampled_from(
    ["technique", "attack", "metric", "higher_is_better", "baseline", "defended", "ci95", "params", "plots"]),
    _json, max_size=9))
def test_fuzz_results_json_loads_or_says_why(tmp_path_factory, doc, result):
    from atlaskb.errors import SourceError
    from atlaskb.evidence import load_results

    ev = tmp_path_factory.mktemp("ev")
    full = {"mitigation": "AML.M0006", "backend": "numpy", "device": "cpu", "dataset": "digits",
            "provenance": doc, "clean_accuracy": doc, "results": [result, doc]}
    for data in (doc, full):
        (ev / "results.json").write_text(json.dumps(data), encoding="utf-8")
        try:
            load_results(str(ev))
        except SourceError as e:
            assert "results.json" in str(e)


@FUZZ
@given(st.binary(max_size=300) | _json.map(lambda d: json.dumps({"format": 2, "key": "%KEY%", "nodes": d}).encode()))
def test_fuzz_cache_files_are_a_miss_or_a_graph(tmp_path_factory, monkeypatch, data):
    from atlaskb import cache

    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("ATLASKB_NO_CACHE", raising=False)
    src = tmp_path_factory.mktemp("src") / "ATLAS.yaml"
    src.write_text(TINY_RELEASE, encoding="utf-8")
    key = cache.cache_key([str(src)])
    path = Path(cache._file_for(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.replace(b"%KEY%", json.dumps(key)[1:-1].encode()))
    assert cache.get(key) is None or cache.get(key).graph is not None
    assert "AML.T0001" in atlaskb.load(str(src))


# -- nothing served runs a script (Chromium) ------------------------------------------------------

@pytest.mark.browser
def test_no_script_from_an_evidence_folder_runs_in_chromium(tmp_path, bundled_kb):
    from test_site_browser import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    ev = _evidence(tmp_path / "ev", ["plots/AML.T0043.002.svg", "plots/fake.png", "plots/real.png"])
    (ev / "plots").mkdir()
    (ev / "plots" / "AML.T0043.002.svg").write_text(SCRIPT_SVG, encoding="utf-8")
    (ev / "plots" / "fake.png").write_text("<html><script>alert(7)</script></html>", encoding="utf-8")
    _png(ev / "plots" / "real.png", text_chunk="<script>alert(8)</script>")
    site = tmp_path / "site"
    build_site(bundled_kb, str(site), evidence_dir=str(ev))
    pages = [site / "techniques" / "AML.T0043.002.html", site / "mitigations" / "AML.M0006.html",
             site / "evidence" / "index.html"]
    pages += sorted(p for p in (site / "evidence" / "files").rglob("*") if p.is_file())
    assert any(p.suffix == ".png" for p in pages)  # the real plot is served, and opened below
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Exception as e:  # noqa: BLE001 - a browser that cannot start is an environment gap
            pytest.skip(f"Chromium could not be started: {e}")
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto((ev / "plots" / "AML.T0043.002.svg").as_uri())  # the original would run:
            page.wait_for_timeout(200)
            assert dialogs, "the check cannot see a script run"  # so this test can fail
            dialogs.clear()
            for path in pages:
                page.goto(path.as_uri())
                page.wait_for_timeout(100)
            assert dialogs == []
        finally:
            browser.close()


def test_an_edit_made_while_the_site_builds_stops_the_swap(tmp_path, tiny_kb, monkeypatch):
    """The folder is checked again at the swap; a same-size edit with its mtime put back
    during the build is still seen (the inode's ctime moves, and then the hash decides)."""
    from atlaskb.site import build as build_mod

    site = tmp_path / "site"
    build_site(tiny_kb, str(site))
    page = site / "index.html"
    real = build_mod._render_all
    edited = {}

    def render_and_edit(*args, **kwargs):
        real(*args, **kwargs)
        st = page.stat()
        edited["bytes"] = page.read_bytes().replace(b"<", b"(", 1)
        page.write_bytes(edited["bytes"])
        os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))

    monkeypatch.setattr(build_mod, "_render_all", render_and_edit)
    with pytest.raises(UsageError, match="index.html was changed after atlaskb wrote it"):
        build_site(tiny_kb, str(site))
    assert page.read_bytes() == edited["bytes"] and (site / fsutil.MANIFEST).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_sigkill_at_random_moments_never_loses_the_users_files(tmp_path, release):
    """Kill `site build` at spread-out moments of a rebuild (render, manifest, carrying the
    user's entries, the swap); after each kill the output is either the old or the new
    site, and the next run leaves the user's CNAME and .git/ in place and nothing beside."""
    import random

    out = tmp_path / "out" / "site"
    args = [sys.executable, "-m", "atlaskb", "--source", release, "site", "build", "--out", str(out)]
    assert subprocess.run(args, capture_output=True, timeout=120).returncode == 0
    (out / "CNAME").write_text("atlas.example.org\n", encoding="utf-8")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n", encoding="utf-8")
    start = time.monotonic()
    assert subprocess.run(args, capture_output=True, timeout=120).returncode == 0
    full = time.monotonic() - start
    rng = random.Random(8)
    killed = 0
    for _ in range(6):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.0) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        assert subprocess.run(args, capture_output=True, timeout=120).returncode == 0
        assert (out / "CNAME").read_text(encoding="utf-8") == "atlas.example.org\n"
        assert (out / ".git" / "HEAD").read_text(encoding="utf-8") == "ref: refs/heads/gh-pages\n"
        assert sorted(p.name for p in out.parent.iterdir()) == ["site"]
        assert fsutil.read_manifest(str(out)) is not None
    assert killed, "no run was killed before it finished"


def test_a_swap_that_fails_puts_everything_back(tmp_path, tiny_kb, monkeypatch):
    site = tmp_path / "site"
    build_site(tiny_kb, str(site))
    (site / "CNAME").write_text("mine\n", encoding="utf-8")
    before = tree(site)
    real_replace = os.replace

    def failing_replace(src, dst):
        if ".tmp-" in os.fspath(src) and os.fspath(dst) == str(site):
            raise PermissionError(13, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        build_site(tiny_kb, str(site))
    assert tree(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_site_from_before_the_manifest_is_refused_with_a_hint(tmp_path, tiny_kb):
    site = tmp_path / "site"
    site.mkdir()
    (site / ".atlaskb-site").write_text("Built by `atlaskb site build`\n", encoding="utf-8")
    (site / "index.html").write_text("old", encoding="utf-8")
    with pytest.raises(UsageError, match="older than the manifest: if so, delete it"):
        build_site(tiny_kb, str(site))
    assert (site / "index.html").read_text(encoding="utf-8") == "old"


def test_removing_an_old_output_never_follows_a_link_out(tmp_path):
    """A stale `.old-` folder whose listed folder became a link: the files behind the
    link are not ours to remove."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "style.css").write_text("precious", encoding="utf-8")
    target = tmp_path / "site"
    target.mkdir()
    old = tmp_path / ".site.old-x"
    previous = old / "previous"
    previous.mkdir(parents=True)
    (previous / "index.html").write_text("ours", encoding="utf-8")
    (previous / fsutil.MANIFEST).write_text(json.dumps(
        {"written_by": "atlaskb", "kind": "site", "format": 1,
         "files": {"index.html": "x", "static/style.css": "y"}}), encoding="utf-8")
    os.symlink(elsewhere, previous / "static")
    (old / fsutil.OWNER).write_text(json.dumps(
        {"written_by": "atlaskb", "pid": dead_pid(), "start": None, "host": os.uname().nodename,
         "target": "site", "carried": []}), encoding="utf-8")
    fsutil.clean_leftovers(str(target))
    assert (elsewhere / "style.css").read_text(encoding="utf-8") == "precious"
    assert not (previous / "index.html").exists()
    assert (previous / "static").is_symlink()  # not ours: left for a person, with its folder
