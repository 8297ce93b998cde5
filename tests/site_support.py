"""Helpers shared by the site tests (a module, not a test file): parse generated pages with
the standard library, check that their links resolve, write small vaults and evidence
folders, and the bundled site built once per session."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest


class Page(HTMLParser):
    """Collects what the site tests check: tags with attributes, ids, title, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.ids: set[str] = set()
        self.title = ""
        self.text: list[str] = []
        self._in_title = False
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        d = {k: (v or "") for k, v in attrs}
        self.tags.append((tag, d))
        if "id" in d:
            self.ids.add(d["id"])
        if tag == "title":
            self._in_title = True
        if tag == "script":
            self._in_script = True

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_script:
            self.script_bodies.append(data)
        self.text.append(data)

    def of(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def html_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html"))


def tree_bytes(root: Path) -> dict[str, bytes]:
    out = {}
    for base, _dirs, files in os.walk(root):
        for name in files:
            full = Path(base, name)
            out[str(full.relative_to(root))] = full.read_bytes()
    return out


def write_page(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


HOSTILE = "<script>alert(1)</script>"
BOLD = "<b onmouseover=alert(12)>b</b>"


def hostile_vault(root: Path) -> Path:
    """A small vault whose titles, descriptions, notes and metadata try every injection
    the site must neutralise (our own text; the page shape of docs/vault-format.md)."""
    write_page(root, "tactics/evil-tactic.md", f'''---
id: evil-tactic
title: "AML.TA0900: Evil Tactic {HOSTILE}"
sidebar_position: 1
---

# AML.TA0900: Evil Tactic {HOSTILE}

A tactic <iframe src="https://evil.example/frame"></iframe> with an iframe.

## Metadata

- **Tactic ID:** AML.TA0900
- **Created:** 2024-01-01
- **Last Modified:** 2024-01-02
- **MITRE ATT&CK Reference:** [TA0001](javascript:alert(11))
''')
    write_page(root, "techniques/evil-tactic/evil-technique.md", f'''---
id: evil-technique
title: "AML.T0900: Evil Technique {HOSTILE}"
---

# AML.T0900: Evil Technique {HOSTILE}

Text {HOSTILE} and <img src=x onerror=alert(2)> and [click me](javascript:alert(3)) and
<a href="javascript:alert(4)" onclick="alert(5)">raw anchor</a> and <svg onload=alert(6)></svg>
and [[javascript:alert(7)|a wikilink]] and [spaced]( JAVASCRIPT:alert(8) ) and
![pixel](https://evil.example/pixel.png) and <iframe srcdoc="<script>alert(9)</script>"></iframe>
and [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==).

## Metadata

- **Technique ID:** AML.T0900
- **Maturity:** feasible
- **Created:** 2024-01-01
- **Last Modified:** 2024-01-02

## Tactics (1)

- [[tactics/evil-tactic|Evil Tactic]]

## Mitigations (1)

- [[mitigations/evil-mitigation|AML.M0900: Evil Mitigation]] — note {HOSTILE} [x](javascript:alert(10)) {BOLD}
''')
    write_page(root, "mitigations/evil-mitigation.md", f'''---
id: evil-mitigation
title: "AML.M0900: Evil Mitigation <img src=x onerror=alert(13)>"
type: mitigation
---

# AML.M0900: Evil Mitigation <img src=x onerror=alert(13)>

<script>document.body.innerHTML = "owned"</script>

## Metadata

- **Mitigation ID:** AML.M0900
- **Created:** 2024-01-01
- **Last Modified:** 2024-01-02
- **Category:** <script>alert(14)</script>

## Techniques (2)

- [[techniques/evil-tactic/evil-technique|AML.T0900: Evil Technique]] — note {HOSTILE}
- [[techniques/nowhere|AML.T0999: Ghost <script>alert(15)</script>]] — a technique with no page
''')
    write_page(root, "case-studies/evil-case.md", f'''---
id: evil-case
title: "AML.CS0900: Evil Case {HOSTILE}"
type: case-study
---

# AML.CS0900: Evil Case {HOSTILE}

Summary with <style>body{{display:none}}</style> a style block.

## Metadata

- **ID:** AML.CS0900
- **Incident Date:** 2024-01-01

## Procedure

### Step 1: Evil

**Tactic:** [[tactics/evil-tactic|AML.TA0900: Evil Tactic]]
**Technique:** [[techniques/evil-tactic/evil-technique|AML.T0900: Evil Technique]]

Step text {HOSTILE}.
''')
    return root


_BUILT: dict[str, Path] = {}


def bundled_site(tmp_path_factory, kb) -> Path:
    """The bundled ATLAS site, built once per test session and shared by every site test
    module (read-only: tests that need to modify a site build their own)."""
    if "bundled" not in _BUILT:
        from atlaskb.site import build_site

        out = tmp_path_factory.mktemp("bundled-site") / "site"
        build_site(kb, str(out))
        _BUILT["bundled"] = out
    return _BUILT["bundled"]


def check_target(site: Path, page_path: Path, url: str, pages) -> str | None:
    """What is wrong with `url` on `page_path` (None when it resolves inside `site`)."""
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


def all_links_resolve(root: Path) -> list[str]:
    """Every internal href/src of the site at `root` that does not lead to a file (or to
    an element, for a #fragment) inside it; [] when all resolve."""
    root = root.resolve()
    pages = {p: parse(p) for p in html_files(root)}
    problems = []
    for path, page in pages.items():
        for tag, attrs in page.tags:
            for attr in ("href", "src"):
                url = attrs.get(attr)
                if url is None or (tag == "a" and re.match(r"^(https?:|mailto:)", url)):
                    continue
                problem = check_target(root, path, url, pages)
                if problem:
                    problems.append(problem)
    return problems


def make_evidence_dir(root: Path) -> Path:
    """An evidence folder with one measured link, AML.M0006 -> AML.T0043.002: a PNG plot,
    its SVG twin (never served) and a plot that is missing."""
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


@pytest.fixture(scope="session")
def site(tmp_path_factory, bundled_kb):
    """The bundled ATLAS site (`bundled_site`), for a test module that imports this fixture."""
    return bundled_site(tmp_path_factory, bundled_kb)

