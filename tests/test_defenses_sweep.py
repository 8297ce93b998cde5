"""`atlaskb defend sweep`: cells, resume, executors, and equality with `defend run`.

One cheap technique (hand-made input edits on a small synthetic data set) keeps each sweep
to seconds of CPU; what is checked is the machinery, which is the same for every cell.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from atlaskb.defenses import runner, sweep as sweep_mod

ARGS = dict(mitigations=["AML.M0006"], techniques=["AML.T0043.003"], seeds=2, quick=True,
            dataset="synthetic:400")


def _without_timings(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    doc["provenance"].pop("timings")
    return doc


def _results(folder) -> dict:
    with open(os.path.join(folder, "AML.M0006", "results.json"), encoding="utf-8") as fh:
        return _without_timings(json.load(fh))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """`defend run` with the same seeds: what every sweep must reproduce."""
    out = tmp_path_factory.mktemp("run") / "evidence"
    runner.run(runner.Request("AML.M0006", ["AML.T0043.003"], quick=True, seeds=2, dataset="synthetic:400"),
               out=str(out))
    with open(out / "results.json", encoding="utf-8") as fh:
        return _without_timings(json.load(fh))


def _cells(folder) -> list[str]:
    return sorted(glob.glob(os.path.join(folder, "cells", "**", "*.json"), recursive=True))


def test_sweep_equals_run_and_writes_one_cell_per_technique_seed(tmp_path, reference):
    lines = []
    report = sweep_mod.sweep(out=str(tmp_path / "s"), log=lines.append, **ARGS)
    assert (report.computed, report.reused) == (4, 0)   # 2 seeds x (technique + clean accuracy)
    assert len(_cells(tmp_path / "s")) == 4
    assert _results(tmp_path / "s") == reference
    assert len(lines) == 2 and all("computed" in line for line in lines)  # one line per finished group


def test_rerun_reuses_everything_and_deleting_a_cell_recomputes_only_its_group(tmp_path, reference):
    out = str(tmp_path / "s")
    sweep_mod.sweep(out=out, **ARGS)
    again = sweep_mod.sweep(out=out, **ARGS)
    assert (again.computed, again.reused) == (0, 4)
    victim = [c for c in _cells(out) if "seed-1" in c and "AML.T0043.003" in c][0]
    os.remove(victim)
    resumed = sweep_mod.sweep(out=out, **ARGS)
    assert (resumed.computed, resumed.reused) == (1, 3)
    assert os.path.exists(victim)
    assert _results(out) == reference


def test_a_cell_from_another_configuration_is_never_mixed_in(tmp_path, reference):
    out = str(tmp_path / "s")
    sweep_mod.sweep(out=out, **ARGS)
    cell = [c for c in _cells(out) if "seed-0" in c and "AML.T0043.003" in c][0]
    with open(cell, encoding="utf-8") as fh:
        doc = json.load(fh)
    doc["key"]["config_hash"] = "0" * 16           # same file name, another configuration inside
    doc["rows"] = []
    with open(cell, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    report = sweep_mod.sweep(out=out, **ARGS)
    assert report.recomputed_bad == [cell] and report.computed == 1
    assert _results(out) == reference


@pytest.mark.parametrize("content", ["{not json", "[" * 100_000, '{"key": 1}', ""])
def test_unreadable_cells_are_recomputed_not_a_traceback(tmp_path, reference, content):
    out = str(tmp_path / "s")
    sweep_mod.sweep(out=out, **ARGS)
    cell = _cells(out)[0]
    with open(cell, "w", encoding="utf-8") as fh:
        fh.write(content)
    report = sweep_mod.sweep(out=out, **ARGS)
    assert report.recomputed_bad == [cell]
    assert _results(out) == reference


def test_a_different_configuration_writes_other_cells(tmp_path):
    out = str(tmp_path / "s")
    sweep_mod.sweep(out=out, **{**ARGS, "seeds": 1})
    other = sweep_mod.sweep(out=out, **{**ARGS, "seeds": 1, "quick": False})
    assert other.reused == 0 and other.computed == 2
    assert len(_cells(out)) == 4


def test_worker_processes_give_the_same_results(tmp_path, reference):
    report = sweep_mod.sweep(out=str(tmp_path / "s"), workers=2, **ARGS)
    assert report.computed == 4
    assert _results(tmp_path / "s") == reference


def test_ray_executor_gives_the_same_results(tmp_path, reference):
    pytest.importorskip("ray")
    from atlaskb.errors import AtlasError

    try:
        report = sweep_mod.sweep(out=str(tmp_path / "s"), executor="ray", workers=2, **ARGS)
    except AtlasError as e:
        if "cannot start or reach Ray" not in str(e):
            raise
        pytest.skip(f"Ray could not start on this machine: {e}")  # an overloaded host, not our code
    assert report.computed == 4
    assert _results(tmp_path / "s") == reference


def test_sigkill_midway_then_rerun_finishes_with_the_same_results(tmp_path, reference):
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "atlaskb", "defend", "sweep", "AML.M0006", "--technique", "AML.T0043.003",
           "--seeds", "2", "--quick", "--data", "synthetic:400", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not _cells(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "computed" in done.stdout and "reused" in done.stdout
    assert not glob.glob(str(out / "cells" / "**" / ".*"), recursive=True)
    assert _results(out) == reference


def test_out_must_be_a_sweep_folder_or_new(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="no sweep wrote"):
        sweep_mod.sweep(out=str(foreign), **ARGS)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(Exception, match="empty"):
        sweep_mod.sweep(out="", **ARGS)


def test_unknown_technique_or_executor_is_refused_before_any_work(tmp_path):
    with pytest.raises(Exception, match="AML.T9999"):
        sweep_mod.sweep(out=str(tmp_path / "s"), **{**ARGS, "techniques": ["AML.T9999"]})
    with pytest.raises(Exception, match="executor"):
        sweep_mod.sweep(out=str(tmp_path / "s"), executor="slurm", **ARGS)
    assert not (tmp_path / "s").exists()


def test_cli_says_what_was_computed_and_reused(tmp_path, cli):
    args = ["defend", "sweep", "AML.M0006", "--technique", "AML.T0043.003", "--seeds", "1", "--quick",
            "--data", "synthetic:400", "--out", str(tmp_path / "s")]
    code, out, err = cli(*args)
    assert code == 0, err
    assert "2 cells computed, 0 reused" in out
    assert "quick run: indicative" in out
    code, out, err = cli(*args)
    assert code == 0 and "0 cells computed, 2 reused" in out


def test_a_sweep_folder_is_evidence_for_every_reader(tmp_path, cli):
    from atlaskb.evidence import load_evidence
    from atlaskb.errors import SourceError

    out = tmp_path / "s"
    sweep_mod.sweep(out=str(out), **{**ARGS, "seeds": 1})
    ev = load_evidence(str(out))
    assert ("AML.M0006", "AML.T0043.003") in ev
    code, stdout, err = cli("coverage", "--have", "AML.M0006", "--evidence", str(out), "--format", "json")
    assert code == 0, err
    covered = {c["id"]: c["status"] for c in json.loads(stdout)["covered"]}
    assert covered["AML.T0043.003"] != "unmeasured"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / sweep_mod.MARKER).write_text("{}")
    with pytest.raises(SourceError, match="no results yet"):
        load_evidence(str(empty))


def test_cells_keep_every_field_of_a_measurement():
    """A cell must give back exactly what the experiment returned, AUC positives included
    (dropping a field once made a membership row's interval collapse to zero width)."""
    import dataclasses

    import numpy as np

    from atlaskb.defenses import stats
    from atlaskb.defenses.threat import ThreatModel

    rows = [{"baseline": stats.auc([0.1, 0.9, 0.4, 0.7], [0, 1, 0, 1], ids=np.arange(4)),
             "defended": stats.rate([True, False, True], np.array([3, 1, 2])),
             "threat_model": ThreatModel("labels", "linf", 0.1, 100, True),
             "params": {"k": np.int64(3), "eps": np.float32(0.25)}, "series": None}]
    back = sweep_mod._decode(json.loads(json.dumps(sweep_mod._encode(rows))))
    for side in ("baseline", "defended"):
        for f in dataclasses.fields(stats.Points):
            a, b = getattr(rows[0][side], f.name), getattr(back[0][side], f.name)
            assert (a is None and b is None) or np.array_equal(a, b), f.name
            assert getattr(a, "dtype", None) == getattr(b, "dtype", None), f.name
    assert back[0]["threat_model"] == rows[0]["threat_model"]
    assert back[0]["params"] == {"k": 3, "eps": 0.25}
