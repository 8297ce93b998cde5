"""`site.build_site` and the pages it writes: every object has a page, links resolve,
relationships show both ways, output is deterministic and atomic, untrusted vault text
renders inert."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from site_support import all_links_resolve, hostile_vault, html_files, make_evidence_dir, parse, tree_bytes, write_page
from site_support import site  # noqa: F401 - a fixture, used by name

import atlaskb
from atlaskb import queries
from atlaskb.errors import UsageError
from atlaskb.site import build as build_mod
from atlaskb.site import build_site
from atlaskb.site.context import build_model
from atlaskb.site.scale import COVERAGE_BINS, MITIGATION_BINS
from conftest import FIXTURES


@pytest.fixture(scope="module")
def pages(site):
    return {p: parse(p) for p in html_files(site)}


def test_every_object_has_a_page_with_its_id_in_the_title(site, pages, bundled_kb):
    model = build_model(bundled_kb)
    assert len(model.urls) == len(bundled_kb.graph)
    for object_id, url in model.urls.items():
        page = pages[site / url]
        assert object_id in page.title, url
        assert [h for h in page.tags if h[0] == "h1"], url


def test_bundled_site_has_all_object_types(site):
    counts = {folder: len(list((site / folder).glob("AML.*.html")))
              for folder in ("tactics", "techniques", "mitigations", "case-studies")}
    assert counts == {"tactics": 16, "techniques": 170, "mitigations": 35, "case-studies": 57}


def test_no_internal_link_is_broken(site):
    assert all_links_resolve(site) == []


def test_nothing_is_loaded_from_another_host(pages):
    for path, page in pages.items():
        for tag, attrs in page.tags:
            if tag in ("script", "img", "iframe", "link", "source", "video", "audio"):
                url = attrs.get("src") or attrs.get("href") or ""
                assert not re.match(r"^([a-z][a-z0-9+.-]*:|//)", url, re.I), (path, tag, url)
            if tag == "a" and attrs.get("href", "").startswith("//"):
                pytest.fail(f"protocol-relative link in {path}")


def test_search_index_is_a_script_whose_urls_resolve(site):
    text = (site / "search-index.js").read_text(encoding="utf-8")
    assert text.startswith("/*") and "window.ATLASKB_SEARCH = " in text
    data = json.loads(text.split("window.ATLASKB_SEARCH = ", 1)[1].rstrip().rstrip(";"))
    rows = data["rows"]
    assert len(rows) == 278
    for object_id, _type, _name, url, _text, _also in rows:
        assert (site / url).is_file(), (object_id, url)
    from atlaskb.textmatch import RULES

    assert data["stemming"] == RULES  # the page applies atlaskb search's word-form rule
    by_id = {r[0]: r for r in rows}
    assert by_id["AML.M0006"][2] == "Use Ensemble Methods"
    assert by_id["AML.T0051.000"][2] == "Direct" and by_id["AML.T0051.000"][5] == "LLM Prompt Injection"


def test_matrix_columns_follow_the_kill_chain(site, pages, bundled_kb):
    home = pages[site / "index.html"]
    column_links = [a["href"] for t, a in home.tags if t == "a" and a.get("href", "").startswith("tactics/AML.")]
    expected = [f"tactics/{t}.html" for t in queries.tactics(bundled_kb)]
    assert column_links[: len(expected)] == expected
    # sub-techniques sit in <details> under their parent, readable without JavaScript
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "<details class=\"subs\">" in html and "techniques/AML.T0043.002.html" in html


def test_matrix_has_a_legend_with_text_labels(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    for _cls, label, _bg, _fg in MITIGATION_BINS:
        assert label in html


def test_technique_page_shows_relationships_both_ways(site):
    html = (site / "techniques" / "AML.T0043.002.html").read_text(encoding="utf-8")
    assert 'href="../techniques/AML.T0043.html"' in html  # parent
    assert 'href="../mitigations/AML.M0006.html"' in html  # mitigation
    assert 'href="../tactics/AML.TA0001.html"' in html  # tactic (from its parent)
    parent = (site / "techniques" / "AML.T0043.html").read_text(encoding="utf-8")
    assert 'href="../techniques/AML.T0043.002.html"' in parent  # sub-technique
    mitigation = (site / "mitigations" / "AML.M0006.html").read_text(encoding="utf-8")
    assert 'href="../techniques/AML.T0043.002.html"' in mitigation


def test_case_study_steps_link_both_ways(site, bundled_kb):
    edges = [(u, v, d) for u, v, k, d in bundled_kb.graph.edges(keys=True, data=True) if k == "uses"]
    cs, technique, data = edges[0]
    step = data["steps"][0]["step"]
    cs_html = (site / "case-studies" / f"{cs}.html").read_text(encoding="utf-8")
    assert f'id="step-{step}"' in cs_html and f"../techniques/{technique}.html" in cs_html
    t_html = (site / "techniques" / f"{technique}.html").read_text(encoding="utf-8")
    assert f"../case-studies/{cs}.html#step-{step}" in t_html


def test_pages_are_accessible_basics(pages):
    for path, page in pages.items():
        html_tag = page.of("html")[0]
        assert html_tag.get("lang") == "en", path
        assert any(a.get("class") == "skip-link" and a.get("href") == "#main" for a in page.of("a")), path
        assert page.of("main") and page.of("main")[0].get("id") == "main", path
        assert len(page.of("h1")) == 1, path
        assert any(m.get("name") == "viewport" for m in page.of("meta")), path


def test_palette_is_readable(tmp_path):
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for bins in (MITIGATION_BINS, COVERAGE_BINS):
        lums = []
        for _cls, _label, bg, fg in bins:
            hi, lo = sorted((luminance(bg), luminance(fg)), reverse=True)
            assert (hi + 0.05) / (lo + 0.05) >= 4.5, (bg, fg)
            lums.append(luminance(bg))
        # one sequential scale: lightness falls monotonically, so order survives colour blindness
        assert lums == sorted(lums, reverse=True)


def test_two_builds_are_byte_identical(tmp_path, bundled_kb):
    build_site(bundled_kb, str(tmp_path / "a"))
    build_site(bundled_kb, str(tmp_path / "b"))
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


def test_builds_with_coverage_and_evidence_are_byte_identical(tmp_path):
    evidence = str(make_evidence_dir(tmp_path / "evidence"))
    kb = atlaskb.load()  # the same knowledge base twice: evidence must not be attached twice
    for name in ("a", "b"):
        build_site(kb, str(tmp_path / name), have=["AML.M0006", "AML.M0015"], evidence_dir=evidence)
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert sorted(a) == sorted(b) and "coverage.html" in a and "evidence/index.html" in a
    assert [k for k in a if a[k] != b[k]] == []


def test_failed_build_leaves_previous_site(tmp_path, bundled_kb, monkeypatch):
    out = tmp_path / "site"
    build_site(bundled_kb, str(out))
    before = tree_bytes(out)
    real_page = build_mod._Writer.page
    calls = {"n": 0}

    def failing_page(self, template, path, **context):
        calls["n"] += 1
        if calls["n"] == 50:
            raise RuntimeError("disk on fire")
        return real_page(self, template, path, **context)

    monkeypatch.setattr(build_mod._Writer, "page", failing_page)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_site(bundled_kb, str(out))
    assert tree_bytes(out) == before
    assert sorted(os.listdir(tmp_path)) == ["site"]  # no half-written temporary folder left


def test_refuses_to_replace_a_folder_that_is_not_a_site(tmp_path, bundled_kb):
    (tmp_path / "notes.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(UsageError, match="refusing to replace"):
        build_site(bundled_kb, str(tmp_path))
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "precious"


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    kb = atlaskb.load(str(hostile_vault(root / "vault")))
    out = root / "site"
    build_site(kb, str(out))
    return out


def test_hostile_vault_renders_inert(hostile_site):
    for path in html_files(hostile_site):
        page = parse(path)
        for tag, attrs in page.tags:
            assert tag not in ("iframe", "object", "embed", "style", "svg", "img", "base"), (path, tag)
            assert not (tag == "meta" and "http-equiv" in attrs), (path, attrs)
            if tag == "script":
                src = attrs.get("src", "")
                assert src.endswith(".js") and not re.match(r"^[a-z]+:", src), (path, attrs)
            for name, value in attrs.items():
                assert not name.lower().startswith("on"), (path, tag, name)
                if name in ("href", "src", "action"):
                    squashed = re.sub(r"\s", "", value).lower()
                    assert not squashed.startswith(("javascript:", "data:", "vbscript:")), (path, tag, value)
        assert "".join(page.script_bodies).strip() == "", path  # no inline script anywhere


def test_hostile_text_is_shown_as_text(hostile_site):
    page = parse(hostile_site / "techniques" / "AML.T0900.html")
    text = "".join(page.text)
    assert "<script>alert(1)</script>" in text  # visible, escaped, inert
    assert "AML.T0900" in page.title
    assert "broken-link" in (hostile_site / "techniques" / "AML.T0900.html").read_text(encoding="utf-8")


def test_hostile_site_links_resolve(hostile_site):
    assert all_links_resolve(hostile_site) == []


def test_hostile_search_index_cannot_break_out(hostile_site):
    text = (hostile_site / "search-index.js").read_text(encoding="utf-8")
    assert "</script" not in text.lower() and "<script" not in text
    data = json.loads(text.split("window.ATLASKB_SEARCH = ", 1)[1].rstrip().rstrip(";"))
    names = {r[0]: r[2] for r in data["rows"]}
    assert names["AML.T0900"] == "Evil Technique <script>alert(1)</script>"


def test_link_only_objects_are_marked(hostile_site):
    ghost = (hostile_site / "techniques" / "AML.T0999.html").read_text(encoding="utf-8")
    assert "Known only from links" in ghost
    mitigation = (hostile_site / "mitigations" / "AML.M0900.html").read_text(encoding="utf-8")
    assert "link only" in mitigation


def test_broken_links_in_the_vault_show(tmp_path):
    kb = atlaskb.load(str(FIXTURES / "vault_defects"))
    assert any(f.code == "broken-link" for f in kb.findings)
    out = tmp_path / "site"
    build_site(kb, str(out))
    problems = (out / "problems.html").read_text(encoding="utf-8")
    assert "broken-link" in problems
    guard = (out / "mitigations" / "ACME.M0001.html").read_text(encoding="utf-8")
    assert "Problems in this object" in guard and "broken-link" in guard
    assert all_links_resolve(out) == []


def test_write_page_helper_roundtrip(tmp_path):
    write_page(tmp_path, "a/b.md", "x")
    assert (tmp_path / "a" / "b.md").read_text(encoding="utf-8") == "x"


def test_release_file_site_links_resolve_and_problems_stay_with_their_object(tmp_path, atlas_yaml_56):
    """MITRE's release: full prose with ATLAS-website links and <sup> citations, and one
    file for every object, so a problem must land on the object it is about only."""
    kb = atlaskb.load(str(atlas_yaml_56))
    out = tmp_path / "site"
    build_site(kb, str(out))
    assert all_links_resolve(out) == []
    with_box = [p for p in html_files(out) if "Problems in this object" in p.read_text(encoding="utf-8")]
    assert len(with_box) <= len(kb.findings)
    html = "".join(p.read_text(encoding="utf-8") for p in (out / "case-studies").glob("AML.CS*.html"))
    assert "<sup>" in html and "&lt;sup&gt;" not in html


def test_site_package_is_not_ignored_by_git():
    """hatchling leaves git-ignored files out of the wheel: an ignore rule such as `site/`
    (meant for the built site at the repository root) would drop `src/atlaskb/site/`."""
    import shutil
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "check-ignore", "-v", "src/atlaskb/site/build.py", "templates/static/style.css"],
                          cwd=repo, capture_output=True, text=True)
    assert proc.stdout == "", f"ignored by git, so missing from the wheel: {proc.stdout}"


def test_object_pages_link_to_mitre_atlas(site):
    for rel, url in (("techniques/AML.T0043.html", "https://atlas.mitre.org/techniques/AML.T0043"),
                     ("techniques/AML.T0043.002.html", "https://atlas.mitre.org/techniques/AML.T0043.002"),
                     ("mitigations/AML.M0015.html", "https://atlas.mitre.org/mitigations/AML.M0015"),
                     ("tactics/AML.TA0002.html", "https://atlas.mitre.org/tactics/AML.TA0002"),
                     ("case-studies/AML.CS0000.html", "https://atlas.mitre.org/studies/AML.CS0000")):
        assert url in [a.get("href") for a in parse(site / rel).of("a")], rel



def test_tactic_pages_and_technique_pages_follow_the_tactic_rules(site, bundled_kb):
    """The tactic page lists `queries.techniques_of_tactic` at the top level; a technique
    page says "from the parent technique" exactly when `queries.tactics_inherited`."""
    assert queries.tactics_inherited(bundled_kb, "AML.T0043.002")
    assert not queries.tactics_inherited(bundled_kb, "AML.T0043")
    for technique in ("AML.T0043", "AML.T0043.002", "AML.T0051.000"):
        html = (site / "techniques" / f"{technique}.html").read_text(encoding="utf-8")
        assert ("(from the parent technique)" in html) == queries.tactics_inherited(bundled_kb, technique), technique
    for tactic in queries.tactics(bundled_kb):
        html = (site / "tactics" / f"{tactic}.html").read_text(encoding="utf-8")
        tree = html.split('<ul class="tree">', 1)[1].split("</section>", 1)[0]
        top = re.findall(r'^    <li>\n.*?href="\.\./techniques/([^"]+)\.html"', tree, flags=re.M | re.S)
        assert top == queries.techniques_of_tactic(bundled_kb, tactic), tactic
