"""The command line as people and scripts meet it: a reader that leaves early, mistyped
commands, search by word forms, names that say what a sub-technique is, coverage."""

from __future__ import annotations

import csv
import io
import json
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


# -- search: word forms and sub-techniques ---------------------------------------------------

def _ids(args):
    code, out, err = run_cli(*args, "--format", "json")
    assert code == 0, err
    return [r["id"] for r in json.loads(out)]


def test_search_matches_word_forms():
    found = _ids(("search", "poisoning"))
    assert "AML.T0020" in found and "AML.T0018.000" in found  # Poison Training Data, Poison AI Model
    assert "AML.T0020" in _ids(("search", "poisoned", "training"))


def test_search_finds_sub_techniques_by_their_parents_name():
    found = _ids(("search", "prompt", "injection", "--type", "technique"))
    assert {"AML.T0051", "AML.T0051.000", "AML.T0051.001", "AML.T0051.002"} <= set(found)
    assert found.index("AML.T0051.000") < 8  # a name match, ranked before description matches


def test_search_never_merges_unrelated_words():
    from atlaskb.textmatch import Haystack, stem

    assert stem("poisoning") == stem("poisoned") == stem("poisons") == "poison"
    assert stem("class") == "class" and stem("analysis") == "analysis" and stem("status") == "status"
    assert not Haystack("Layout of the matrix").has("layers")
    assert Haystack("AML.T0051.000").has("t0051")  # as typed, inside a word


def test_one_match_is_singular():
    code, out, _ = run_cli("search", "AML.T0051.002")
    assert code == 0 and out.rstrip().endswith("1 match")


# -- coverage and recommend name what they mean ------------------------------------------------

def test_coverage_lists_covered_techniques_and_tactics_in_kill_chain_order(bundled_kb):
    from atlaskb import queries

    code, out, err = run_cli("coverage", "--have", "AML.M0015", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data["by_tactic"]) == queries.tactics(bundled_kb)
    code, table, _ = run_cli("coverage", "--have", "AML.M0015")
    assert "Covered techniques (9)" in table and "Craft Adversarial Data: White-Box Optimization" in table
    code, text, _ = run_cli("coverage", "--have", "AML.M0015", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    covered = [r for r in rows if r["section"].startswith("Covered techniques")]
    assert {r["ID"] for r in covered} == set(data["covered"])


def test_gaps_and_recommendations_name_sub_techniques_with_their_parent():
    code, table, _ = run_cli("coverage", "--have", "AML.M0015", "--gaps", "200")
    assert "External Harms: User Harm" in table
    code, table, _ = run_cli("recommend", "--have", "AML.M0015", "--top", "1")
    assert "Exfiltration via AI Inference API: Invert AI Model" in table


# -- matrix ---------------------------------------------------------------------------------

def test_matrix_fits_80_to_120_columns_without_chopping_words(bundled_kb):
    from atlaskb import queries

    for width in (80, 100, 120):
        code, out, err = run_cli("matrix", "--sub", "--width", str(width))
        assert code == 0, err
        assert max(len(line) for line in out.splitlines()) <= width
        for t in bundled_kb.nodes_of_type("technique"):
            name = bundled_kb.graph.nodes[t]["name"]
            assert f"{t}  {name}" in out, (width, t)  # whole names, never cut into pieces
    headers = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert [h.split("(")[1].split(")")[0] for h in headers] == queries.tactics(bundled_kb)


def test_matrix_piped_is_one_entry_a_line():
    code, out, _ = run_cli("matrix")  # not a terminal
    lines = out.splitlines()
    assert "  AML.T0000  Search Open Technical Databases" in lines
    assert max(len(line) for line in lines) < 100
    code, out, _ = run_cli("matrix", "--format", "csv")
    assert out.splitlines()[0] == "Tactic,Tactic name,ID,Name,Parent"


# -- show ------------------------------------------------------------------------------------

def test_show_keeps_where_it_was_read_for_provenance():
    code, out, _ = run_cli("show", "AML.T0043.002", "--format", "json")
    obj = json.loads(out)
    assert not {"file", "line", "has_page"} & set(obj)
    code, table, _ = run_cli("show", "AML.T0043.002")
    assert "has_page" not in table and ".md" not in table
    code, out, _ = run_cli("show", "AML.T0043.002", "--provenance", "--format", "json")
    obj = json.loads(out)
    assert obj["file"].endswith(".md") and obj["line"] >= 1 and obj["has_page"] is True


def test_attack_names_read_as_words():
    from atlaskb.evidence import attack_label

    assert attack_label("pgd_linf_adaptive") == "PGD L∞ adaptive"
    assert attack_label("simba_logprob_margin") == "SimBA log-prob margin"
    assert attack_label("boundary_label_only") == "Boundary label only"
    assert attack_label("apgd_linf_adaptive_median_filter") == "APGD L∞ adaptive median filter"
    assert attack_label("Already readable") == "Already readable" and attack_label("") == ""
