"""The matrix page's coverage panel in headless Chromium (skips cleanly without it):
pick mitigations, the matrix recolours with the numbers `atlaskb coverage` gives; the
selection round-trips through the URL; downloads equal the CLI's output; a gap lists the
mitigations that would cover it in `recommend`'s order; nothing leaves the site's folder
and no vault text becomes markup."""

from __future__ import annotations

import json
import random

import pytest
import yaml
from conftest import run_cli
from test_site_browser import browser  # noqa: F401  (the module-scoped Chromium fixture)

import atlaskb
from atlaskb import coverage
from atlaskb.site import build_site

pytestmark = pytest.mark.browser

PAIR = ["AML.M0006", "AML.M0015"]


@pytest.fixture(scope="module")
def kb():
    return atlaskb.load()


@pytest.fixture(scope="module")
def sites(tmp_path_factory, kb):
    """The bundled vault's site plain, built with --have, and with evidence."""
    from site_support import make_evidence_dir

    root = tmp_path_factory.mktemp("matrix-sites")
    build_site(kb, str(root / "plain"))
    build_site(atlaskb.load(), str(root / "have"), have=list(PAIR))
    build_site(atlaskb.load(), str(root / "evidence"), evidence_dir=str(make_evidence_dir(root / "ev")))
    return root


@pytest.fixture
def page(browser, sites):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    problems: list[str] = []
    allowed = sites.as_uri() + "/"
    pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    pg.on("requestfailed", lambda req: problems.append(f"failed to load {req.url}"))
    pg.on("request", lambda req: None if req.url.startswith((allowed, "blob:")) else
          problems.append(f"request outside the site's folder: {req.url}"))
    pg.problems = problems
    yield pg
    context.close()


def open_matrix(page, site, fragment=""):
    page.goto((site / "index.html").as_uri() + fragment)
    page.wait_for_selector("#cov-panel:not([hidden])")


def cells_by_state(page) -> dict:
    return page.evaluate("""() => { const out = {};
        document.querySelectorAll('[data-id]').forEach(c => {
            const s = c.getAttribute('data-coverage') || 'none';
            (out[s] = out[s] || new Set()).add(c.getAttribute('data-id')); });
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v).sort()])); }""")


def cli_json(*args):
    code, out, err = run_cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_contract_hash_selection_colours_exactly_the_cli_covered_set(page, sites):
    open_matrix(page, sites / "plain", "#have=AML.M0006,AML.M0015")
    expected = cli_json("coverage", "--have", "AML.M0006", "--have", "AML.M0015")
    states = cells_by_state(page)
    shown = set(states.get("covered", [])) | set(states.get("partial", []))
    assert shown == set(expected["covered"]) and shown
    assert "none" not in states  # every cell got a state
    # every technique of the matrix is a cell, once the sub-techniques are counted
    assert set().union(*map(set, states.values())) == set(expected["covered"]) | set(expected["uncovered"])
    per_tactic = page.evaluate("Object.fromEntries(Array.from(document.querySelectorAll('.col-cov[data-tactic]'))"
                               ".map(e => [e.dataset.tactic, [+e.dataset.covered, +e.dataset.total]]))")
    assert per_tactic == {t: [len(e["covered"]), len(e["covered"]) + len(e["uncovered"])]
                          for t, e in expected["by_tactic"].items()}
    summary = page.locator("#cov-summary")
    assert (int(summary.get_attribute("data-covered")), int(summary.get_attribute("data-total"))) == \
        (expected["totals"]["covered"], expected["totals"]["techniques"])
    assert f"({round(expected['totals']['ratio'] * 100)}%)" in summary.inner_text()
    assert page.problems == []


def test_the_page_computes_what_coverage_and_recommend_compute(page, sites, kb):
    """The script's arithmetic against the library's on many selections, strengths
    included: covered sets, levels, counts per tactic, totals and the recommend order."""
    open_matrix(page, sites / "plain")
    rng = random.Random(18)
    mitigations = kb.nodes_of_type("mitigation")
    for _ in range(40):
        chosen = rng.sample(mitigations, rng.randint(0, 8))
        strength = {m: rng.choice([1, 0.5, 0.25, 0.1, 0, 0.75, 0.3]) for m in chosen if rng.random() < 0.5}
        ours = page.evaluate("""([chosen, strength]) => { const sel = new Map(chosen.map(m => [m, m in strength ? strength[m] : 1]));
            const r = window.atlaskbMatrix.compute(sel);
            return {covered: r.covered, level: Object.fromEntries(r.level), totals: r.totals,
                    by_tactic: r.byTactic.map(x => [x.id, x.covered, x.total]),
                    picks: window.atlaskbMatrix.recommend(sel, 8).map(p => [p.id, p.gain, p.newly_covered])}; }""",
                             [chosen, strength])
        theirs = coverage.compute(kb, chosen, strength)
        assert ours["covered"] == theirs["covered"]
        assert ours["level"] == theirs["level"]
        assert ours["totals"] == theirs["totals"]
        assert ours["by_tactic"] == [[t, len(e["covered"]), len(e["covered"]) + len(e["uncovered"])]
                                     for t, e in theirs["by_tactic"].items()]
        picks = coverage.recommend(kb, chosen, top=8, strength=strength)
        assert ours["picks"] == [[p["id"], p["gain"], p["newly_covered"]] for p in picks]
    assert page.problems == []


def test_pick_with_the_keyboard_recolour_and_round_trip_the_url(page, sites):
    open_matrix(page, sites / "plain")
    assert cells_by_state(page).keys() == {"none"}  # nothing picked: the mitigation counts
    page.locator("#cov-filter").fill("ensemble")
    visible = page.locator("#cov-list li:not([hidden])")
    assert visible.count() == 1 and "AML.M0006" in visible.inner_text()
    visible.locator("input[type=checkbox]").focus()
    page.keyboard.press("Space")
    page.locator("#cov-filter").fill("M0015")
    page.locator("#cov-filter").press("Enter")  # the one match: picked
    assert page.evaluate("location.hash") == "#have=AML.M0006,AML.M0015"
    states = cells_by_state(page)
    expected = cli_json("coverage", "--have", "AML.M0006,AML.M0015")
    assert set(states["covered"]) == set(expected["covered"])
    # a strength below 1: the cell becomes partial, and the URL keeps the strength
    strength = page.locator('#cov-list li[data-mitigation="AML.M0015"] .cov-strength input')
    strength.fill("0.5")
    strength.press("Tab")
    assert page.evaluate("location.hash") == "#have=AML.M0006,AML.M0015:0.5"
    only_m15 = set(expected["covered"]) - set(cli_json("coverage", "--have", "AML.M0006")["covered"])
    assert set(cells_by_state(page)["partial"]) == only_m15
    url = page.url
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector("#cov-panel:not([hidden])")
    assert cells_by_state(page) == cells_by_state(page) and set(cells_by_state(page)["partial"]) == only_m15
    assert page.locator('#cov-list li[data-mitigation="AML.M0015"] .cov-strength input').input_value() == "0.5"
    page.get_by_role("button", name="Remove AML.M0006").click()  # the picked list removes too
    assert page.evaluate("location.hash") == "#have=AML.M0015:0.5"
    assert page.locator("#cov-picked button").all_inner_texts() == ["AML.M0015 (0.5) ×"]
    page.locator("#cov-clear").click()
    assert cells_by_state(page).keys() == {"none"}
    assert page.evaluate("location.hash") == "#have="
    assert page.problems == []


def test_an_address_with_unknown_or_bad_items_keeps_the_good_ones_and_says_so(page, sites):
    open_matrix(page, sites / "plain", "#have=m0006,AML.M9999,AML.M0015:7,%3Cb%3E")
    assert page.locator("#cov-notice").is_visible()
    notice = page.locator("#cov-notice").inner_text()
    assert "AML.M9999" in notice and "AML.M0015:7" in notice and "<b>" in notice
    assert page.locator("#cov-notice b").count() == 0  # shown as text, never as markup
    assert page.evaluate("location.hash") == "#have=AML.M0006,AML.M0015"
    assert page.problems == []


def test_a_site_built_with_have_opens_with_that_set(page, sites):
    open_matrix(page, sites / "have")
    assert page.evaluate("location.hash") == "#have=AML.M0006,AML.M0015"
    checked = page.evaluate("Array.from(document.querySelectorAll('#cov-list input[type=checkbox]:checked')).map(e => e.value)")
    assert checked == PAIR
    expected = cli_json("coverage", "--have", ",".join(PAIR))
    assert set(cells_by_state(page)["covered"]) == set(expected["covered"])
    assert page.problems == []


def test_downloads_equal_what_the_cli_writes(page, sites, tmp_path):
    open_matrix(page, sites / "plain", "#have=AML.M0006,AML.M0015:0.5,AML.M0003")
    with page.expect_download() as got:
        page.locator("#cov-dl-profile").click()
    profile = tmp_path / got.value.suggested_filename
    got.value.save_as(profile)
    assert profile.name.endswith(".yaml")
    with page.expect_download() as got:
        page.locator("#cov-dl-layer").click()
    layer = tmp_path / "layer.json"
    got.value.save_as(layer)
    # the profile reads back as the same selection
    assert yaml.safe_load(profile.read_text(encoding="utf-8"))["mitigations"][1] == {"id": "AML.M0006"}
    from_profile = cli_json("coverage", "--profile", str(profile))
    (tmp_path / "same.yaml").write_text("mitigations:\n  - AML.M0003\n  - AML.M0006\n  - id: AML.M0015\n"
                                        "    strength: 0.5\n", encoding="utf-8")
    assert from_profile == cli_json("coverage", "--profile", str(tmp_path / "same.yaml"))
    # the layer is byte for byte what `export navigator` writes for that profile
    cli_layer = tmp_path / "cli.json"
    code, _, err = run_cli("export", "navigator", "--score", "coverage", "--profile", str(profile),
                           "--out", str(cli_layer))
    assert code == 0, err
    assert layer.read_bytes() == cli_layer.read_bytes()
    assert page.problems == []


def test_a_gap_lists_what_would_cover_it_in_recommend_order(page, sites, kb):
    open_matrix(page, sites / "plain", "#have=AML.M0006")
    gap = page.locator('.matrix li.cell[data-id="AML.T0051"]').first
    assert gap.get_attribute("data-coverage") == "gap"
    button = gap.locator(":scope > .cell-main > button.cell-value")
    button.focus()
    page.keyboard.press("Enter")
    info = page.locator("#cell-info")
    assert info.is_visible()
    assert page.evaluate("document.activeElement.id") == "cell-info"
    listed = info.locator("ol.cover-options > li").evaluate_all("els => els.map(e => e.dataset.mitigation)")
    picks = coverage.recommend(kb, ["AML.M0006"], top=len(kb.nodes_of_type("mitigation")))
    assert listed == [p["id"] for p in picks if "AML.T0051" in p["techniques"]] and listed
    # Add the first: it is selected, the cell is covered, the panel closes
    info.locator("ol.cover-options > li").first.locator("button").click()
    assert info.is_hidden()
    assert page.evaluate("location.hash") == "#have=" + ",".join(sorted(["AML.M0006", listed[0]]))
    assert gap.get_attribute("data-coverage") == "covered"
    # Escape closes and gives focus back to the cell's button
    button.click()
    page.keyboard.press("Escape")
    assert info.is_hidden() and page.evaluate("document.activeElement.classList.contains('cell-value')")
    assert page.problems == []


def test_evidence_toggle_colours_covered_cells_by_measurement(page, sites):
    open_matrix(page, sites / "evidence", "#have=AML.M0006")
    page.locator("input[name=cov-by][value=evidence]").check()
    assert page.evaluate("location.hash") == "#have=AML.M0006&by=evidence"
    measured = page.evaluate("Array.from(new Set(Array.from(document.querySelectorAll('[data-evidence=\"measured\"]'))"
                             ".map(c => c.dataset.id)))")
    assert measured == ["AML.T0043.002"]  # the one link the evidence folder measured
    assert page.evaluate("Array.from(document.querySelectorAll('[data-coverage=covered]:not([data-evidence])')).length") == 0
    others = page.evaluate("Array.from(new Set(Array.from(document.querySelectorAll('[data-coverage=covered]'))"
                           ".map(c => c.dataset.evidence)))")
    assert set(others) == {"measured", "unmeasured"}  # its other links: no results in this folder
    assert page.locator('[data-legend="evidence"]').is_visible()
    page.locator("input[name=cov-by][value=claim]").check()
    assert page.locator("[data-evidence]").count() == 0
    assert page.problems == []


def test_whole_matrix_fits_at_desktop_widths_and_scroll_is_announced(browser, sites):  # noqa: F811
    for width, fits in ((1400, True), (1920, True), (1280, False)):
        context = browser.new_context(viewport={"width": width, "height": 900})
        pg = context.new_page()
        try:
            pg.goto((sites / "have" / "index.html").as_uri())
            out_of_view = pg.evaluate("Array.from(document.querySelectorAll('.matrix-col'))"
                                      ".filter(c => c.getBoundingClientRect().right > innerWidth).length")
            hint = pg.locator("#matrix-scroll-hint")
            if fits:
                assert out_of_view == 0, width
                assert hint.is_hidden()
            else:
                assert out_of_view > 0 and hint.is_visible() and "scroll" in hint.inner_text()
        finally:
            context.close()


def test_vault_text_reaches_the_page_only_as_text(browser, tmp_path):  # noqa: F811
    from site_support import write_page

    root = tmp_path / "vault"
    evil = "<img src=x onerror=\"document.title='pwned'\">"
    write_page(root, "tactics/t.md", '---\nid: t\ntitle: "AML.TA0901: Tactic"\n---\n\n# AML.TA0901: Tactic\n')
    write_page(root, "techniques/a.md", '---\nid: a\ntitle: "AML.T0901: Alpha"\n---\n\n# AML.T0901: Alpha\n\n'
               "## Tactics (1)\n\n- [[tactics/t|Tactic]]\n\n## Mitigations (1)\n\n- [[mitigations/m|AML.M0901]]\n")
    write_page(root, "techniques/b.md", '---\nid: b\ntitle: "AML.T0902: Beta"\n---\n\n# AML.T0902: Beta\n\n'
               "## Tactics (1)\n\n- [[tactics/t|Tactic]]\n")
    write_page(root, "mitigations/m.md", f"---\nid: m\ntitle: 'AML.M0901: {evil}'\n---\n\n# AML.M0901: {evil}\n")
    out = tmp_path / "site"
    build_site(atlaskb.load(str(root)), str(out))
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    try:
        pg.goto((out / "index.html").as_uri())
        pg.locator('[data-id="AML.T0901"] button.cell-value').first.click()
        assert evil in pg.locator("#cell-info").inner_text()
        pg.locator("#cell-info ol.cover-options button").first.click()
        assert pg.locator('[data-id="AML.T0901"]').first.get_attribute("data-coverage") == "covered"
        pg.locator('[data-id="AML.T0901"] button.cell-value').first.click()
        with pg.expect_download() as got:
            pg.locator("#cov-dl-profile").click()
        text = open(got.value.path(), encoding="utf-8").read()
        assert yaml.safe_load(text) == {"mitigations": [{"id": "AML.M0901"}]}
        assert pg.locator("main img").count() == 0 and pg.title() != "pwned"
    finally:
        context.close()


def test_the_script_writes_no_markup():
    from atlaskb.resources import templates_dir

    with open(f"{templates_dir()}/static/matrix.js", encoding="utf-8") as fh:
        script = fh.read()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


def test_without_javascript_the_static_matrix_stays(browser, sites):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 900}, java_script_enabled=False)
    pg = context.new_page()
    try:
        pg.goto((sites / "have" / "index.html").as_uri())
        assert pg.locator("#cov-panel").is_hidden()
        assert pg.locator(".matrix-col").count() == 16
        assert pg.locator("button.cell-value").count() == 0  # the buttons come with the script
        covered = pg.evaluate("Array.from(new Set(Array.from(document.querySelectorAll('[data-coverage=covered]'))"
                              ".map(c => c.dataset.id))).sort()")
        assert covered == sorted(cli_json("coverage", "--have", ",".join(PAIR))["covered"])
        assert pg.locator('[data-legend="coverage"]').is_visible()
    finally:
        context.close()
