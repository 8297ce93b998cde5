"""Lookups every knowledge base offers, whatever graph it holds.

Two classes hold a loaded ATLAS: `atlaskb.kb.KnowledgeBase` (a networkx MultiDiGraph) and
`atlaskb.graphlite.LiteKnowledgeBase` (the networkx-free view one-shot queries use when
the parse cache is warm). Both inherit these methods, so the two cannot drift apart; this
module imports nothing heavy, so the lite path stays light.
"""

from __future__ import annotations

from atlaskb.model import id_sort_key


class GraphAccess:
    """Mixin over `self.graph` (anything with networkx's node API used here)."""

    graph: object

    def nodes_of_type(self, obj_type: str) -> list[str]:
        """IDs of one type, in ATLAS order."""
        return sorted((n for n, d in self.graph.nodes(data=True) if d.get("type") == obj_type), key=id_sort_key)

    def get(self, object_id: str) -> dict | None:
        """A node's attributes (with its id), or None."""
        if object_id not in self.graph:
            return None
        return {"id": object_id, **self.graph.nodes[object_id]}

    def __contains__(self, object_id: str) -> bool:
        return object_id in self.graph

    def __len__(self) -> int:
        return self.graph.number_of_nodes()
