"""The site in a real browser: Debian's headless Chromium driven by playwright's Python
package (never a downloaded browser). Opens the home page from file://, follows
matrix → technique → mitigation, runs a search with the keyboard, and checks that no
page logs a console error or fails to load a resource. Skips cleanly without Chromium
or playwright."""

from __future__ import annotations

import os
import shutil

import pytest
from site_support import bundled_site

CHROMIUM = os.environ.get("ATLASKB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# What the machine's closed network needs: no background requests to Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Exception as e:  # noqa: BLE001 - a browser that cannot start is an environment gap
            pytest.skip(f"Chromium could not be started: {e}")
        yield b
        b.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory, bundled_kb):
    return bundled_site(tmp_path_factory, bundled_kb)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    pg.on("requestfailed", lambda req: problems.append(f"failed to load {req.url}"))
    pg.on("request", lambda req: problems.append(f"network request {req.url}")
          if not req.url.startswith("file://") else None)
    pg.problems = problems
    yield pg
    context.close()


def test_matrix_to_technique_to_mitigation(page, site):
    page.goto((site / "index.html").as_uri())
    assert page.locator("h1").inner_text() == "The ATLAS matrix"
    columns = page.locator(".matrix-col")
    assert columns.count() == 16
    # open a technique's sub-techniques (works without JavaScript: <details>)
    details = page.locator("details.subs").first
    details.locator("summary").click()
    assert details.evaluate("d => d.open")
    page.locator('a.cell-link[href="techniques/AML.T0043.html"]').first.click()
    page.wait_for_load_state()
    assert "AML.T0043" in page.title()
    page.locator('a[href="../mitigations/AML.M0006.html"]').first.click()
    page.wait_for_load_state()
    assert "AML.M0006" in page.title()
    assert page.locator("h1").inner_text().startswith("AML.M0006")
    assert page.problems == []


def test_search_with_the_keyboard(page, site):
    page.goto((site / "index.html").as_uri())
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-search"
    page.keyboard.type("ensemble")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.split("?")[0].endswith("/search.html")
    results = page.locator("#search-results a")
    results.first.wait_for()
    assert "AML.M0006" in page.locator("#search-results").inner_text()
    # live search as you type, and arrow keys move into the results
    box = page.locator("#search-input")
    box.fill("AML.T0043.002")
    page.wait_for_function("document.querySelectorAll('#search-results a').length > 0 && "
                           "document.querySelector('#search-results a').textContent.includes('AML.T0043.002')")
    box.press("ArrowDown")
    assert page.evaluate("document.activeElement.closest('#search-results') !== null")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "AML.T0043.002" in page.title()
    assert page.problems == []


def test_search_page_matches_word_forms_and_parent_names_as_the_cli_does(page, site):
    """The page applies atlaskb.textmatch's rule (carried in the index), so it finds what
    `atlaskb search` finds for these queries."""
    for query, wanted in (("poisoning", {"AML.T0020", "AML.T0018.000"}),
                          ("prompt injection", {"AML.T0051.000", "AML.T0051.001", "AML.T0051.002"})):
        page.goto((site / "search.html").as_uri() + "?q=" + query.replace(" ", "+"))
        page.locator("#search-results a").first.wait_for()
        found = set(page.evaluate(
            "Array.from(document.querySelectorAll('#search-results .r-id')).map(e => e.textContent)"))
        assert wanted <= found, (query, sorted(found)[:20])
    assert page.problems == []


def test_no_console_errors_on_every_kind_of_page(page, site):
    for rel in ("index.html", "tactics/index.html", "tactics/AML.TA0001.html", "techniques/AML.T0043.002.html",
                "mitigations/AML.M0006.html", "case-studies/AML.CS0000.html", "search.html?q=poison",
                "problems.html"):
        page.goto((site / rel.split("?")[0]).as_uri() + ("?" + rel.split("?")[1] if "?" in rel else ""))
        page.wait_for_load_state()
    assert page.problems == []


def test_phone_layout_has_no_sideways_page_scroll(browser, site):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    pg = context.new_page()
    try:
        for rel in ("index.html", "techniques/AML.T0043.html", "mitigations/AML.M0006.html"):
            pg.goto((site / rel).as_uri())
            overflow = pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, (rel, overflow)
        # the home page's matrix itself does not scroll sideways either: it is stacked
        pg.goto((site / "index.html").as_uri())
        assert pg.evaluate("(() => { const w = document.querySelector('.matrix-wrap');"
                           " return w.scrollWidth - w.clientWidth; })()") <= 1
        _assert_matrix_stacked(pg, 375)
    finally:
        context.close()


def _assert_matrix_stacked(pg, width):
    """Tactics one below another, each a headed section whose techniques and (opened)
    sub-techniques fit the screen, every link reachable and visible by keyboard."""
    boxes = pg.evaluate("Array.from(document.querySelectorAll('.matrix-col')).map(c => {"
                        " const r = c.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; })")
    assert len(boxes) == 16
    for (left, right, top, _), (_, _, _, above_bottom) in zip(boxes[1:], boxes):
        assert top >= above_bottom, "tactic sections should stack, not sit side by side"
    assert all(left >= 0 and right <= width + 1 for left, right, _, _ in boxes), boxes
    assert pg.locator(".matrix-col > h2").count() == 16  # each section keeps its heading
    first = pg.locator(".matrix-col").first
    assert first.get_attribute("aria-labelledby") == first.locator("h2").get_attribute("id")
    # sub-techniques stay behind their <details> toggle, and fit once opened
    details = first.locator("details.subs").first
    assert not details.evaluate("d => d.open")
    details.locator("summary").focus()
    pg.keyboard.press("Enter")
    assert details.evaluate("d => d.open")
    sub = details.locator("a.cell-link").first
    sub.focus()
    box = sub.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box
    assert sub.evaluate("a => getComputedStyle(a).outlineStyle") != "none"  # focus stays visible
    wide = pg.evaluate("Array.from(document.querySelectorAll('.matrix a, .matrix summary'))"
                       ".filter(e => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 1)"
                       ".map(e => e.textContent.trim())")
    assert wide == []


def test_desktop_matrix_is_side_by_side(page, site):
    """Above phone width the matrix keeps its columns, scrolling inside its own region."""
    page.goto((site / "index.html").as_uri())
    boxes = page.evaluate("Array.from(document.querySelectorAll('.matrix-col'))"
                          ".map(c => { const r = c.getBoundingClientRect(); return [r.left, r.top]; })")
    lefts, tops = [b[0] for b in boxes], [b[1] for b in boxes]
    assert len({round(t) for t in tops}) == 1
    assert lefts == sorted(lefts) and len(set(lefts)) == 16
    assert page.evaluate("(() => { const w = document.querySelector('.matrix-wrap');"
                         " return w.scrollWidth > w.clientWidth; })()")
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 1


def test_skip_link_and_focus_are_visible(page, site):
    page.goto((site / "techniques/AML.T0043.html").as_uri())
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    top = page.evaluate("document.activeElement.getBoundingClientRect().top")
    assert top >= 0  # it moves into view when focused
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_coverage_and_evidence_pages_load_cleanly(page, tmp_path):
    """Plots copied into the site load (a missing file would be a failed request), and
    the coverage and evidence pages raise no errors."""
    from site_support import make_evidence_dir

    import atlaskb
    from atlaskb.site import build_site

    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), have=["AML.M0006"], evidence_dir=str(make_evidence_dir(tmp_path / "ev")))
    for rel in ("coverage.html", "evidence/index.html", "mitigations/AML.M0006.html", "techniques/AML.T0043.002.html"):
        page.goto((out / rel).as_uri())
        page.wait_for_load_state("load")
        # plots load lazily: bring each into view, then every one must have decoded
        page.evaluate("Array.from(document.images).forEach(i => { i.loading = 'eager'; i.scrollIntoView(); })")
        page.wait_for_function("Array.from(document.images).every(i => i.complete)")
        assert page.evaluate("Array.from(document.images).every(i => i.naturalWidth > 0)"), rel
        if rel != "coverage.html":
            assert page.locator("figure.plot img").count() >= 1, rel
    page.goto((out / "index.html").as_uri())
    assert page.locator(".matrix .heat-covered").count() > 0
    assert page.problems == []


def test_evidence_fits_a_phone(browser, tmp_path):
    """On a 390 px phone the evidence table stacks into one card per result: nothing
    scrolls sideways and every result's defended figure is on screen."""
    from site_support import make_evidence_dir

    import atlaskb
    from atlaskb.site import build_site

    out = tmp_path / "site"
    build_site(atlaskb.load(), str(out), evidence_dir=str(make_evidence_dir(tmp_path / "ev")))
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        pg = context.new_page()
        for rel in ("techniques/AML.T0043.002.html", "evidence/index.html"):
            pg.goto((out / rel).as_uri())
            cells = pg.locator('table.data td[data-label="Defended"]')
            assert cells.count() >= 1, rel
            for i in range(cells.count()):
                box = cells.nth(i).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1, (rel, box)
            assert pg.evaluate("document.documentElement.scrollWidth") <= 390, rel
    finally:
        context.close()


def _odd_vault(root):
    """Very long unbroken names, a bare URL longer than a phone, an empty title, and a
    mitigation known only from a link."""
    from site_support import write_page

    long_word = "Supercalifragilisticexpialidocious-Reconnaissance-Without-Any-Spaces-At-All"
    write_page(root, "tactics/t.md", f'---\nid: t\ntitle: "AML.TA0901: {long_word}"\n---\n\n'
               f"# AML.TA0901: {long_word}\n\n## Metadata\n\n- **Tactic ID:** AML.TA0901\n")
    write_page(root, "techniques/t/long.md", '---\nid: long\ntitle: "AML.T0901: Long"\n---\n\n'
               "# AML.T0901: Long\n\nSee https://example.com/" + "very" * 40 + "/path\n\n"
               "## Metadata\n\n- **Technique ID:** AML.T0901\n\n## Tactics (1)\n\n- [[tactics/t|Tactic]]\n\n"
               "## Mitigations (1)\n\n- [[mitigations/ghost|AML.M0999: Ghost]]\n")
    write_page(root, "techniques/t/empty.md", '---\nid: empty\ntitle: "AML.T0902: "\n---\n\n'
               "# AML.T0902:\n\n## Metadata\n\n- **Technique ID:** AML.T0902\n\n## Tactics (1)\n\n"
               "- [[tactics/t|Tactic]]\n")
    return root


def test_odd_content_does_not_push_pages_sideways_on_a_phone(browser, tmp_path):
    import atlaskb
    from atlaskb.site import build_site

    out = tmp_path / "site"
    build_site(atlaskb.load(str(_odd_vault(tmp_path / "vault"))), str(out))
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        pg = context.new_page()
        wide = {}
        for path in sorted(out.rglob("*.html")):
            pg.goto(path.as_uri())
            width = pg.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide[str(path.relative_to(out))] = width
        assert wide == {}
    finally:
        context.close()


def test_matrix_cells_do_not_cut_technique_names_mid_word(page, site):
    """A laptop-width matrix: every technique's name fits its cell at word (or slash)
    boundaries; "Acquire Infrastructur|e" is what a reader saw before."""
    page.goto((site / "index.html").as_uri())
    cut = page.evaluate("""() => Array.from(document.querySelectorAll('ul.cells > li.cell:not(.sub) > .cell-main > .cell-link'))
        .filter(el => { el.style.overflowWrap = 'normal'; const over = el.scrollWidth > el.clientWidth + 1;
                        el.style.overflowWrap = ''; return over; })
        .map(el => el.textContent.trim())""")
    assert cut == []
