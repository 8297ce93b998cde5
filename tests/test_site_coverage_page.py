"""`site.coverage_page`: the coverage page and the matrix coloured by coverage, drawing
exactly what `atlaskb.coverage` reports."""

from __future__ import annotations

from site_support import all_links_resolve, parse
from site_support import site  # noqa: F401 - a fixture, used by name

import atlaskb
from atlaskb import coverage
from atlaskb.site import build_site


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
    assert all_links_resolve(out) == []


def test_home_page_counts_one_mitigation_in_the_singular(tmp_path):
    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), have=["AML.M0006"])
    home = " ".join((out / "index.html").read_text(encoding="utf-8").split())
    assert "how the mitigation you have covers each technique" in home
    assert "1 mitigation cover " not in home


def test_coverage_page_explains_gain_and_counts_one_mitigation_in_the_singular(tmp_path):
    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), have=["AML.M0006"])
    cov = " ".join((out / "coverage.html").read_text(encoding="utf-8").split())
    assert "are addressed by it." in cov and "by at least one of them" not in cov
    assert "<strong>gain</strong> is the total weight of the gaps it would close" in cov


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

