"""The static site: every object has a page, links resolve, output is deterministic and
atomic, untrusted vault text renders inert, coverage and evidence show up."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from site_support import bundled_site, hostile_vault, html_files, parse, tree_bytes, write_page

import atlaskb
from atlaskb import coverage, queries
from atlaskb.errors import UsageError
from atlaskb.site import build as build_mod
from atlaskb.site import build_site
from atlaskb.site.context import build_model
from atlaskb.site.markdown import Renderer
from atlaskb.site.scale import COVERAGE_BINS, MITIGATION_BINS

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def site(tmp_path_factory, bundled_kb):
    """The bundled ATLAS site, built once per session (shared with the browser tests)."""
    return bundled_site(tmp_path_factory, bundled_kb)


@pytest.fixture(scope="module")
def pages(site):
    return {p: parse(p) for p in html_files(site)}


# -- pages and links -----------------------------------------------------------------------

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


def _check_target(site: Path, page_path: Path, url: str, pages) -> str | None:
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    target = page_path if not parts.path else (page_path.parent / unquote(parts.path)).resolve()
    if not target.is_file():
        return f"{page_path.relative_to(site)} -> {url}: no such file"
    if not str(target).startswith(str(site.resolve())):
        return f"{page_path.relative_to(site)} -> {url}: leaves the site"
    if parts.fragment and target.suffix == ".html":
        ids = pages[target].ids if target in pages else parse(target).ids
        if parts.fragment not in ids:
            return f"{page_path.relative_to(site)} -> {url}: no element #{parts.fragment}"
    return None


def _all_links_resolve(root: Path) -> list[str]:
    root = root.resolve()
    pages = {p: parse(p) for p in html_files(root)}
    problems = []
    for path, page in pages.items():
        for tag, attrs in page.tags:
            for attr in ("href", "src"):
                url = attrs.get(attr)
                if url is None or (tag == "a" and re.match(r"^(https?:|mailto:)", url)):
                    continue
                problem = _check_target(root, path, url, pages)
                if problem:
                    problems.append(problem)
    return problems


def test_no_internal_link_is_broken(site):
    assert _all_links_resolve(site) == []


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


# -- determinism and atomicity ---------------------------------------------------------------

def test_two_builds_are_byte_identical(tmp_path, bundled_kb):
    build_site(bundled_kb, str(tmp_path / "a"))
    build_site(bundled_kb, str(tmp_path / "b"))
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


def test_builds_with_coverage_and_evidence_are_byte_identical(tmp_path):
    evidence = str(_evidence_dir(tmp_path / "evidence"))
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


# -- untrusted vaults ----------------------------------------------------------------------

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
    assert _all_links_resolve(hostile_site) == []


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
    assert _all_links_resolve(out) == []


# -- markdown ------------------------------------------------------------------------------

def test_markdown_links_resolve_to_pages_or_show_broken():
    r = Renderer({"AML.T0005": "techniques/AML.T0005.html"}.get, {"evade": "AML.T0005"})
    html = r.block("See [it](/techniques/AML.T0005), [[x/y|AML.T0005: Evade]], [[evade]], [gone](/nowhere).", "../")
    assert html.count('href="../techniques/AML.T0005.html"') == 3
    assert '<span class="broken-link"' in html and "gone" in html


def test_markdown_citation_link_is_not_a_wikilink():
    r = Renderer(lambda _id: None)
    html = r.block("A claim.<sup>[[7]](https://example.org/paper.pdf)</sup>", "")
    assert '<a href="https://example.org/paper.pdf"' in html and "broken-link" not in html


def test_markdown_headings_are_demoted_and_images_dropped():
    r = Renderer(lambda _id: None)
    html = r.block("# Big\n\n![alt text](https://evil.example/x.png)", "")
    assert "<h3>Big</h3>" in html and "<img" not in html and "alt text" in html


# -- coverage and evidence --------------------------------------------------------------------

def test_coverage_site(tmp_path, bundled_kb):
    out = tmp_path / "site"
    result = build_site(bundled_kb, str(out), have=["AML.M0006"])
    assert result.coverage
    cov = (out / "coverage.html").read_text(encoding="utf-8")
    assert "Coverage by tactic" in cov and "Recommendations" in cov and "Ranked gaps" in cov
    home = (out / "index.html").read_text(encoding="utf-8")
    assert "heat-covered" in home and "heat-gap" in home
    t = (out / "techniques" / "AML.T0043.002.html").read_text(encoding="utf-8")
    assert "covered" in t
    assert _all_links_resolve(out) == []


def _evidence_dir(root: Path) -> Path:
    from PIL import Image

    (root / "plots").mkdir(parents=True)
    Image.new("RGB", (10, 10), (31, 119, 180)).save(root / "plots" / "AML.T0043.002.png")
    (root / "plots" / "AML.T0043.002.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
        encoding="utf-8")
    results = {
        "mitigation": "AML.M0006", "backend": "numpy", "device": "cpu", "dataset": "digits",
        "provenance": {"seeds": [0, 1]}, "clean_accuracy": {"baseline": 0.97, "defended": 0.98},
        "results": [{
            "technique": "AML.T0043.002", "attack": "transfer-pgd", "metric": "robust_accuracy",
            "higher_is_better": True, "baseline": 0.31, "defended": 0.52,
            "ci95": {"baseline": [0.25, 0.37], "defended": [0.45, 0.58]},
            "params": {"eps": 0.2},
            "plots": ["plots/AML.T0043.002.png", "plots/AML.T0043.002.svg", "plots/missing.svg"],
        }],
    }
    (root / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return root


def test_evidence_shows_on_both_pages_with_the_plot(tmp_path):
    kb = atlaskb.load()
    out = tmp_path / "site"
    result = build_site(kb, str(out), evidence_dir=str(_evidence_dir(tmp_path / "evidence")))
    assert result.evidence_edges == 1
    assert (out / "evidence" / "files" / "AML.M0006" / "plots" / "AML.T0043.002.png").is_file()
    assert not (out / "evidence" / "files" / "AML.M0006" / "plots" / "AML.T0043.002.svg").exists()  # never served
    for page in ("mitigations/AML.M0006.html", "techniques/AML.T0043.002.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert 'src="../evidence/files/AML.M0006/plots/AML.T0043.002.png"' in html, page
        assert "Not shown" not in html  # the SVG is the served PNG's twin: nothing to say
        assert "0.310" in html and "0.520" in html and "+0.210" in html and "better" in html, page
        assert "plots/missing.svg" in html  # named, never linked
    summary = (out / "evidence" / "index.html").read_text(encoding="utf-8")
    assert "transfer-pgd" in summary
    assert _all_links_resolve(out) == []


# -- command line ----------------------------------------------------------------------------

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


def test_write_page_helper_roundtrip(tmp_path):
    write_page(tmp_path, "a/b.md", "x")
    assert (tmp_path / "a" / "b.md").read_text(encoding="utf-8") == "x"


def test_release_file_site_links_resolve_and_problems_stay_with_their_object(tmp_path, atlas_yaml_56):
    """MITRE's release: full prose with ATLAS-website links and <sup> citations, and one
    file for every object, so a problem must land on the object it is about only."""
    kb = atlaskb.load(str(atlas_yaml_56))
    out = tmp_path / "site"
    build_site(kb, str(out))
    assert _all_links_resolve(out) == []
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


def _measured_dir(root: Path, results: list[dict], seeds: list[int]) -> Path:
    root.mkdir(parents=True)
    doc = {"mitigation": "AML.M0006", "backend": "numpy", "device": "cpu", "dataset": "digits",
           "provenance": {"seeds": seeds}, "clean_accuracy": {"baseline": 0.97, "defended": 0.98},
           "results": results}
    (root / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


def _result(metric, hib, base, dfd, ci_b, ci_d, attack="simba_score_based"):
    return {"technique": "AML.T0043.001", "attack": attack, "metric": metric,
            "higher_is_better": hib, "baseline": base, "defended": dfd,
            "ci95": {"baseline": ci_b, "defended": ci_d}, "params": {"eps": 0.2}, "plots": []}


def _evidence_html(tmp_path, results, seeds):
    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), evidence_dir=str(_measured_dir(tmp_path / "ev", results, seeds)))
    return ((out / "techniques" / "AML.T0043.001.html").read_text(encoding="utf-8"),
            (out / "evidence" / "index.html").read_text(encoding="utf-8"))


def test_evidence_reads_for_a_threat_modeler(tmp_path):
    """Which direction is better is stated; query counts are not printed to the
    thousandth; each side shows its own interval; a change inside overlapping intervals
    is not called better or worse; parameters read as set (eps=0.2)."""
    page, summary = _evidence_html(tmp_path, [
        _result("attack_success_rate", False, 0.966, 0.983, [0.927, 1.0], [0.968, 0.997]),
        _result("queries", True, 47.38844, 80.3412, [40.8979, 53.8789], [76.4911, 84.1923]),
    ], [0, 1, 2])
    for html in (page, summary):
        assert "lower is better" in html and "higher is better" in html
        assert "47.4" in html and "80.3" in html and "+33.0" in html and "47.388" not in html
        assert "[40.9, 53.9]" in html and "[0.927, 1.000]" in html
        assert "no clear difference" in html  # +0.017 with overlapping intervals
        assert ">better<" in html  # the query count, whose intervals are apart
        assert ">worse<" not in html
        assert "defended</strong>: with the mitigation in place" in html
        assert "SimBA score based" in html  # the attack key, readable
    assert page.count(">better<") == 1 and page.count(">no clear difference<") == 1
    assert "eps=0.2" in page and "eps=0.200" not in page


def test_evidence_from_one_seed_claims_no_interval(tmp_path):
    page, _ = _evidence_html(tmp_path, [
        _result("robust_accuracy", True, 0.4, 0.6, [0.4, 0.4], [0.6, 0.6]),
    ], [0])
    assert "1 seed, so no 95% intervals" in page and "[0.400, 0.400]" not in page
    assert "[0.600, 0.600]" not in page
    assert "one seed: no interval" in page  # the verdict says why it is tentative


def test_home_page_counts_one_mitigation_in_the_singular(tmp_path):
    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), have=["AML.M0006"])
    home = " ".join((out / "index.html").read_text(encoding="utf-8").split())
    assert "how the mitigation you have covers each technique" in home
    assert "1 mitigation cover " not in home


def test_evidence_shows_the_other_measured_figures_in_words(tmp_path):
    """A compromised member's trigger success on its own is the figure that explains the
    ensemble's; it sits in params.extra and must read in the table, not only in JSON."""
    r = _result("attack_success_rate", False, 1.0, 0.0, [1.0, 1.0], [0.0, 0.0], attack="trojaned_training_tool")
    r["params"] = {"how": "tool poisons 20% of each batch",
                   "extra": {"compromised_member_alone": {"mean": 0.95, "ci95": [0.9, 1.0], "per_seed": [0.9, 1.0]}}}
    page, _ = _evidence_html(tmp_path, [r], [0, 1])
    assert "compromised member alone: <strong>0.950</strong>" in page and "[0.900, 1.000]" in page


def test_full_parameter_listing_has_no_long_decimals(tmp_path):
    r = _result("robust_accuracy", True, 0.4, 0.6, [0.3, 0.5], [0.5, 0.7])
    r["params"] = {"eps": 0.1, "per_seed": {"baseline": [0.3333333, 0.4666667], "defended": [0.6, 0.6]}}
    page, _ = _evidence_html(tmp_path, [r], [0, 1])
    assert "0.3333333" not in page and "0.333" in page
    assert re.findall(r"\d\.\d{4,}", page) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc (a folder nobody can create in)")
def test_cli_unwritable_output_names_the_folder_asked_for_not_a_temporary_one(cli):
    code, _out, err = cli("site", "build", "--out", "/proc/atlaskb-site-test")
    assert code == 1 and "cannot write the site to /proc/atlaskb-site-test" in err
    assert ".tmp-" not in err and "Traceback" not in err


def test_evidence_for_links_the_sources_lack_is_warned_about_once_per_link(tmp_path):
    vault = tmp_path / "vault"
    write_page(vault, "mitigations/m.md", '---\nid: m\ntitle: "AML.M0006: Ensembles"\ntype: mitigation\n---\n\n'
               "# AML.M0006: Ensembles\n\n## Metadata\n\n- **Mitigation ID:** AML.M0006\n")
    ev = _measured_dir(tmp_path / "ev", [
        _result("attack_success_rate", False, 0.9, 0.8, [0.8, 1.0], [0.7, 0.9]),
        _result("queries", True, 40.0, 50.0, [30.0, 50.0], [40.0, 60.0]),
    ], [0, 1])
    result = build_site(atlaskb.load(str(vault)), str(tmp_path / "site"), evidence_dir=str(ev))
    assert len(result.warnings) == len(set(result.warnings)) == 1, result.warnings


def test_coverage_page_explains_gain_and_counts_one_mitigation_in_the_singular(tmp_path):
    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), have=["AML.M0006"])
    cov = " ".join((out / "coverage.html").read_text(encoding="utf-8").split())
    assert "are addressed by it." in cov and "by at least one of them" not in cov
    assert "<strong>gain</strong> is the total weight of the gaps it would close" in cov


def test_evidence_attack_names_stay_inert_with_their_break_points(tmp_path):
    r = _result("robust_accuracy", True, 0.4, 0.6, [0.3, 0.5], [0.5, 0.7], attack="<img src=x onerror=alert(1)>_x")
    r["params"] = {"extra": {"<b>bold</b>_alone": {"mean": 0.5, "ci95": [0.4, 0.6]}}}
    page, summary = _evidence_html(tmp_path, [r], [0, 1])
    for html in (page, summary):
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;_<wbr>x" in html
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; alone" in page


# -- the matrix page's coverage panel (its behaviour in a browser: test_site_matrix.py) --------

def _matrix_cells(page) -> list[dict]:
    return [a for t, a in page.tags if t == "li" and "cell" in a.get("class", "").split()]


def test_every_matrix_cell_names_its_technique(site, bundled_kb):
    page = parse(site / "index.html")
    cells = _matrix_cells(page)
    assert cells and all(a.get("data-id") for a in cells)
    assert {a["data-id"] for a in cells} == set(bundled_kb.nodes_of_type("technique"))
    assert not any("data-coverage" in a for a in cells)  # no selection in the build
    panel = [a for t, a in page.tags if a.get("id") == "cov-panel"]
    assert panel and "hidden" in panel[0]  # without JavaScript: the static matrix only


def test_a_site_built_with_a_profile_draws_what_coverage_reports(tmp_path, bundled_kb):
    from atlaskb.coverage import Profile

    profile = Profile(mitigations=["AML.M0006", "AML.M0015"], strength={"AML.M0015": 0.5})
    out = tmp_path / "site"
    build_site(bundled_kb, str(out), profile=profile)
    expected = coverage.compute(bundled_kb, profile.mitigations, profile.strength)
    state = {a["data-id"]: a["data-coverage"] for a in _matrix_cells(parse(out / "index.html"))}
    assert {t for t, s in state.items() if s in ("covered", "partial")} == set(expected["covered"])
    assert {t for t, s in state.items() if s == "partial"} == {t for t, lv in expected["level"].items() if lv < 1}
    assert {t for t, s in state.items() if s == "partial"}  # the strength made some partial


def test_matrix_data_comes_from_the_coverage_code(tmp_path, bundled_kb):
    from atlaskb import queries
    from atlaskb.export.navigator import layer

    out = tmp_path / "site"
    build_site(bundled_kb, str(out), have=["AML.M0006"])
    text = (out / "matrix-data.js").read_text(encoding="utf-8")
    assert text.isascii() and "<" not in text
    data = json.loads(text.split(" = ", 1)[1].rstrip().rstrip(";"))
    assert data["initial"] == {"have": ["AML.M0006"], "strength": {}}
    assert [t["id"] for t in data["techniques"]] == bundled_kb.nodes_of_type("technique")
    for t in data["techniques"]:
        assert t["weight"] == coverage.technique_weight(bundled_kb, t["id"])
        assert t["tactics"] == queries.tactics_of(bundled_kb, t["id"])
    m6 = next(m for m in data["mitigations"] if m["id"] == "AML.M0006")
    assert m6["techniques"] == [r["id"] for r in queries.techniques_for(bundled_kb, "AML.M0006")]
    assert json.loads(data["layer"]) == layer(bundled_kb, "coverage", [])
    assert data["evidence"] is None


def test_object_pages_link_to_mitre_atlas(site):
    for rel, url in (("techniques/AML.T0043.html", "https://atlas.mitre.org/techniques/AML.T0043"),
                     ("techniques/AML.T0043.002.html", "https://atlas.mitre.org/techniques/AML.T0043.002"),
                     ("mitigations/AML.M0015.html", "https://atlas.mitre.org/mitigations/AML.M0015"),
                     ("tactics/AML.TA0002.html", "https://atlas.mitre.org/tactics/AML.TA0002"),
                     ("case-studies/AML.CS0000.html", "https://atlas.mitre.org/studies/AML.CS0000")):
        assert url in [a.get("href") for a in parse(site / rel).of("a")], rel


def test_objects_that_are_not_atlas_own_get_no_mitre_link():
    from atlaskb.site.urls import mitre_url

    assert mitre_url("ACME.M0001", "mitigation") is None
    assert mitre_url("AML.M0001", "technique") is None  # an ID of the wrong kind
    assert mitre_url("AML.T0043/../x", "technique") is None


def _matrix_data(out: Path) -> dict:
    text = (out / "matrix-data.js").read_text(encoding="utf-8")
    return json.loads(text.split(" = ", 1)[1].rstrip().rstrip(";"))


@pytest.mark.parametrize("verdict, status", [("better", "supported"), ("worse", "contradicted"),
                                             ("no clear difference", "not supported"), (None, "measured")])
def test_matrix_evidence_statuses_are_linkstatus_statuses(tmp_path, monkeypatch, verdict, status):
    """The evidence toggle's status of a link is `atlaskb.linkstatus`'s; rows without a
    paired verdict are "measured"; links the defense declares it cannot measure are
    "not measured here", the others without results "unmeasured"."""
    import atlaskb.defenses
    from atlaskb import linkstatus

    declared = [{"mitigation": "AML.M0006", "techniques": [], "description": "",
                 "not_measured": [{"technique": "AML.T0015", "reason": "needs a camera"}]}]
    monkeypatch.setattr(atlaskb.defenses, "list_mitigations", lambda kb=None: declared)
    folder = _evidence_dir(tmp_path / "ev")
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    if verdict is not None:
        results["results"][0]["verdict"] = verdict
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), evidence_dir=str(folder))
    data = _matrix_data(out)
    m6 = next(m for m in data["mitigations"] if m["id"] == "AML.M0006")
    statuses = dict(zip(m6["techniques"], m6["status"]))
    assert statuses.pop("AML.T0043.002") == status
    if verdict is not None:
        assert status == linkstatus.link_status(results["results"]).status
    assert statuses.pop("AML.T0015") == linkstatus.NOT_MEASURED_HERE
    assert set(statuses.values()) == {linkstatus.UNMEASURED}
    others = {s for m in data["mitigations"] if m["id"] != "AML.M0006" for s in m["status"]}
    assert others <= {linkstatus.UNMEASURED, linkstatus.NOT_MEASURED_HERE}
    assert data["evidence"]["best_first"][0] == linkstatus.SUPPORTED
