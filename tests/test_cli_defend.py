"""`atlaskb defend`: list shape, a real run's files, and bad input without tracebacks."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import run_cli


def test_defend_list_json_shape():
    code, out, err = run_cli("defend", "list", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list)
    by_id = {m["mitigation"]: m for m in data}
    m6 = by_id["AML.M0006"]
    assert len(m6["techniques"]) == 11 and "AML.T0043.002" in m6["techniques"]
    assert all(isinstance(m["description"], str) and m["description"] for m in data)
    assert all("unmeasured" not in m for m in data)
    m2 = by_id["AML.M0002"]  # techniques and declared gaps together: its 11 ATLAS links
    assert len(set(m2["techniques"]) | {n["technique"] for n in m2["not_measured"]}) == 11


def test_defend_run_writes_results_and_identical_plots(tmp_path):
    """Two runs with the same seeds: results.json, PNG and SVG all written, atomically,
    and the plots byte-identical."""
    for name in ("a", "b"):
        code, _, err = run_cli("defend", "run", "AML.M0006", "--technique", "AML.T0043.003",
                               "--quick", "--seeds", "2", "--backend", "numpy",
                               "--out", str(tmp_path / name))
        assert code == 0, err
    out = tmp_path / "a"
    doc = json.loads((out / "results.json").read_text())
    assert {r["technique"] for r in doc["results"]} == {"AML.T0043.003"}
    assert (out / "plots" / "AML.T0043.003.png").read_bytes()[:4] == b"\x89PNG"
    svg = (out / "plots" / "AML.T0043.003.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<dc:date>" not in svg
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp left behind
    for ext in ("png", "svg"):
        a = (tmp_path / "a" / "plots" / f"AML.T0043.003.{ext}").read_bytes()
        b = (tmp_path / "b" / "plots" / f"AML.T0043.003.{ext}").read_bytes()
        assert a == b, ext
    b_doc = json.loads((tmp_path / "b" / "results.json").read_text())
    assert b_doc["results"] == doc["results"]


def test_unknown_mitigation_exits_1_without_traceback(tmp_path):
    code, out, err = run_cli("defend", "run", "AML.M9999", "--out", str(tmp_path / "x"))
    assert code == 1 and "AML.M9999" in err and "AML.M0006" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_unknown_technique_exits_1_with_choices(tmp_path):
    code, out, err = run_cli("defend", "run", "AML.M0006", "--technique", "AML.T0051",
                             "--out", str(tmp_path / "x"))
    assert code == 1 and "AML.T0051" in err and "AML.T0043.002" in err and "Traceback" not in err


def test_bad_npz_exits_2_with_a_clear_message(tmp_path):
    """An unusable --data file is a usage error (docs/cli.md: exit 2), as is a missing one."""
    p = tmp_path / "bad.npz"
    np.savez(p, pixels=np.zeros((3, 3)))
    code, out, err = run_cli("defend", "run", "AML.M0006", "--data", str(p), "--quick",
                             "--out", str(tmp_path / "x"))
    assert code == 2 and "expected arrays named 'x'" in err and "Traceback" not in err
    code, out, err = run_cli("defend", "run", "AML.M0006", "--data", str(tmp_path / "missing.npz"), "--quick",
                             "--out", str(tmp_path / "x"))
    assert code == 2 and "not found" in err and "Traceback" not in err


def test_cuda_on_numpy_is_a_usage_error(tmp_path):
    code, out, err = run_cli("defend", "run", "AML.M0006", "--backend", "numpy", "--device", "cuda",
                             "--out", str(tmp_path / "x"))
    assert code == 2 and "numpy backend runs on the CPU only" in err


def test_negative_diversity_is_a_usage_error(tmp_path):
    code, out, err = run_cli("defend", "run", "AML.M0006", "--diversity", "-0.5",
                             "--out", str(tmp_path / "x"))
    assert code == 2 and "--diversity" in err and "Traceback" not in err


def test_out_naming_a_foreign_folder_is_refused_before_running(tmp_path):
    """`--out` replaces the folder whole, so a folder that is not an evidence folder (no
    results.json) must be refused, untouched, before any training."""
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    code, out, err = run_cli("defend", "run", "AML.M0006", "--technique", "AML.T0043.003",
                             "--quick", "--seeds", "1", "--out", str(foreign))
    assert code == 2 and "refusing to replace" in err and "Traceback" not in err
    assert (foreign / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]


def test_out_that_cannot_be_written_is_a_usage_error_not_an_internal_one(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli("defend", "run", "AML.M0006", "--technique", "AML.T0043.003",
                             "--quick", "--seeds", "1", "--out", str(blocker / "evidence"))
    assert code == 2 and "cannot write" in err and "is a file, not a folder" in err
    assert "internal error" not in err and "Traceback" not in err


def test_out_holding_earlier_evidence_is_replaced(tmp_path):
    out = tmp_path / "ev"
    for _ in range(2):
        code, stdout, err = run_cli("defend", "run", "AML.M0006", "--technique", "AML.T0043.003",
                                    "--quick", "--seeds", "1", "--out", str(out))
        assert code == 0, err
    assert (out / "results.json").is_file()
    assert "1 seed)" in stdout and "1 seeds" not in stdout


def test_defend_list_table_has_a_row_per_technique():
    code, out, err = run_cli("defend", "list", "--format", "csv")
    assert code == 0, err
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(out)))
    assert {"Mitigation", "Technique", "Technique name"} <= set(rows[0])
    m6 = [(r["Technique"], r["Technique name"]) for r in rows if r["Mitigation"] == "AML.M0006"]
    # a sub-technique with its parent's name: "Data" or "Model" alone says nothing
    assert ("AML.T0043.002", "Craft Adversarial Data: Black-Box Transfer") in m6 and len(m6) == 11
