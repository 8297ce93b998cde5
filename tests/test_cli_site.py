"""`atlaskb site build`: options, bad input as a message and an exit code, unwritable output.
(`--templates`: test_site_templates.py.)"""

from __future__ import annotations

import os

import pytest


def test_cli_builds_the_site(tmp_path, cli):
    out = tmp_path / "site"
    code, stdout, stderr = cli("site", "build", "--out", str(out), "--have", "M0006,AML.M0003")
    assert code == 0, stderr
    assert "Site written to" in stdout and (out / "coverage.html").is_file()


def test_cli_reports_bad_input_without_traceback(tmp_path, cli):
    code, _out, err = cli("site", "build", "--out", str(tmp_path / "s"), "--have", "AML.M9999")
    assert code == 1 and "no object matches" in err and "Traceback" not in err
    profile = tmp_path / "p.yaml"
    profile.write_text("mitigations: [AML.M0006]\n", encoding="utf-8")
    code, _out, err = cli("site", "build", "--out", str(tmp_path / "s"), "--have", "M0006", "--profile", str(profile))
    assert code == 2 and "not both" in err
    code, _out, err = cli("site", "build", "--out", str(tmp_path / "s"), "--evidence", str(tmp_path / "none"))
    assert code != 0 and "Traceback" not in err


def test_cli_unwritable_output_is_a_message(tmp_path, cli):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code, _out, err = cli("site", "build", "--out", str(blocker / "site"))
    assert code != 0 and "Traceback" not in err and "internal error" not in err, err


def test_cli_profile(tmp_path, cli):
    profile = tmp_path / "p.yaml"
    profile.write_text("mitigations:\n  - id: AML.M0015\n    note: WAF rules\n    strength: 0.5\n", encoding="utf-8")
    code, _out, err = cli("site", "build", "--out", str(tmp_path / "s"), "--profile", str(profile))
    assert code == 0, err
    cov = (tmp_path / "s" / "coverage.html").read_text(encoding="utf-8")
    assert "WAF rules" in cov and "0.5" in cov


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc (a folder nobody can create in)")
def test_cli_unwritable_output_names_the_folder_asked_for_not_a_temporary_one(cli):
    code, _out, err = cli("site", "build", "--out", "/proc/atlaskb-site-test")
    assert code == 1 and "cannot write the site to /proc/atlaskb-site-test" in err
    assert ".tmp-" not in err and "Traceback" not in err

