"""Bad input: every broken file becomes a finding naming the file and line; the rest of
the vault still loads; the user never sees a traceback."""

from __future__ import annotations

import json
import os
import shutil

import pytest

import atlaskb
from conftest import FIXTURES, run_cli, run_cli_process

GOOD_PAGE = (
    "---\ntitle: \"AML.M0100: Good Control\"\ntype: mitigation\n---\n\n# AML.M0100: Good Control\n\n"
    "Fixture prose.\n\n## Metadata\n\n- **Created:** 2024-01-01\n- **Last Modified:** 2024-01-02\n\n"
    "## Techniques (1)\n\n- [[t/evade|AML.T0015: Evade AI Model]] — fixture note\n"
)


@pytest.fixture
def vault(tmp_path):
    root = tmp_path / "vault"
    (root / "mitigations").mkdir(parents=True)
    (root / "mitigations" / "good.md").write_text(GOOD_PAGE, encoding="utf-8")
    return root


def load_with(vault, name, content: bytes):
    (vault / "mitigations" / name).write_bytes(content)
    return atlaskb.load(str(vault))


def codes(kb, file_suffix):
    return [(f.code, f.line) for f in kb.findings if f.file.endswith(file_suffix)]


def assert_good_page_survived(kb):
    assert kb.graph.has_edge("AML.M0100", "AML.T0015", key="mitigates")


def test_malformed_frontmatter_names_the_line(vault):
    kb = load_with(vault, "bad.md", b"---\ntitle: \"AML.M0101: Bad\ntype: [mitigation\n---\n\n# AML.M0101: Bad\n")
    found = codes(kb, "bad.md")
    assert found and found[0][0] == "bad-frontmatter"
    assert 2 <= found[0][1] <= 4
    assert_good_page_survived(kb)
    # The body still identifies the page, so it is not lost.
    assert kb.graph.nodes["AML.M0101"]["name"] == "Bad"


def test_frontmatter_that_is_not_a_mapping(vault):
    kb = load_with(vault, "list.md", b"---\n- a\n- b\n---\n# AML.M0102: Listed\n")
    assert ("bad-frontmatter", 2) in codes(kb, "list.md")
    assert_good_page_survived(kb)


def test_unclosed_frontmatter(vault):
    kb = load_with(vault, "open.md", b"---\ntitle: x\n# AML.M0103: Open\n")
    assert ("bad-frontmatter", 1) in codes(kb, "open.md")


def test_yaml_alias_bomb_is_refused_quickly(vault):
    bomb = ["---", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        bomb.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    bomb += ["title: \"AML.M0104: Bomb\"", "---", "# AML.M0104: Bomb", ""]
    kb = load_with(vault, "bomb.md", "\n".join(bomb).encode())
    found = codes(kb, "bomb.md")
    assert found[0] == ("bad-frontmatter", 3)
    assert_good_page_survived(kb)


def test_alias_bomb_in_a_release_file_is_refused(tmp_path):
    text = "matrices:\n- id: X\n  tactics: &t [{id: AML.TA0001, name: a}]\n  more: [*t, *t]\n"
    path = tmp_path / "ATLAS.yaml"
    path.write_text(text, encoding="utf-8")
    kb = atlaskb.load(str(path))
    assert [f.code for f in kb.findings] == ["bad-yaml"]
    assert "aliases" in kb.findings[0].message


def test_binary_file_is_skipped(vault):
    kb = load_with(vault, "image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert codes(kb, "image.md") == [("not-text", 1)]
    assert_good_page_survived(kb)


def test_non_utf8_page_loads_with_a_warning_naming_the_line(vault):
    content = GOOD_PAGE.replace("—", "-").replace("AML.M0100: Good Control", "AML.M0105: Caf\xe9 Control").encode("latin-1")
    kb = load_with(vault, "latin1.md", content)
    assert ("encoding", 2) in codes(kb, "latin1.md")
    assert kb.graph.nodes["AML.M0105"]["name"].startswith("Caf")


def test_empty_file(vault):
    kb = load_with(vault, "empty.md", b"")
    assert codes(kb, "empty.md") == [("empty-file", 1)]
    assert_good_page_survived(kb)


def test_fifty_megabyte_page_is_skipped(vault):
    kb = load_with(vault, "huge.md", b"# AML.M0106: Huge\n" + b"x" * (50 * 1024 * 1024))
    assert codes(kb, "huge.md") == [("too-large", 1)]
    assert_good_page_survived(kb)
    assert "AML.M0106" not in kb.graph


def test_symlink_leaving_the_vault_is_not_followed(vault, tmp_path):
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.md").write_text("# AML.M0107: Secret\n", encoding="utf-8")
    os.symlink(secret / "secret.md", vault / "mitigations" / "link.md")
    os.symlink(secret, vault / "linked-dir")
    kb = atlaskb.load(str(vault))
    assert "AML.M0107" not in kb.graph
    assert sorted(f.file for f in kb.findings if f.code == "symlink-escape") == ["linked-dir", "mitigations/link.md"]
    assert_good_page_survived(kb)


def test_symlink_inside_the_vault_is_fine(vault):
    os.symlink(vault / "mitigations" / "good.md", vault / "alias.md")
    kb = atlaskb.load(str(vault))
    assert not [f for f in kb.findings if f.code == "symlink-escape"]


def test_page_without_an_id_is_reported(vault):
    kb = load_with(vault, "notes.md", b"---\ntitle: Just notes\n---\n\nSome text.\n")
    assert codes(kb, "notes.md") == [("no-id", 1)]


def test_link_to_nowhere_is_reported_and_kept_out(vault):
    page = GOOD_PAGE.replace("[[t/evade|AML.T0015: Evade AI Model]]", "[[no/such/page]]").replace("AML.M0100", "AML.M0108")
    kb = load_with(vault, "nowhere.md", page.encode())
    assert ("broken-link", 17) in codes(kb, "nowhere.md")
    assert list(kb.graph.successors("AML.M0108")) == []


def test_unknown_id_in_a_label_is_kept_as_known_only_from_links(vault):
    kb = atlaskb.load(str(vault))
    assert kb.graph.nodes["AML.T0015"]["has_page"] is False
    assert kb.graph.nodes["AML.T0015"]["name"] == "Evade AI Model"


def test_hostile_html_is_kept_as_text_not_interpreted(vault):
    page = ("---\ntitle: \"AML.M0109: <script>alert(1)</script>\"\ntype: mitigation\n---\n\n"
            "# AML.M0109: <script>alert(1)</script>\n\n<img src=x onerror=alert(1)> [x](javascript:alert(1))\n")
    kb = load_with(vault, "hostile.md", page.encode())
    node = kb.graph.nodes["AML.M0109"]
    assert node["name"] == "<script>alert(1)</script>"
    assert "onerror" in node["description"]  # stored verbatim; renderers must escape it


def test_wrong_link_type_is_reported(vault):
    page = GOOD_PAGE.replace("AML.T0015: Evade AI Model", "AML.TA0001: A Tactic").replace("AML.M0100", "AML.M0110")
    kb = load_with(vault, "wrongtype.md", page.encode())
    assert ("wrong-link-type", 17) in codes(kb, "wrongtype.md")


def test_broken_vault_lint_exits_1_with_json_findings():
    code, out, err = run_cli("--source", str(FIXTURES / "vault_defects"), "lint", "--format", "json")
    assert code == 1
    findings = json.loads(out)
    assert {f["code"] for f in findings} >= {"duplicate-id", "count-mismatch", "broken-link", "slug-mismatch",
                                              "subtechnique-cycle", "missing-metadata", "no-page"}
    for f in findings:
        assert set(f) == {"level", "code", "file", "line", "message"}
        assert f["level"] in ("error", "warning") and f["line"] >= 1 and f["file"]


def test_bundled_vault_lints_clean():
    code, out, err = run_cli("lint")
    assert code == 0, out
    assert out == ""


def test_one_sided_relationship_is_a_warning():
    code, out, _ = run_cli("--source", str(FIXTURES / "vault_v2"), "lint", "--format", "json")
    one_sided = [f for f in json.loads(out) if f["code"] == "one-sided"]
    assert len(one_sided) == 1 and "AML.T0015" in one_sided[0]["message"]
    assert code == 0  # warnings only


def test_bad_vault_never_shows_a_traceback_in_a_real_process(tmp_path):
    root = tmp_path / "v"
    shutil.copytree(FIXTURES / "vault_defects", root)
    (root / "bin.md").write_bytes(b"\x00\x01\x02")
    (root / "bad.md").write_bytes(b"---\n: : :\n---\n")
    code, out, err = run_cli_process("--source", str(root), "lint")
    assert code == 1
    assert "Traceback" not in err + out
    assert "bin.md:1: error: [not-text]" in out


def test_an_overlay_page_is_not_one_sided_against_the_vault_it_overlays(tmp_path):
    from atlaskb.lint import lint
    from atlaskb.resources import bundled_vault

    page = tmp_path / "acme.md"
    page.write_text("---\ntitle: \"ACME.M0001: Firewall\"\ntype: mitigation\n---\n# ACME.M0001: Firewall\n\n"
                    "## Metadata\n\n- **Created:** 2024-01-01\n- **Last Modified:** 2024-01-01\n\n"
                    "## Techniques (1)\n\n- [[x|AML.T0015: Evade AI Model]]\n", encoding="utf-8")
    findings = lint(atlaskb.load(bundled_vault(), str(page)))
    assert [f for f in findings if f.code == "one-sided"] == []


def test_unreadable_dates_and_maturity_are_reported_and_abbreviations_read(vault):
    """`13/05/2021` and `Realised` are reported, never kept silently (a raw date, a
    technique ranked as of unknown maturity); `Sept 3, 2024` is normalised."""
    kb = load_with(vault, "odd.md", (
        '---\ntitle: "ACME.T0007: Odd"\n---\n# ACME.T0007: Odd\n\n## Metadata\n\n'
        "- **Created:** 13/05/2021\n- **Last Modified:** Sept 3, 2024\n- **Maturity:** Realised\n"
    ).encode())
    node = kb.graph.nodes["ACME.T0007"]
    assert node["modified"] == "2024-09-03" and node["created"] == "13/05/2021"
    found = {(f.code, f.line) for f in kb.findings if f.file.endswith("odd.md")}
    assert ("bad-date", 8) in found and ("bad-maturity", 10) in found
    assert not any(f.code == "bad-date" and "2024" in f.message for f in kb.findings)
