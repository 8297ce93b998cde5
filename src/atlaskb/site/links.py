"""Small HTML pieces drawn thousands of times, as Python rather than Jinja macros.

A link to an object appears on many pages (a mitigation on each technique it covers, a
technique in every case study that uses it); as a macro each one costs a Jinja call
frame, which dominated the 10,000-object build. These helpers build the same markup once
per (object, page depth) with markupsafe escaping and hand back cached `Markup`.
"""

from __future__ import annotations

from markupsafe import Markup, escape

COVERAGE_STATES = ("covered", "partial", "gap")
LINK_ONLY_TITLE = "No page in the source defines this object: it is known only from links"


class Linker:
    """`link(ref, root)` → `<a>` to the object's page (with the link-only badge when the
    object has no page of its own); `heat_class(id)`/`heat_value(id)` → the matrix cell's
    colour class and its text label."""

    def __init__(self, cells: dict):
        self._cells = cells
        self._links: dict = {}
        self._values: dict = {}

    def link(self, ref, root: str, show_id: bool = True) -> Markup:
        key = (ref.id, root, show_id)
        found = self._links.get(key)
        if found is None:
            cls = "ref link-only" if not ref.has_page else "ref"
            ident = f'<span class="oid">{escape(ref.id)}</span> ' if show_id else ""
            html = (f'<a class="{cls}" href="{escape(root)}{escape(ref.url)}">{ident}'
                    f'<span class="oname">{escape(ref.name or ref.id)}</span></a>')
            if not ref.has_page:
                html += f' <span class="badge badge-link-only" title="{LINK_ONLY_TITLE}">link only</span>'
            found = self._links[key] = Markup(html)
        return found

    def heat_class(self, object_id: str) -> str:
        cell = self._cells.get(object_id)
        return f"heat-{cell['cls']}" if cell else ""

    def cell_attrs(self, object_id: str) -> Markup:
        """A matrix cell's data attributes: `data-id`, and `data-coverage` when the site
        was built with a selection of mitigations (the page's script sets it otherwise)."""
        cell = self._cells.get(object_id)
        coverage = cell["cls"] if cell and cell["cls"] in COVERAGE_STATES else None
        return Markup(f' data-id="{escape(object_id)}"'
                      + (f' data-coverage="{coverage}"' if coverage else ""))

    def heat_value(self, object_id: str) -> Markup:
        found = self._values.get(object_id)
        if found is None:
            cell = self._cells.get(object_id)
            if not cell:
                found = Markup("")
            else:
                found = Markup(f'<span class="cell-value" title="{escape(cell["long"])}">{escape(cell["short"])}'
                               f'<span class="visually-hidden"> ({escape(cell["long"])})</span></span>')
            self._values[object_id] = found
        return found
