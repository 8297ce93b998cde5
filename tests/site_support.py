"""Helpers shared by the site tests (a module, not a test file): parse generated pages with the standard library."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path


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
