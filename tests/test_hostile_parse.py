"""Hostile input to the loaders and what is built on them: a corpus generated here (no big
files in the repository) and property tests that would have found the classes that once
broke atlaskb.

Contract: no traceback, no hang over HANG_LIMIT_S, no process over MEMORY_LIMIT_MB for
inputs of a few MB; bad input gets a finding that names the file (and line), and the rest
of the input still loads. The limits are hang and blow-up guards, generous on purpose: a
regression to quadratic or cubic behaviour blows through them, normal speed never nears
them (none of the pathological inputs takes over 2 s today; before, several ran for
minutes).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import atlaskb
from atlaskb import queries
from atlaskb.kb import build
from atlaskb.model import is_id
from atlaskb.sources.atlas_yaml import read_atlas_yaml
from atlaskb.sources.files import MAX_FIELD_CHARS, YamlProblem, load_data_yaml, load_frontmatter_yaml
from atlaskb.sources.stix import read_stix
from atlaskb.sources.vault import parse_page
from conftest import run_cli

HANG_LIMIT_S = 30
MEMORY_LIMIT_MB = 1024

GOOD_PAGE = (
    "---\ntitle: \"AML.M0100: Good Control\"\ntype: mitigation\n---\n\n# AML.M0100: Good Control\n\n"
    "Prose.\n\n## Metadata\n\n- **Created:** 2024-01-01\n- **Last Modified:** 2024-01-02\n\n"
    "## Techniques (1)\n\n- [[t/evade|AML.T0015: Evade AI Model]] — note\n"
)


def page(body: str = "Prose.", frontmatter: str = "") -> str:
    """A mitigation page AML.M0101 with extra frontmatter lines and a body."""
    return f"---\ntitle: \"AML.M0101: Bad\"\ntype: mitigation\n{frontmatter}---\n\n# AML.M0101: Bad\n\n{body}\n"


def make_vault(tmp_path: Path, files: dict) -> Path:
    """A vault with the good page and `files` (name -> str or bytes) beside it."""
    root = tmp_path / "vault"
    (root / "m").mkdir(parents=True)
    (root / "m" / "good.md").write_text(GOOD_PAGE, encoding="utf-8")
    for name, content in files.items():
        target = os.path.join(os.fsencode(root / "m"), name if isinstance(name, bytes) else os.fsencode(name))
        with open(target, "wb") as fh:
            fh.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def good_page_loaded(kb) -> bool:
    return kb.graph.has_edge("AML.M0100", "AML.T0015", key="mitigates")


def findings(kb, code: str) -> list:
    return [f for f in kb.findings if f.code == code]


def bundle(*objects) -> dict:
    return {"type": "bundle", "id": "bundle--1", "objects": list(objects)}


def tactic(n: int = 1, **extra) -> dict:
    return {"type": "x-mitre-tactic", "id": f"x-mitre-tactic--{n}", "name": f"Tactic {n}", "x_mitre_shortname": f"t{n}",
            "external_references": [{"source_name": "mitre-atlas", "external_id": f"AML.TA{n:04d}"}], **extra}


def technique(n: int = 1, **extra) -> dict:
    return {"type": "attack-pattern", "id": f"attack-pattern--{n}", "name": f"Technique {n}",
            "external_references": [{"source_name": "mitre-atlas", "external_id": f"AML.T{n:04d}"}],
            "kill_chain_phases": [{"kill_chain_name": "mitre-atlas", "phase_name": "t1"}], **extra}


def write_json(path: Path, data, **kw) -> Path:
    path.write_text(json.dumps(data, **kw), encoding="utf-8", errors="surrogatepass")
    return path


RELEASE = """\
matrices:
- id: ATLAS
  name: ATLAS
  tactics:
  - id: AML.TA0001
    name: Tactic
  techniques:
  - id: AML.T0001
    name: Technique
    tactics: [AML.TA0001]
    created_date: {created}
  mitigations:{mitigations}
case-studies:
- id: AML.CS0001
  name: Study
  incident-date: 2020-01-01
  references:{references}
"""


def release(tmp_path: Path, created="2021-01-01", mitigations=" []", references=" []") -> Path:
    path = tmp_path / "ATLAS.yaml"
    path.write_text(RELEASE.format(created=created, mitigations=mitigations, references=references), encoding="utf-8")
    return path


def outputs_read_back(*sources: str, tmp_path: Path) -> None:
    """Every output a user might ask for works on these sources and can be read back."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    src = [a for s in sources for a in ("--source", s)]
    code, stdout, err = run_cli(*src, "--format", "json", "search", "a")
    assert code in (0, 1) and "internal error" not in err, err
    code, stdout, err = run_cli(*src, "matrix")
    assert code == 0 and "internal error" not in err, err
    code, _, err = run_cli(*src, "export", "json", "--out", str(out / "g.json"))
    assert code == 0, err
    json.loads((out / "g.json").read_text(encoding="utf-8"),
               parse_constant=lambda name: pytest.fail(f"export json wrote {name}"))
    code, _, err = run_cli(*src, "export", "graphml", "--out", str(out / "g.graphml"))
    assert code == 0, err
    nx.read_graphml(out / "g.graphml")
    code, _, err = run_cli(*src, "site", "build", "--out", str(out / "site"))
    assert code == 0 and "internal error" not in err, err


# -- a guard against hangs and blow-ups: a real process, a time limit, its peak memory ------------

def bounded_cli(*args: str) -> tuple[int, str]:
    """Run `atlaskb ARGS` in its own process; fail the test if it runs past HANG_LIMIT_S
    or its peak resident memory passes MEMORY_LIMIT_MB (Linux only). Returns (exit
    status, stdout and stderr)."""
    import tempfile

    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "atlaskb", *args], stdout=err, stderr=err,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + HANG_LIMIT_S
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                pytest.fail(f"atlaskb {' '.join(a[:40] for a in args)} ran over {HANG_LIMIT_S} s (a hang)")
            time.sleep(0.02)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if sys.platform.startswith("linux"):
        peak_mb = usage.ru_maxrss / 1024
        assert peak_mb < MEMORY_LIMIT_MB, f"peak memory {peak_mb:.0f} MB"
    code = os.waitstatus_to_exitcode(status)
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-2000:]
    return code, stderr


# Each: a vault page body or frontmatter that once made a regex backtrack (minutes to hours)
# or a pass go quadratic, and the command that met it.
PATHOLOGICAL_PAGES = {
    "heading-spaces-then-text": (page("### a" + " " * 20_000 + "x"), "lint"),
    "section-heading-100k-spaces": (page("## Techniques" + " " * 100_000 + "x"), "lint"),
    "section-count-100k-spaces": (page("## Techniques (" + " " * 100_000 + "1"), "lint"),
    "list-line-of-40k-wikilink-openers": (page("## Techniques (1)\n\n- " + "[[" * 40_000), "lint"),
    "metadata-line-of-brackets": (page("## Metadata\n\n- **ATT&CK Reference:** " + "[" * 100_000), "lint"),
    "frontmatter-line-200k-spaces": (page(frontmatter="foo: a" + " " * 200_000 + "x\n"), "lint"),
    "frontmatter-plain-200k-spaces": (page(frontmatter="foo:" + " " * 200_000 + "\n"), "lint"),
    "link-path-of-400k-parts": (page("## Techniques (1)\n\n- [[" + "a/" * 400_000 + "|Name]]"), "lint"),
    "frontmatter-nested-50k-deep": (page(frontmatter="a: " + "[" * 50_000 + "\n"), "lint"),
    "summary-headings-after-a-long-description": (page(("word " * 20 + "\n") * 9_000 + "## Summary\n" * 90_000),
                                                  "lint"),
    "site-50k-nested-quotes": (page(">" * 50_000 + " x"), "site"),
    "site-60k-brackets": (page("[" * 60_000), "site"),
    "site-60k-wikilink-openers": (page("[[" * 60_000), "site"),
    "site-100k-inline-links": (page("[a](b) " * 100_000), "site"),
}


@pytest.mark.parametrize("case", sorted(PATHOLOGICAL_PAGES))
def test_pathological_page_neither_hangs_nor_loses_the_vault(tmp_path, case):
    text, command = PATHOLOGICAL_PAGES[case]
    root = make_vault(tmp_path, {"bad.md": text})
    args = ["site", "build", "--out", str(tmp_path / "site")] if command == "site" else ["lint", "--format", "json"]
    code, err = bounded_cli("--source", str(root), *args)
    assert code in (0, 1), err
    kb = atlaskb.load(str(root))
    assert good_page_loaded(kb) and "AML.M0101" in kb.graph


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_a_page_is_refused_not_read(tmp_path):
    root = make_vault(tmp_path, {})
    os.mkfifo(root / "m" / "pipe.md")
    code, err = bounded_cli("--source", str(root), "lint")
    assert code == 1 and "m/pipe.md:1: error: [unreadable]" in err
    code, err = bounded_cli("--source", str(root / "m" / "pipe.md"), "lint")
    assert code == 2 and "not a regular file" in err


def test_a_huge_stix_description_is_cut_and_the_site_stays_small(tmp_path):
    path = write_json(tmp_path / "big.json", bundle(tactic(), technique(description="word " * 4_000_000)))
    code, err = bounded_cli("--source", str(path), "site", "build", "--out", str(tmp_path / "site"))
    assert code == 0, err
    kb = atlaskb.load(str(path))
    assert len(kb.graph.nodes["AML.T0001"]["description"]) == MAX_FIELD_CHARS
    assert [f.line for f in findings(kb, "too-long")] == [1]


def test_aliases_that_expand_a_large_string_are_refused(tmp_path):
    big = "x" * 1_000_000
    studies = "".join(f"- id: AML.CS{i:04d}\n  name: s\n  summary: *big\n" for i in range(1, 1500))
    path = tmp_path / "ATLAS.yaml"
    path.write_text(f"big: &big '{big}'\nmatrices: []\ncase-studies:\n{studies}", encoding="utf-8")
    code, err = bounded_cli("--source", str(path), "lint")
    assert code == 1 and "ATLAS.yaml:1: error: [bad-yaml] invalid YAML: YAML aliases expand to over" in err
    code, err = bounded_cli("--source", str(path), "export", "json", "--out", str(tmp_path / "g.json"))
    # The file is refused whole, so there is nothing to export (said, exit 2); what
    # matters here is that nothing expands.
    assert code == 2 and "1 problem(s) while loading" in err and not (tmp_path / "g.json").exists()


def test_small_aliases_to_scalars_still_load():
    data = load_data_yaml("name: &n Evade\nother: *n\nlist: [*n, *n]\n")
    assert data["list"] == ["Evade", "Evade"]


def deep_chain_vault(tmp_path: Path, depth: int) -> Path:
    """AML.T0000 states a tactic; each AML.T<i> is a sub-technique of AML.T<i-1>."""
    root = tmp_path / f"chain{depth}"
    root.mkdir()
    (root / "c0.md").write_text("# AML.T0000: Top\n\n## Metadata\n\n- **Maturity:** realized\n\n"
                                "## Tactics (1)\n\n- [[x|AML.TA0001: Tactic]]\n", encoding="utf-8")
    for i in range(1, depth):
        (root / f"c{i}.md").write_text(
            f"# AML.T{i:04d}: Level {i}\n\n## Metadata\n\n- **Maturity:** realized\n"
            f"- **Parent Technique:** [[c|AML.T{i - 1:04d}: Level {i - 1}]]\n", encoding="utf-8")
    return root


def test_a_3000_deep_parent_chain_diffs_and_exports_quickly(tmp_path):
    root = deep_chain_vault(tmp_path, 3000)
    code, err = bounded_cli("diff", "--old", str(root), "--new", str(root))
    assert code == 0, err
    code, err = bounded_cli("--source", str(root), "export", "csv", "--out", str(tmp_path / "n.csv"))
    assert code == 0, err
    kb = atlaskb.load(str(root))
    # Tactics are inherited through at most MAX_PARENT_DEPTH parent links.
    assert queries.tactics_of(kb, f"AML.T{queries.MAX_PARENT_DEPTH:04d}") == ["AML.TA0001"]
    assert queries.tactics_of(kb, f"AML.T{queries.MAX_PARENT_DEPTH + 1:04d}") == []


def test_a_1500_deep_parent_chain_builds_a_site(tmp_path):
    """Deeper than Python's recursion limit: any recursive walk would fail here."""
    root = deep_chain_vault(tmp_path, 1500)
    code, _, err = run_cli("--source", str(root), "site", "build", "--out", str(tmp_path / "site"))
    assert code == 0, err
    assert "AML.TA0001" in (tmp_path / "site" / "techniques" / "AML.T0030.html").read_text(encoding="utf-8")
    assert (tmp_path / "site" / "techniques" / "AML.T1499.html").exists()


# -- tracebacks that became findings --------------------------------------------------------------

@pytest.mark.parametrize("value", ["2023-02-30", "2023-01-01 25:61:00", "2023-13-01T00:00:00Z", "9" * 5000])
def test_values_yaml_cannot_convert_are_kept_as_text_in_frontmatter(tmp_path, value):
    root = make_vault(tmp_path, {"bad.md": page(frontmatter=f"created: {value}\nsidebar_position: {value}\n")})
    kb = atlaskb.load(str(root))
    bad = findings(kb, "bad-value")
    assert bad and all(f.file == "m/bad.md" and f.line in (4, 5) for f in bad)
    assert good_page_loaded(kb) and kb.graph.nodes["AML.M0101"]["name"] == "Bad"


@pytest.mark.parametrize("value", ["2023-02-30", "2023-02-29 10:00:00", "9" * 5000])
def test_values_yaml_cannot_convert_cost_one_finding_not_the_release(tmp_path, value):
    kb = atlaskb.load(str(release(tmp_path, created=value)))
    assert [(f.code, f.line) for f in kb.findings if f.level == "error"] == []
    assert [f.line for f in findings(kb, "bad-value")] == [11]
    assert kb.graph.has_edge("AML.T0001", "AML.TA0001", key="achieves")


def test_a_huge_count_in_a_section_heading(tmp_path):
    root = make_vault(tmp_path, {"bad.md": page("## Techniques (" + "9" * 5000 + ")\n\n- [[t|AML.T0001: A]]")})
    kb = atlaskb.load(str(root))
    assert [f.line for f in findings(kb, "bad-count")] == [8]
    assert kb.graph.has_edge("AML.M0101", "AML.T0001", key="mitigates")


def test_huge_integers_and_non_numbers_in_stix(tmp_path):
    text = json.dumps(bundle(tactic(), technique(x_atlaskb_score=1.5))).replace(
        "1.5", "NaN, \"x_atlaskb_big\": " + "9" * 5000 + ", \"x_atlaskb_inf\": 1e999, \"x_atlaskb_neg\": -Infinity")
    path = tmp_path / "b.json"
    path.write_text(text, encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert len(findings(kb, "bad-value")) == 4
    node = kb.graph.nodes["AML.T0001"]
    assert node["score"] is None and node["inf"] is None and node["big"] == "9" * 5000
    outputs_read_back(str(path), tmp_path=tmp_path)


@pytest.mark.parametrize("where, text, line", [
    ("tactics", "matrices:\n- id: ATLAS\n  tactics: 5\n", 2),
    ("mitigations", RELEASE.format(created="2021-01-01", mitigations=" true", references=" []"), 2),
    ("techniques", "matrices:\n- id: ATLAS\n  techniques: {a: 1}\n", 2),
    ("references", RELEASE.format(created="2021-01-01", mitigations=" []", references=" 5"), 14),
    ("case-studies", "matrices: []\ncase-studies: text\n", 1),
])
def test_wrong_shapes_in_a_release_are_findings(tmp_path, where, text, line):
    path = tmp_path / "ATLAS.yaml"
    path.write_text(text, encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert [(f.code, f.line) for f in kb.findings if where in f.message] == [("bad-entry", line)]


def test_wrong_types_of_fields_in_a_release_do_not_reach_the_graph(tmp_path):
    path = tmp_path / "ATLAS.yaml"
    path.write_text(RELEASE.format(created="[2021]", mitigations=" []", references=" []").replace(
        "    name: Technique\n", "    name: [a, b]\n    description: {a: 1}\n    maturity: [x]\n").replace(
        "  name: Study\n", "  name: Study\n  target: [a]\n  procedure:\n  - technique: [AML.T0001]\n    tactic: {a: b}\n"),
        encoding="utf-8")
    kb = atlaskb.load(str(path))
    node = kb.graph.nodes["AML.T0001"]
    assert node["name"] == "" and node["description"] == "" and "maturity" not in node
    assert "target" not in kb.graph.nodes["AML.CS0001"]
    outputs_read_back(str(path), tmp_path=tmp_path)


def test_stix_custom_properties_of_the_wrong_type_are_ignored(tmp_path):
    path = write_json(tmp_path / "b.json", bundle(
        tactic(1), tactic(2, x_atlaskb_shortname=["t2"], x_atlaskb_order="first"),
        technique(1, x_atlaskb_description=["a"], x_atlaskb_target={"a": 1}, x_atlaskb_maturity=5,
                  **{"x_atlaskb_bad name": "x", "x_atlaskb_deep": [[[[[["too deep"]]]]]], "x_atlaskb_fine": {"k": [1, "v"]}})))
    kb = atlaskb.load(str(path))
    assert len(findings(kb, "bad-property")) == 7
    node = kb.graph.nodes["AML.T0001"]
    assert node["description"] == "" and "target" not in node and node["fine"] == {"k": [1, "v"]}
    outputs_read_back(str(path), tmp_path=tmp_path)
    code, _, err = run_cli("import", "stix", str(path), "--out", str(tmp_path / "vault"))
    assert code == 0 and "internal error" not in err, err


def test_lone_surrogates_and_control_characters_never_reach_an_output(tmp_path):
    stix = write_json(tmp_path / "b.json", bundle(
        tactic(), technique(name="\ud800 Lone \x1b[2J", description="NUL \x00 here \udfff", x_atlaskb_note2="\x07")))
    vault = make_vault(tmp_path, {"bad.md": page("Bell \x07 in prose." + "." * 9000 + "\x00").replace("Bad", "B\x1bad")})
    kb = atlaskb.load(str(stix), str(vault))
    assert [f.line for f in findings(kb, "control-character") if f.file == "m/bad.md"] == [2]
    assert kb.graph.nodes["AML.M0101"]["name"] == "B\ufffdad"
    assert any(f.file.endswith("b.json") for f in findings(kb, "control-character"))
    assert kb.graph.nodes["AML.T0001"]["name"] == "\ufffd Lone \ufffd[2J"
    outputs_read_back(str(stix), str(vault), tmp_path=tmp_path)
    code, stdout, err = run_cli("--source", str(stix), "show", "AML.T0001")
    assert code == 0 and "\x1b" not in stdout


def test_yaml_escapes_for_control_characters_are_replaced(tmp_path):
    # The C loader refuses a `\\ud800` escape outright (a YamlProblem); the pure-Python
    # one, used when the text holds `&` or `*`, makes a lone surrogate of it.
    for text in ('title: "AML.M0001: \\x1b[31mRed \\x00"\n', 'title: &a "AML.M0001: \\x1b[31mRed \\ud800"\n'):
        problems: list[YamlProblem] = []
        data = load_frontmatter_yaml(text, problems)
        assert data["title"] == "AML.M0001: \ufffd[31mRed \ufffd" and [p.line for p in problems] == [1]


def test_a_file_name_that_is_not_utf8(tmp_path):
    try:
        root = make_vault(tmp_path, {b"bad\xff.md": page()})
    except OSError:
        pytest.skip("this file system refuses such names")
    kb = atlaskb.load(str(root))
    assert [f.file for f in findings(kb, "file-name")] == ["m/bad\ufffd.md"]
    assert kb.graph.nodes["AML.M0101"]["file"] == "m/bad\ufffd.md"
    outputs_read_back(str(root), tmp_path=tmp_path)
    code, _, err = run_cli("--source", str(root), "lint")
    assert "internal error" not in err


def test_export_json_refuses_nan_rather_than_writing_it():
    from atlaskb.cli.output import dump_json
    from atlaskb.errors import AtlasError

    with pytest.raises(AtlasError, match="NaN and Infinity are not JSON"):
        dump_json({"x": math.nan})


def test_graphml_reads_back_whatever_a_library_caller_put_in_the_graph(tmp_path):
    from atlaskb.export.tables import to_graphml

    kb = atlaskb.load(str(make_vault(tmp_path, {})))
    kb.graph.nodes["AML.M0100"].update(name="a\x00b\x01\ud800\ufffe", score=math.inf, extra=["\x0b"])
    back = nx.read_graphml(__import__("io").BytesIO(to_graphml(kb).encode("utf-8")))
    assert back.nodes["AML.M0100"]["name"] == "a\ufffdb\ufffd\ufffd\ufffd"


# -- relationship list items -----------------------------------------------------------------------

def test_tab_and_numbered_list_items_in_relationship_sections(tmp_path):
    body = ("## Techniques (4)\n\n-\t[[a|AML.T0001: A]]\n1. [[b|AML.T0002: B]]\n2) [[c|AML.T0003: C]]\n"
            "10.\t[[d|AML.T0004: D]]\n")
    kb = atlaskb.load(str(make_vault(tmp_path, {"lists.md": page(body)})))
    assert {v for _, v in kb.graph.out_edges("AML.M0101")} == {"AML.T0001", "AML.T0002", "AML.T0003", "AML.T0004"}
    assert not findings(kb, "count-mismatch")


# -- IDs ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["AML.T０００１", "AML.T٠٠٠١", "AML.T0001\u0661"])
def test_ids_with_non_ascii_digits_are_refused_with_the_ascii_form(tmp_path, written):
    root = make_vault(tmp_path, {"wide.md": f"# {written}: Wide\n\n## Metadata\n\n- **Maturity:** realized\n"})
    kb = atlaskb.load(str(root))
    assert all(n.isascii() for n in kb.graph.nodes)
    if "\u0661" not in written[-1:]:
        assert "the ASCII form is AML.T0001" in findings(kb, "no-id")[0].message
    path = write_json(tmp_path / "b.json", bundle(tactic(), technique(
        external_references=[{"source_name": "mitre-atlas", "external_id": written}])))
    assert all(n.isascii() for n in atlaskb.load(str(path)).graph.nodes)
    release_path = tmp_path / "ATLAS.yaml"
    release_path.write_text(f"matrices:\n- id: A\n  techniques:\n  - id: {written}\n    name: W\n", encoding="utf-8")
    kb = atlaskb.load(str(release_path))
    assert len(kb.graph) == 0 and findings(kb, "bad-entry")


# -- properties: no input makes a reader raise, and what loads can be written and read back ------------

_MARKDOWN_TOKENS = st.sampled_from([
    "#", "## ", "### ", "# AML.T0001: Name", "## Techniques (2)", "## Mitigations", "## Tactics", "## Metadata",
    "## Procedure", "### Step 1", "- ", "-\t", "* ", "1. ", "2) ", "[[", "]]", "[", "]", "(", ")", "|", "**", ":",
    "**Created:**", "**Maturity:**", "**Parent Technique:**", "**Tactic:**", "**Technique:**", "**ID:**",
    "---", "...", "```", "~~~", "\n", "\n\n", " ", "\t", " " * 50, "AML.T0001", "AML.M0001", "AML.TA0001",
    "AML.T０００１", "2023-02-30", "May 13, 2021", "9" * 30, "\x00", "\x1b", "\ud800", "\ufffd", "é", "&a", "*a",
    "title: ", "type: technique", "{", "}", "\"",
])
_markdown = st.lists(_MARKDOWN_TOKENS | st.text(max_size=5), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_markdown)
def test_the_page_parser_never_raises(text):
    record, links, found = parse_page(text, "p.md", "p.md")
    assert all(f.file == "p.md" and isinstance(f.line, int) and f.line >= 1 for f in found)
    if record is not None:
        assert is_id(record.id) and record.id.isascii()


_YAML_TOKENS = st.sampled_from([
    "a", "b", ": ", ":", "- ", "\n", "  ", "[", "]", "{", "}", ",", "&x ", "*x", "!!int ", "!!float ", "!!timestamp ",
    "!!binary ", "!!python/object ", "2023-02-30", "2023-01-01 25:61:00", "9" * 4400, "1e999", ".nan", "'", "\"",
    "\\x00", "\\ud800", "<<: ", "?", "|", ">", "#", "%YAML 1.1\n", "---\n", "~", "true",
])


@settings(max_examples=300, deadline=None)
@given(text=st.lists(_YAML_TOKENS | st.text(max_size=4), max_size=40).map("".join))
def test_the_yaml_loaders_raise_only_yaml_problem(text):
    for load in (load_frontmatter_yaml, load_data_yaml):
        try:
            load(text, [])
        except YamlProblem as e:
            assert isinstance(e.line, int)


def _read_back(kb) -> None:
    from atlaskb import queries
    from atlaskb.cli.output import dump_json
    from atlaskb.export.graph_json import to_json_data
    from atlaskb.export.tables import to_csv, to_graphml

    json.loads(dump_json(to_json_data(kb)))
    nx.read_graphml(__import__("io").BytesIO(to_graphml(kb).encode("utf-8")))
    to_csv(kb, "nodes")
    queries.search(kb, "a")
    for t in kb.nodes_of_type("technique"):
        queries.tactics_of(kb, t)
    from atlaskb.diff import diff

    diff(kb, kb)


_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
            | st.sampled_from(["AML.T0001", "AML.TA0001", "AML.M0001", "AML.CS0001", "AML.T０００１", "\ud800",
                               "\x00", "2023-02-30", "t1", "mitre-atlas"]))
_json_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.text(max_size=4) | st.sampled_from(["id", "step", "tactic"]),
                                              inner, max_size=3), max_leaves=8)
_stix_keys = st.sampled_from([
    "type", "id", "name", "description", "created", "modified", "external_references", "kill_chain_phases",
    "x_mitre_shortname", "revoked", "object_refs", "source_ref", "target_ref", "relationship_type",
    "x_atlaskb_description", "x_atlaskb_shortname", "x_atlaskb_order", "x_atlaskb_maturity", "x_atlaskb_category",
    "x_atlaskb_procedure", "x_atlaskb_references", "x_atlaskb_attack_ref", "x_atlaskb_target", "x_atlaskb_steps",
    "x_atlaskb_has_page", "x_atlaskb_name", "x_atlaskb_", "x_atlaskb_A", "x_atlaskb_x\x00", "x_atlaskb_other",
]) | st.text(max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 3), _stix_keys, _json_values), max_size=8))
def test_the_stix_reader_never_raises_and_what_it_loads_reads_back(tmp_path, edits):
    objects = [tactic(1), technique(1), technique(2, x_atlaskb_steps=[{"step": 1}]),
               {"type": "relationship", "id": "relationship--1", "relationship_type": "subtechnique-of",
                "source_ref": "attack-pattern--2", "target_ref": "attack-pattern--1"}]
    for index, key, value in edits:
        objects[index][key] = value
    path = write_json(tmp_path / "fuzz.json", bundle(*objects))
    result = read_stix(str(path))
    assert all(f.file == str(path) and f.line >= 1 for f in result.findings)
    _read_back(build([result]))


_release_entries = st.lists(st.dictionaries(
    st.sampled_from(["id", "name", "description", "tactics", "techniques", "subtechnique-of", "maturity",
                     "created_date", "modified_date", "category", "ml-lifecycle", "summary", "procedure",
                     "references", "target", "incident-date", "ATT&CK-reference", "use", "technique", "tactic"]),
    _json_values, max_size=6) | _json_values, max_size=3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(matrix=st.dictionaries(st.sampled_from(["tactics", "techniques", "mitigations", "id"]), _release_entries | _json_values),
       studies=_release_entries | _json_values)
def test_the_release_reader_never_raises_and_what_it_loads_reads_back(tmp_path, matrix, studies):
    path = tmp_path / "ATLAS.yaml"
    text = yaml.safe_dump({"matrices": [matrix], "case-studies": studies}, allow_unicode=False)
    path.write_text(text, encoding="utf-8")
    result = read_atlas_yaml(str(path))
    assert all(f.file == str(path) and f.line >= 1 for f in result.findings)
    _read_back(build([result]))


# -- the hand-written scanners agree with the regexes they replaced, where those were fast --------------

@settings(max_examples=500, deadline=None)
@given(text=st.lists(st.sampled_from(["#", " ", "\t", "a", "x", "(", ")", "1", "12", "Techniques"]), max_size=14).map("".join))
def test_heading_and_count_scanners_match_the_old_regexes(text):
    import re

    from atlaskb.sources.vault import _count, _heading

    old_heading = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$").match(text.strip())
    new = _heading(text.strip())
    assert (new is None) == (old_heading is None) or not text.strip().startswith("#")
    if old_heading and new:
        assert new == (len(old_heading.group(1)), old_heading.group(2))
    old_count = re.compile(r"^(.*?)\s*\((\d+)\)\s*$").match(text)
    name, digits = _count(text)
    if old_count:
        assert (name, digits) == (old_count.group(1), old_count.group(2))
    else:
        assert digits is None


# -- an import writes a vault that reads back as what was imported ----------------------------------

INJECTED = "\n## Techniques (1)\n\n- [[x|AML.T0999: Injected]]\n"


def test_imported_text_cannot_add_structure_to_the_vault(tmp_path):
    """Names, descriptions and step texts come from the bundle: a line break and a
    `## Techniques` section in them must come back as text, not as links."""
    ext = lambda i: [{"source_name": "mitre-atlas", "external_id": i}]  # noqa: E731
    path = write_json(tmp_path / "b.json", bundle(
        tactic(), technique(1, name="Evade" + INJECTED, description="Prose." + INJECTED + "```\nopen fence"),
        {"type": "course-of-action", "id": "course-of-action--1", "name": "Guard\n## Tactics (1)",
         "description": "## Mitigations (1)\n- [[y|AML.M0999: Fake]]", "external_references": ext("AML.M0001"),
         "x_atlaskb_category": ["Policy\n## Techniques (1)\n- [[z|AML.T0998: Z]]"], "x_atlaskb_created": "2021\n## X"},
        {"type": "campaign", "id": "campaign--1", "name": "Study", "external_references": ext("AML.CS0001"),
         "x_atlaskb_procedure": [{"step": 1, "technique": "AML.T0001", "tactic": "AML.TA0001",
                                  "description": "Step text." + INJECTED + "### Step 7\n**Technique:** [[q|AML.T0997: Q]]"}]},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "mitigates",
         "source_ref": "course-of-action--1", "target_ref": "attack-pattern--1"},
        {"type": "relationship", "id": "relationship--2", "relationship_type": "uses", "source_ref": "campaign--1",
         "target_ref": "attack-pattern--1", "x_atlaskb_steps": [{"step": 1, "tactic": "AML.TA0001"}]}))
    stated = atlaskb.load(str(path))
    code, _, err = run_cli("import", "stix", str(path), "--out", str(tmp_path / "vault"))
    assert code == 0, err
    back = atlaskb.load(str(tmp_path / "vault"))
    assert set(back.graph.nodes) == set(stated.graph.nodes)
    assert set(back.graph.edges(keys=True)) == set(stated.graph.edges(keys=True))
    assert back.graph.nodes["AML.T0001"]["name"] == " ".join(stated.graph.nodes["AML.T0001"]["name"].split())
    assert "AML.T0999" in back.graph.nodes["AML.T0001"]["description"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_markdown, description=_markdown, step=_markdown, category=_markdown)
def test_any_text_survives_an_import_round_trip_without_adding_links(tmp_path, name, description, step, category):
    from atlaskb.export.vault_writer import write_vault
    from atlaskb.sources.stix import read_stix as read

    ext = lambda i: [{"source_name": "mitre-atlas", "external_id": i}]  # noqa: E731
    path = write_json(tmp_path / "b.json", bundle(
        tactic(), technique(1, name=name, description=description),
        {"type": "course-of-action", "id": "course-of-action--1", "name": name, "description": description,
         "external_references": ext("AML.M0001"), "x_atlaskb_category": [category]},
        {"type": "campaign", "id": "campaign--1", "name": name, "external_references": ext("AML.CS0001"),
         "x_atlaskb_procedure": [{"step": 1, "technique": "AML.T0001", "tactic": "AML.TA0001", "description": step}]},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "mitigates",
         "source_ref": "course-of-action--1", "target_ref": "attack-pattern--1", "description": step},
        {"type": "relationship", "id": "relationship--2", "relationship_type": "uses", "source_ref": "campaign--1",
         "target_ref": "attack-pattern--1", "x_atlaskb_steps": [{"step": 1, "tactic": "AML.TA0001"}]}))
    stated = build([read(str(path))])
    out = tmp_path / "vault"
    write_vault(stated, str(out))
    back = atlaskb.load(str(out))
    assert set(back.graph.nodes) == set(stated.graph.nodes)
    assert set(back.graph.edges(keys=True)) == set(stated.graph.edges(keys=True))


def test_a_source_folder_whose_name_is_not_utf8(tmp_path):
    try:
        root = os.path.join(os.fsencode(tmp_path), b"vault\xff")
        os.makedirs(os.path.join(root, b"m"))
    except OSError:
        pytest.skip("this file system refuses such names")
    with open(os.path.join(root, b"m", b"good.md"), "w", encoding="utf-8") as fh:
        fh.write(GOOD_PAGE)
    outputs_read_back(os.fsdecode(root), tmp_path=tmp_path)
