"""`atlaskb export`'s command-line contract, the same for every format: deterministic,
--out equal to stdout with no temporary file left, and sources with no objects fail
without touching the old file."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli


@pytest.mark.parametrize("kind", ["json", "stix", "navigator", "csv", "graphml"])
def test_export_of_sources_with_no_objects_fails_and_keeps_the_old_file(kind, tmp_path):
    empty = tmp_path / "EMPTY.json"
    empty.write_text("{}", encoding="utf-8")
    out = tmp_path / "F"
    out.write_text("a good export\n", encoding="utf-8")
    code, stdout, err = run_cli("--source", str(empty), "export", kind, "--out", str(out))
    assert code != 0 and "no ATLAS objects" in err
    assert out.read_text(encoding="utf-8") == "a good export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EMPTY.json", "F"]


# -- the command-line contract ------------------------------------------------------------------

@pytest.mark.parametrize("args", [("navigator",), ("csv", "--what", "edges"), ("graphml",), ("stix",)])
def test_exports_are_deterministic_and_out_matches_stdout(args, tmp_path):
    code, first, err = run_cli("export", *args)
    assert code == 0, err
    _, second, _ = run_cli("export", *args)
    assert first == second
    out = tmp_path / "sub" / "file"
    code, stdout, _ = run_cli("export", *args, "--out", str(out))
    assert code == 0 and stdout == ""
    assert out.read_text(encoding="utf-8") == first
    assert [p.name for p in out.parent.iterdir()] == ["file"]  # no temporary file left behind


def test_export_json_still_works():
    code, out, _ = run_cli("export", "json")
    assert code == 0
    assert set(json.loads(out)) == {"nodes", "edges"}
