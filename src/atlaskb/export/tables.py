"""Flat exports for spreadsheets and graph tools: CSV tables and GraphML.

CSV comes in three shapes (`export csv --what ...`), each one row per thing with
fixed columns, so a spreadsheet or `pandas.read_csv` needs no post-processing:

* ``nodes`` — one row per object: id, type, name, maturity, tactics (effective, so a
  sub-technique shows its parent's), parent, created, modified, has_page, file, line.
* ``edges`` — one row per relationship: source, source_name, type, target, target_name,
  note (mitigates), steps (uses: ``step@tactic`` joined by ``;``), inferred, file, line.
* ``mitigates`` — the mitigation × technique pairs with their notes, the question most
  spreadsheets are built to answer.

List-valued cells are joined with ``;`` (IDs and labels never contain one). GraphML
carries every attribute; lists and dicts, which GraphML cannot type, are written as JSON
strings, and missing values are left out rather than written as empty strings.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from atlaskb import queries
from atlaskb.export.csvsafe import csv_cell
from atlaskb.kb import KnowledgeBase
from atlaskb.model import EDGE_TYPES, MITIGATES, TECHNIQUE, id_sort_key
from atlaskb.sources.files import printable

CSV_SHAPES = ("nodes", "edges", "mitigates")

NODE_COLUMNS = ["id", "type", "name", "maturity", "tactics", "parent", "created", "modified",
                "has_page", "file", "line"]
EDGE_COLUMNS = ["source", "source_name", "type", "target", "target_name", "note", "steps",
                "inferred", "file", "line"]
MITIGATES_COLUMNS = ["mitigation", "mitigation_name", "technique", "technique_name", "note"]


def _csv_value(value: Any) -> str:
    """How one value is written in an exported CSV cell: for programs, not people (the
    query commands' tables use `atlaskb.cli.output.cell`), so numbers keep full
    precision, booleans are ``true``/``false``, lists are joined by ``;`` (IDs and labels
    never hold one) and mappings are JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(_csv_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _sorted_edges(kb: KnowledgeBase):
    return sorted(kb.graph.edges(keys=True, data=True),
                  key=lambda e: (EDGE_TYPES.index(e[2]) if e[2] in EDGE_TYPES else 99,
                                 id_sort_key(e[0]), id_sort_key(e[1])))


def node_rows(kb: KnowledgeBase) -> list[dict[str, Any]]:
    rows = []
    for n in sorted(kb.graph.nodes, key=id_sort_key):
        d = kb.graph.nodes[n]
        is_tech = d.get("type") == TECHNIQUE
        rows.append({
            "id": n, "type": d.get("type"), "name": d.get("name", ""), "maturity": d.get("maturity"),
            "tactics": queries.tactics_of(kb, n) if is_tech else [],
            "parent": queries.parent(kb, n) if is_tech else None,
            "created": d.get("created"), "modified": d.get("modified"),
            "has_page": d.get("has_page", True), "file": d.get("file"), "line": d.get("line"),
        })
    return rows


def edge_rows(kb: KnowledgeBase) -> list[dict[str, Any]]:
    g = kb.graph
    return [{
        "source": u, "source_name": g.nodes[u].get("name", ""), "type": k,
        "target": v, "target_name": g.nodes[v].get("name", ""), "note": d.get("note"),
        "steps": [f"{s.get('step')}@{s.get('tactic') or ''}" for s in d.get("steps") or []],
        "inferred": bool(d.get("inferred")), "file": d.get("file"), "line": d.get("line"),
    } for u, v, k, d in _sorted_edges(kb)]


def mitigates_rows(kb: KnowledgeBase) -> list[dict[str, Any]]:
    g = kb.graph
    return [{
        "mitigation": u, "mitigation_name": g.nodes[u].get("name", ""),
        "technique": v, "technique_name": g.nodes[v].get("name", ""), "note": d.get("note", ""),
    } for u, v, k, d in _sorted_edges(kb) if k == MITIGATES]


def to_csv(kb: KnowledgeBase, what: str = "nodes") -> str:
    """One CSV table (header + rows, ``\\n`` line ends) of the given shape."""
    if what not in CSV_SHAPES:
        raise ValueError(f"unknown CSV shape {what!r}; expected one of {', '.join(CSV_SHAPES)}")
    columns, rows = {
        "nodes": (NODE_COLUMNS, node_rows),
        "edges": (EDGE_COLUMNS, edge_rows),
        "mitigates": (MITIGATES_COLUMNS, mitigates_rows),
    }[what]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows(kb):
        writer.writerow([csv_cell(_csv_value(row[c])) for c in columns])
    return buf.getvalue()


def _graphml_value(value: Any) -> Any:
    """A value GraphML can carry and a reader gets back: lists and mappings as JSON text,
    and no character XML 1.0 forbids (control characters, lone surrogates, U+FFFE/F),
    which the loaders already replace; this keeps the export readable whatever the graph
    was given by a library caller."""
    if isinstance(value, (list, tuple, dict, set)):
        value = json.dumps(sorted(value) if isinstance(value, set) else value, sort_keys=True, ensure_ascii=False)
    elif isinstance(value, float) and not math.isfinite(value):
        return str(value)
    elif not isinstance(value, (bool, int, float, str)):
        value = str(value)
    return printable(value) if isinstance(value, str) else value


def to_graphml(kb: KnowledgeBase) -> str:
    """The graph as GraphML, nodes and edges in ATLAS order so the output is stable."""
    import networkx as nx

    out = nx.MultiDiGraph()
    for n in sorted(kb.graph.nodes, key=id_sort_key):
        out.add_node(n, **{k: _graphml_value(v) for k, v in sorted(kb.graph.nodes[n].items()) if v is not None})
    for u, v, k, d in _sorted_edges(kb):
        out.add_edge(u, v, key=k, **{a: _graphml_value(b) for a, b in sorted(d.items()) if b is not None})
    buf = io.BytesIO()
    nx.write_graphml(out, buf, encoding="utf-8", prettyprint=True)
    return buf.getvalue().decode("utf-8")
