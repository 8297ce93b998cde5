"""The offline search index: a `.js` file, not `.json`.

Browsers refuse `fetch()` of local files opened from ``file://``, but a `<script src>`
loads fine, so the index is a script that assigns one global. It is built from the same
rendered text the pages show (plain text of the sanitised description), in a fixed order,
and written with sorted keys and ASCII escapes (markup characters too) so the file is
byte-identical across builds and cannot close a script context.
"""

from __future__ import annotations

import json

from atlaskb import textmatch
from atlaskb.site.context import SiteModel
from atlaskb.site.markdown import plain_text
from atlaskb.site.urls import TYPE_LABELS

# Long descriptions are cut in the index: enough to find an object by its words without
# making the index the largest file of a 10,000-page site.
TEXT_LIMIT = 600
TYPE_ORDER = ["tactic", "technique", "mitigation", "case-study"]


def index_entries(model: SiteModel) -> list[list[str]]:
    """One row per object: [id, type label, name, url, text, also]; `also` is the
    parent's name for a sub-technique (so "prompt injection" finds "Direct"), else ""."""
    rows = []
    order = TYPE_ORDER + sorted(t for t in model.ids_by_type if t not in TYPE_ORDER and t is not None)
    if None in model.ids_by_type:
        order.append(None)
    for obj_type in order:
        for object_id in model.ids_by_type.get(obj_type, []):
            ref = model.refs[object_id]
            text = plain_text(model.description_html.get(object_id, ""))[:TEXT_LIMIT]
            parent = model.refs.get(model.parent.get(object_id)) if model.parent.get(object_id) else None
            also = parent.name if parent is not None and parent.name else ""
            rows.append([object_id, TYPE_LABELS.get(obj_type or "", "Object"), ref.name, ref.url, text, also])
    return rows


def index_script(model: SiteModel) -> str:
    # `stemming`: atlaskb.textmatch's word-form rule, which search.js applies as `search` does.
    return data_script("ATLASKB_SEARCH", {"fields": ["id", "type", "name", "url", "text", "also"],
                                          "rows": index_entries(model), "stemming": textmatch.RULES},
                       "atlaskb search index")


def data_script(name: str, data, what: str) -> str:
    """A script that assigns `data` to ``window.NAME``: sorted keys, ASCII only, one line."""
    payload = json.dumps(data, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    # `<`, `>` and `&` as \u escapes: the data stays the same, and no vault text can look
    # like markup even if someone pastes the file into a page.
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"/* {what}: generated, do not edit */\nwindow.{name} = {payload};\n"
