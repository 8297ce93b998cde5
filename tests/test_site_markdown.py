"""`site.markdown`: untrusted markdown to safe HTML whose links resolve to site pages."""

from __future__ import annotations

from atlaskb.site.markdown import Renderer


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

