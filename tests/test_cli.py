"""The command line itself (cli/__init__): a reader that leaves early is not a failure, and
mistyped commands get a suggestion. Each command's behaviour: test_cli_<module>.py."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, run_cli


def _warning_vault(root, pages: int) -> None:
    """A vault whose lint output (two warnings a page, no errors) far exceeds a pipe's
    buffer, so a reader that stops after one line really closes the pipe on the writer."""
    folder = root / "mitigations"
    folder.mkdir(parents=True)
    for i in range(pages):
        (folder / f"m{i}.md").write_text(
            f"---\nid: m{i}\ntype: mitigation\n---\n# AML.M{i:04d}: Mitigation {i}\n\n## Metadata\n\n"
            f"- **Mitigation ID:** AML.M{i:04d}\n- **Created:** someday\n", encoding="utf-8")


def test_lint_into_head_exits_0(tmp_path):
    """`atlaskb lint | head -1`: the reader leaving is not a failure (click makes it exit 1)."""
    _warning_vault(tmp_path / "vault", 400)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "atlaskb", "--source", str(tmp_path / "vault"), "lint"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
        assert b"warning" in first and "Traceback" not in err and "Exception ignored" not in err


def test_mistyped_command_gets_a_suggestion():
    code, _, err = run_cli("serch", "poisoning")
    assert code == 2 and "No such command 'serch'" in err and "Did you mean 'search'?" in err
    code, _, err = run_cli("xyzzy")
    assert code == 2 and "No such command 'xyzzy'." in err and "Did you mean" not in err
