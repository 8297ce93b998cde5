"""Descriptions and notes from a vault are untrusted: render them, then sanitise them.

markdown-it-py renders (raw HTML included, so the `<sup>` citations of MITRE's release
prose survive), and nh3 then cleans the result against a small allow-list of tags,
attributes, classes and URL schemes: a script or style goes with its content, an iframe,
image or SVG is dropped, an event handler or a ``javascript:`` URL loses its attribute.
Jinja2's autoescape covers every other field.

Links are resolved while rendering: a link whose label or target names a known ATLAS ID
(the ATLAS website's ``/techniques/AML.T0005`` style, or an Obsidian ``[[path|label]]``
wikilink) becomes a relative link to that object's page; ``http(s)``/``mailto`` links
stay as they are; anything else would be a dead link in the site, so it is shown as a
visibly marked broken link instead. Headings are pushed down two levels so a description
never competes with the page's own ``<h1>``/``<h2>`` outline.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import quote, unquote

import nh3
from markdown_it import MarkdownIt

from atlaskb.model import find_id

ALLOWED_TAGS = {
    "p", "br", "hr", "a", "span", "em", "strong", "b", "i", "del", "sup", "sub", "code", "pre", "blockquote",
    "ul", "ol", "li", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}
# The one class the site's own markup puts in descriptions; raw HTML may not borrow others.
ALLOWED_CLASSES = {"broken-link"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "rel"}, "span": {"class", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
EXTERNAL = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)
# `[[path|label]]`, but not `[[7]](url)`: a markdown link whose text is "[7]" (release
# prose cites sources that way). Neither part may hold `[[` (the path no `[`): a line of
# 60,000 `[` would otherwise make every `[[` scan to the line's end (quadratic).
WIKILINK = re.compile(r"\[\[([^\[\]|\n]*)(?:\|((?:[^\[\]\n]|\[(?!\[))*))?\]\](?!\()")
WIKI_SCHEME = "atlaskb-wiki:"
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def safe_url(url: object) -> str | None:
    """`url` when it is an absolute http(s) or mailto URL, else None: metadata such as
    an ATT&CK reference comes from the vault and must not smuggle a `javascript:` link."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not EXTERNAL.match(url) or any(c in url for c in "\"'<> \t\n\r"):
        return None
    return url


class Renderer:
    """One markdown pipeline for the whole build (creating a MarkdownIt per page is slow).

    `resolve(object_id)` returns the target page's path from the site root, or None when
    the ID has no page; `name_index` maps lower-cased names to IDs for wikilinks whose
    label carries only a name.
    """

    def __init__(self, resolve: Callable[[str], str | None], name_index: dict[str, str] | None = None):
        self._resolve = resolve
        self._names = name_index or {}
        # Raw HTML passes the parser (release prose cites with <sup>), and nh3 then keeps
        # only the allow-listed tags; its hrefs go through the same resolution as links.
        self._md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
        self._md.enable(["table", "strikethrough"])

    # -- public ---------------------------------------------------------------------------
    def block(self, text: str | None, root: str) -> str:
        """Markdown paragraphs to sanitised HTML, links made relative to `root`."""
        if not text or not str(text).strip():
            return ""
        tokens = self._md.parse(_wikilinks_to_markdown(str(text)))
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
            if token.children:
                self._links(token.children, root)
        return clean(self._md.renderer.render(tokens, self._md.options, {}), self._attribute_filter(root))

    def inline(self, text: str | None, root: str) -> str:
        """One line of markdown (a mitigation's note) to sanitised inline HTML."""
        if not text or not str(text).strip():
            return ""
        tokens = self._md.parseInline(_wikilinks_to_markdown(str(text)))
        for token in tokens:
            if token.children:
                self._links(token.children, root)
        return clean(self._md.renderer.render(tokens, self._md.options, {}), self._attribute_filter(root))

    def _attribute_filter(self, root: str):
        """nh3's per-attribute hook: every href that survives must be external or lead to
        an object page (raw `<a href="/techniques/AML.T0005">` resolves like a markdown
        link; anything else loses its href rather than becoming a dead link)."""

        def keep(element: str, attribute: str, value: str) -> str | None:
            if attribute == "href":
                if EXTERNAL.match(value):
                    return value
                target = find_id(unquote(value))
                url = self._resolve(target) if target else None
                return root + url if url else None
            if attribute == "class":
                return " ".join(c for c in value.split() if c in ALLOWED_CLASSES) or None
            return value

        return keep

    # -- links ------------------------------------------------------------------------------
    def _links(self, children, root: str) -> None:
        stack = []
        for i, tok in enumerate(children):
            if tok.type == "link_open":
                stack.append(tok)
                href = str(tok.attrGet("href") or "")
                label = _label_text(children, i)
                self._rewrite(tok, href, label, root)
            elif tok.type == "link_close" and stack:
                opener = stack.pop()
                tok.tag = opener.tag
            elif tok.type == "image":
                # Images would load from wherever the vault points (another host): show
                # their alt text instead.
                tok.type = "text"
                tok.content = tok.content or "".join(c.content for c in tok.children or [])
                tok.children = None

    def _rewrite(self, tok, href: str, label: str, root: str) -> None:
        shown = href
        if href.startswith(WIKI_SCHEME):
            path = unquote(href[len(WIKI_SCHEME):])
            shown = f"[[{path}]]"
            target = find_id(label) or find_id(path) or self._names.get(label.strip().lower())
        elif EXTERNAL.match(href):
            tok.attrs = {"href": href, "rel": "noopener noreferrer"}
            return
        else:
            target = find_id(href) or find_id(label)
        url = self._resolve(target) if target else None
        if url:
            tok.attrs = {"href": root + url}
            return
        tok.tag = "span"
        tok.attrs = {"class": "broken-link", "title": f"Broken link in the source: {shown[:200]}"}


def _label_text(children, start: int) -> str:
    """The text between a link_open at `start` and its link_close. Walks indices: a
    slice per link copied the rest of the list, quadratic over 100,000 links."""
    parts = []
    for i in range(start + 1, len(children)):
        tok = children[i]
        if tok.type == "link_close":
            break
        parts.append(tok.content)
    return "".join(parts)


def _wikilinks_to_markdown(text: str) -> str:
    """`[[path|label]]` → `[label](atlaskb-wiki:path)`, so one link pass handles both."""
    if "[[" not in text:
        return text

    def repl(m: re.Match) -> str:
        path, label = m.group(1).strip(), (m.group(2) or m.group(1)).strip()
        label = label.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
        return f"[{label}](<{WIKI_SCHEME}{quote(path, safe='/')}>)"

    return WIKILINK.sub(repl, text)


def clean(fragment: str, attribute_filter=None) -> str:
    """The last line of defence: nh3 with a small allow-list (scripts and styles are
    dropped with their content, event handlers and unknown URL schemes with their
    attribute)."""
    return nh3.clean(
        fragment, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
        link_rel=None, strip_comments=True, attribute_filter=attribute_filter,
    )


def plain_text(fragment_html: str) -> str:
    """Rendered HTML to one line of plain text (for the search index)."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", fragment_html))).strip()
