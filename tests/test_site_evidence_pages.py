"""`site.evidence_pages`: measured results on the mitigation and technique pages and the
evidence page, in words a threat modeler reads, with plots re-encoded and hostile names inert."""

from __future__ import annotations

import json
import re
from pathlib import Path

from site_support import all_links_resolve, make_evidence_dir, write_page

import atlaskb
from atlaskb.site import build_site


def test_evidence_shows_on_both_pages_with_the_plot(tmp_path):
    kb = atlaskb.load()
    out = tmp_path / "site"
    result = build_site(kb, str(out), evidence_dir=str(make_evidence_dir(tmp_path / "evidence")))
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
    assert all_links_resolve(out) == []


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


def test_evidence_attack_names_stay_inert_with_their_break_points(tmp_path):
    r = _result("robust_accuracy", True, 0.4, 0.6, [0.3, 0.5], [0.5, 0.7], attack="<img src=x onerror=alert(1)>_x")
    r["params"] = {"extra": {"<b>bold</b>_alone": {"mean": 0.5, "ci95": [0.4, 0.6]}}}
    page, summary = _evidence_html(tmp_path, [r], [0, 1])
    for html in (page, summary):
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;_<wbr>x" in html
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; alone" in page

