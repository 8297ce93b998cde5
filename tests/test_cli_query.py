"""Query commands as analysts and scripts use them: answers checked against MITRE's
release, the four output formats, batch input, and bad input (exit codes, suggestions,
no tracebacks, no ANSI codes when piped)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import yaml

from conftest import FIXTURES, run_cli, run_cli_process

ANSI = re.compile(r"\x1b\[")


def release_mitigations_of(release, technique):
    m = release["matrices"][0]
    return sorted(x["id"] for x in m["mitigations"] if any(t["id"] == technique for t in x.get("techniques", [])))


def ok(*args, input=None):
    code, out, err = run_cli(*args, input=input)
    assert code == 0, (args, code, out, err)
    assert "Traceback" not in err
    return out


# -- answers --------------------------------------------------------------------------------

def test_mitigations_match_the_release(raw_release_56):
    rows = json.loads(ok("mitigations", "AML.T0043.002", "--format", "json"))
    assert [r["id"] for r in rows] == release_mitigations_of(raw_release_56, "AML.T0043.002") \
        == ["AML.M0003", "AML.M0006", "AML.M0010", "AML.M0015"]
    assert all(r["name"] and r["technique"] == "AML.T0043.002" and r["via"] is None for r in rows)


def test_mitigations_notes_from_the_release(atlas_yaml_56, raw_release_56):
    rows = json.loads(ok("--source", str(atlas_yaml_56), "mitigations", "AML.T0043.002", "--format", "json"))
    notes = {r["id"]: r["note"] for r in rows}
    # Compared with the release itself: MITRE's note text is not copied into our tests.
    (m0003,) = [m for m in raw_release_56["matrices"][0]["mitigations"] if m["id"] == "AML.M0003"]
    (link,) = [t for t in m0003["techniques"] if t["id"] == "AML.T0043.002"]
    assert notes["AML.M0003"] == " ".join(link["use"].split())


def test_rollup_marks_parent_mitigations(raw_release_56):
    rows = json.loads(ok("mitigations", "AML.T0043.002", "--rollup", "--format", "json"))
    direct = {r["id"] for r in rows if r["via"] is None}
    via_parent = {r["id"] for r in rows if r["via"] == "AML.T0043"}
    assert direct == set(release_mitigations_of(raw_release_56, "AML.T0043.002"))
    assert via_parent == set(release_mitigations_of(raw_release_56, "AML.T0043")) - direct
    assert via_parent  # the parent has mitigations its sub-technique does not list


def test_techniques_grouped_by_tactic_in_kill_chain_order(raw_release_56):
    rows = json.loads(ok("techniques", "AML.M0003", "--format", "json"))
    m = next(x for x in raw_release_56["matrices"][0]["mitigations"] if x["id"] == "AML.M0003")
    assert sorted(r["id"] for r in rows) == sorted(t["id"] for t in m["techniques"])
    tactic_order = [t["id"] for t in raw_release_56["matrices"][0]["tactics"]]
    firsts = [tactic_order.index(r["tactics"][0]) for r in rows]
    assert firsts == sorted(firsts)
    out = ok("techniques", "AML.M0003")
    # AML.T0015 achieves three tactics: the table lists it under each.
    assert out.count("AML.T0015") == 3


def test_tactics_and_matrix_follow_the_release(raw_release_56):
    order = [t["id"] for t in raw_release_56["matrices"][0]["tactics"]]
    rows = json.loads(ok("tactics", "--format", "json"))
    assert [r["id"] for r in rows] == order
    columns = json.loads(ok("matrix", "--format", "json"))
    assert [c["id"] for c in columns] == order
    staging = next(c for c in columns if c["id"] == "AML.TA0001")
    assert "AML.T0043" in [t["id"] for t in staging["techniques"]]
    assert "AML.T0043.002" not in [t["id"] for t in staging["techniques"]]
    with_subs = json.loads(ok("matrix", "--sub", "--format", "json"))
    staging = next(c for c in with_subs if c["id"] == "AML.TA0001")
    assert "AML.T0043.002" in [t["id"] for t in staging["techniques"]]


def test_show_technique_and_names_resolve():
    obj = json.loads(ok("show", "Black-Box Transfer", "--format", "json"))
    assert obj["id"] == "AML.T0043.002" and obj["type"] == "technique"
    assert obj["parent"]["id"] == "AML.T0043"
    assert [t["id"] for t in obj["tactics"]] == ["AML.TA0001"]
    assert [m["id"] for m in obj["mitigations"]] == ["AML.M0003", "AML.M0006", "AML.M0010", "AML.M0015"]
    assert obj["case_studies"] and all(c["steps"] for c in obj["case_studies"])
    assert json.loads(ok("show", "aml.m0003", "--format", "json"))["id"] == "AML.M0003"


def test_show_batch_gives_an_array():
    objs = json.loads(ok("show", "AML.M0003", "AML.TA0001", "AML.CS0000", "--format", "json"))
    assert [o["id"] for o in objs] == ["AML.M0003", "AML.TA0001", "AML.CS0000"]
    assert objs[2]["techniques"] and objs[1]["techniques"]


def test_case_studies_match_the_release(raw_release_56):
    using = sorted(cs["id"] for cs in raw_release_56["case-studies"]
                   if any(s.get("technique") == "AML.T0043.002" for s in cs.get("procedure", [])))
    rows = json.loads(ok("case-studies", "AML.T0043.002", "--format", "json"))
    assert [r["id"] for r in rows] == using
    assert all(r["steps"] for r in rows)
    everything = json.loads(ok("case-studies", "--format", "json"))
    assert len(everything) == len(raw_release_56["case-studies"])


def test_search_ranks_and_filters():
    rows = json.loads(ok("search", "poison", "--type", "mitigation", "--format", "json"))
    assert rows and all(r["type"] == "mitigation" and r["id"] and r["name"] for r in rows)
    rows = json.loads(ok("search", "AML.T0043", "--format", "json"))
    assert rows[0]["id"].startswith("AML.T0043")
    code, out, err = run_cli("search", "zzzzqqq-nothing")
    assert code == 1 and "nothing matches" in err and out == ""


def test_path_is_shortest_and_deterministic():
    data = json.loads(ok("path", "AML.M0006", "AML.CS0000", "--format", "json"))
    assert data["path"][0]["id"] == "AML.M0006" and data["path"][-1]["id"] == "AML.CS0000"
    assert data["length"] == len(data["path"]) - 1 == 2
    assert data["path"][1]["link"] == "mitigates" and data["path"][2]["link"] == "uses (reverse)"
    assert ok("path", "AML.M0006", "AML.CS0000", "--format", "json") == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    same = json.loads(ok("path", "AML.T0043.002", "AML.T0043.002", "--format", "json"))
    assert same["length"] == 0


# -- batch ------------------------------------------------------------------------------------

def test_batch_from_stdin_equals_arguments():
    ids = "AML.T0043.002\n\n# comment\nAML.T0015\nAML.T0043.002\n"
    from_stdin = json.loads(ok("mitigations", "-", "--format", "json", input=ids))
    from_args = json.loads(ok("mitigations", "AML.T0043.002", "AML.T0015", "--format", "json"))
    assert from_stdin == from_args
    assert {r["technique"] for r in from_args} == {"AML.T0043.002", "AML.T0015"}
    assert json.loads(ok("mitigations", "--stdin", "--format", "json", input=ids)) == from_args


def test_batch_reports_unknown_and_answers_the_rest():
    code, out, err = run_cli("mitigations", "-", "--format", "json", input="AML.T0043.002\nAML.T9999\n")
    assert code == 1
    assert {r["technique"] for r in json.loads(out)} == {"AML.T0043.002"}
    assert "AML.T9999" in err and "did you mean" in err and "Traceback" not in err


# -- formats ----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["mitigations", "AML.T0043.002"], ["techniques", "AML.M0003"],
                                     ["search", "evade"], ["case-studies", "AML.T0043.002"]])
def test_json_contract_array_of_objects_with_id_and_name(command):
    data = json.loads(ok(*command, "--format", "json"))
    assert isinstance(data, list) and data
    assert all(isinstance(r, dict) and r["id"] and "name" in r for r in data)


def test_global_format_option_and_local_override():
    assert json.loads(ok("--format", "json", "tactics"))[0]["id"] == "AML.TA0002"
    assert ok("--format", "json", "tactics", "--format", "csv").startswith("ID,Name")


def test_json_is_deterministic_and_sorted():
    a = ok("show", "AML.T0043.002", "--format", "json")
    b = ok("show", "AML.T0043.002", "--format", "json")
    assert a == b
    obj = json.loads(a)
    assert list(obj) == sorted(obj)


def test_csv_shape():
    rows = list(csv.reader(io.StringIO(ok("mitigations", "AML.T0043.002", "AML.T0015", "--format", "csv"))))
    assert rows[0] == ["Technique", "ID", "Name", "Note"]
    assert ["AML.T0043.002", "AML.M0003", "Model Hardening", ""] in rows
    # several tables (show) become one CSV with a leading section column
    rows = list(csv.reader(io.StringIO(ok("show", "AML.T0043.002", "--format", "csv"))))
    assert rows[0][0] == "section" and any(r[0] == "Mitigations" for r in rows[1:])


def test_yaml_shape():
    data = yaml.safe_load(ok("mitigations", "AML.T0043.002", "--format", "yaml"))
    assert [r["id"] for r in data] == ["AML.M0003", "AML.M0006", "AML.M0010", "AML.M0015"]


def test_piped_table_is_plain_aligned_text():
    out = ok("mitigations", "AML.T0043.002")
    assert not ANSI.search(out)
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("ID"))
    assert set(lines[header + 1].replace(" ", "")) == {"-"}
    assert lines[header + 2].startswith("AML.M0003  Model Hardening")
    assert all(line == line.rstrip() for line in lines)


def test_tty_table_uses_rich_and_no_color(monkeypatch):
    from atlaskb.cli import output

    monkeypatch.setattr(output, "_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = ok("mitigations", "AML.T0043.002")
    assert "Model Hardening" in coloured and ANSI.search(coloured)
    assert "─" in coloured  # a rich table rule, not the plain dashes
    plain = ok("--no-color", "mitigations", "AML.T0043.002")
    assert "Model Hardening" in plain and "─" in plain and not ANSI.search(plain)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(ok("mitigations", "AML.T0043.002"))


# -- bad input --------------------------------------------------------------------------------

def test_unknown_id_exits_1_with_suggestion():
    code, out, err = run_cli("mitigations", "AML.T0043.02")
    assert code == 1 and out == ""
    assert "did you mean" in err and "AML.T0043.002" in err
    code, out, err = run_cli("show", "Black-Box Transfr")
    assert code == 1 and "did you mean" in err and "AML.T0043.002" in err


def test_wrong_type_says_which_command_to_use():
    code, _, err = run_cli("mitigations", "AML.M0003")
    assert code == 1 and "is a mitigation" in err and "atlaskb techniques AML.M0003" in err


def test_missing_argument_is_usage_error():
    code, _, err = run_cli("mitigations")
    assert code == 2 and "at least one ID" in err
    code, _, err = run_cli("mitigations", "AML.T0043.002", "--format", "xml")
    assert code == 2


def test_ambiguous_partial_name_suggests_candidates():
    code, _, err = run_cli("show", "adversarial")
    assert code == 1 and "did you mean" in err


def test_real_process_no_traceback_and_no_ansi():
    code, out, err = run_cli_process("mitigations", "AML.T0099999")
    assert code == 1 and "Traceback" not in err and "did you mean" in err
    code, out, err = run_cli_process("mitigations", "AML.T0043.002")
    assert code == 0 and not ANSI.search(out) and "AML.M0015" in out


def test_show_evidence(tmp_path):
    results = {
        "mitigation": "AML.M0006", "backend": "numpy", "device": "cpu", "dataset": "digits",
        "provenance": {"seeds": [0]}, "clean_accuracy": {"baseline": 0.97, "defended": 0.98},
        "results": [
            {"technique": "AML.T0043.002", "attack": "transfer-fgsm", "metric": "robust_accuracy",
             "higher_is_better": True, "baseline": 0.41, "defended": 0.63,
             "ci95": {"baseline": [0.38, 0.44], "defended": [0.58, 0.68]}, "params": {},
             "difference": {"mean": 0.22, "ci95": [0.15, 0.29]}, "verdict": "better"},
            {"technique": "AML.T0000", "attack": "x", "metric": "accuracy", "higher_is_better": True,
             "baseline": 0.5, "defended": 0.5, "ci95": None, "params": {},
             "difference": {"mean": 0.0, "ci95": [-0.05, 0.05]}, "verdict": "no clear difference"},
        ],
    }
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    code, out, err = run_cli("show", "AML.T0043.002", "--evidence", str(tmp_path), "--format", "json")
    assert code == 0, err
    m6 = next(m for m in json.loads(out)["mitigations"] if m["id"] == "AML.M0006")
    assert m6["evidence"][0]["defended"] == 0.63
    assert m6["status"] == "supported"  # the link's evidence status beside the mitigation
    assert {m["status"] for m in json.loads(out)["mitigations"] if m["id"] != "AML.M0006"} == {"unmeasured"}
    assert "AML.T0000" in err  # evidence for a link the graph lacks is reported, not dropped
    text = ok("show", "AML.T0043.002", "--evidence", str(tmp_path))
    assert "Measured evidence" in text and "0.63" in text and "transfer-fgsm" in text
    assert "[0.38, 0.44]" in text and "[0.58, 0.68]" in text
    code, _, err = run_cli("show", "AML.T0043.002", "--evidence", str(tmp_path / "none"))
    assert code == 2 and "results.json" in err and "Traceback" not in err


def test_shell_completion_of_commands_and_ids():
    import os

    env = dict(os.environ, _ATLASKB_COMPLETE="bash_complete", COMP_WORDS="atlaskb mitigations AML.T0043.00",
               COMP_CWORD="2")
    code, out, err = run_cli_process(env=env)
    assert code == 0 and "Traceback" not in err
    assert "plain,AML.T0043.002" in out.splitlines() and "AML.M0003" not in out
    env.update(COMP_WORDS="atlaskb cov", COMP_CWORD="1")
    assert "plain,coverage" in run_cli_process(env=env)[1].splitlines()


def test_empty_note_column_is_left_out_of_tables_but_kept_in_csv(atlas_yaml_56):
    assert "Note" not in ok("mitigations", "AML.T0043.002").splitlines()[1]
    assert ok("mitigations", "AML.T0043.002", "--format", "csv").splitlines()[0] == "ID,Name,Note"
    assert "Note" in ok("--source", str(atlas_yaml_56), "mitigations", "AML.T0043.002").splitlines()[1]


def test_csv_lines_end_the_same_in_every_command():
    for args in (("mitigations", "AML.T0043.002"), ("export", "csv", "--what", "mitigates")):
        out = ok(*args, *(("--format", "csv") if args[0] != "export" else ()))
        assert "\r" not in out and out.count("\n") > 1


# -- broken graphs, empty, ambiguous and prefix-less queries ----------------------------------

@pytest.mark.parametrize("args", [
    ("show", "ACME.T0001.001"),
    ("coverage", "--have", "ACME.M0001"),
    ("export", "navigator", "--score", "coverage", "--have", "ACME.M0001"),
])
def test_commands_survive_a_subtechnique_cycle(args):
    code, out, err = run_cli("--source", str(FIXTURES / "vault_defects"), *args)
    assert code == 0, err
    assert "internal error" not in err and "Recursion" not in err


def test_empty_argument_is_a_usage_error(nameless_vault):
    code, out, err = run_cli("--source", nameless_vault, "show", "")
    assert code == 2 and out == "" and "empty" in err
    code, out, err = run_cli("search", " ")
    assert code == 2 and out == "" and "word" in err


def test_ambiguous_partial_name_says_so():
    code, _, err = run_cli("show", "adversarial")
    assert code == 1 and "ambiguous" in err and "did you mean" in err and "no object matches" not in err
    code, _, err = run_cli("show", "poison")  # 17 hits: the closest names are offered first
    assert code == 1 and "AML.T0020 (Poison Training Data)" in err and "(or 12 more)" in err


def test_show_json_shape_follows_the_arguments_not_their_dedup():
    for args in (("AML.T0051", "AML.T0051"), ("AML.T0051", "aml.t0051")):
        code, out, err = run_cli("show", *args, "--format", "json")
        assert code == 0, err
        data = json.loads(out)
        assert isinstance(data, list) and [d["id"] for d in data] == ["AML.T0051"]


def test_ids_without_the_aml_prefix_resolve_as_site_build_takes_them():
    code, out, err = run_cli("coverage", "--have", "m0006", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["have"] == ["AML.M0006"]
    code, out, err = run_cli("mitigations", "T0043.002", "--format", "json")
    assert code == 0, err
    assert {r["technique"] for r in json.loads(out)} == {"AML.T0043.002"}
    code, _, err = run_cli("mitigations", "M0003")
    assert code == 1 and "AML.M0003 is a mitigation" in err


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


def test_one_match_is_singular():
    code, out, _ = run_cli("search", "AML.T0051.002")
    assert code == 0 and out.rstrip().endswith("1 match")


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


def test_show_keeps_where_it_was_read_for_provenance():
    code, out, _ = run_cli("show", "AML.T0043.002", "--format", "json")
    obj = json.loads(out)
    assert not {"file", "line", "has_page"} & set(obj)
    code, table, _ = run_cli("show", "AML.T0043.002")
    assert "has_page" not in table and ".md" not in table
    code, out, _ = run_cli("show", "AML.T0043.002", "--provenance", "--format", "json")
    obj = json.loads(out)
    assert obj["file"].endswith(".md") and obj["line"] >= 1 and obj["has_page"] is True
