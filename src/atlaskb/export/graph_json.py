"""The graph as plain JSON-ready data: the contract behind `atlaskb export json`.

``{"nodes": [{"id", "type", "name", ...}], "edges": [{"source", "target", "type", ...}]}``,
nodes in ATLAS ID order and edges by (source, target, type), so output is deterministic.
"""

from __future__ import annotations

from typing import Any

from atlaskb.kb import KnowledgeBase
from atlaskb.model import id_sort_key


def node_dict(kb: KnowledgeBase, object_id: str) -> dict[str, Any]:
    data = kb.graph.nodes[object_id]
    out = {"id": object_id, "type": data.get("type"), "name": data.get("name", "")}
    for key in sorted(data):
        if key not in out:
            out[key] = data[key]
    return out


def edge_dict(source: str, target: str, data: dict) -> dict[str, Any]:
    out = {"source": source, "target": target, "type": data.get("type")}
    for key in sorted(data):
        if key not in out:
            out[key] = data[key]
    return out


def to_json_data(kb: KnowledgeBase) -> dict[str, list[dict[str, Any]]]:
    nodes = [node_dict(kb, n) for n in sorted(kb.graph.nodes, key=id_sort_key)]
    edges = [
        edge_dict(u, v, d)
        for u, v, d in sorted(kb.graph.edges(data=True),
                              key=lambda e: (id_sort_key(e[0]), id_sort_key(e[1]), e[2].get("type", "")))
    ]
    return {"nodes": nodes, "edges": edges}
