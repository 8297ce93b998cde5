"""`AtlasGraph`: the graph every KnowledgeBase holds, ATLAS objects keyed by ID and their
typed relationships.

Why our own type rather than `networkx.MultiDiGraph`: importing networkx costs more than
the rest of a one-shot query's process together (about 90-120 ms, `python -X importtime`),
and answering a query needs adjacency, not networkx's algorithms. So the graph is plain
adjacency dicts shaped like networkx's, offering the part of MultiDiGraph's API that
atlaskb uses, with the same meaning and iteration order:

* reading: ``n in G``, ``len(G)``, ``iter(G)``, ``G[u][v][key]``, ``G.nodes`` (iterate,
  ``[n]``, ``get``, ``(data=True)`` or ``(data="attr")``), ``G.edges`` (``(nbunch, data, keys)``,
  ``[u, v, key]``, ``len``, ``in``, iteration), ``out_edges`` / ``in_edges``, ``successors``,
  ``predecessors``, ``has_node``, ``has_edge(u, v, key=None)``, ``number_of_nodes``,
  ``number_of_edges``, ``G.graph`` (graph attributes);
* building: ``add_node(n, **attrs)`` and ``add_edge(u, v, key=None, **attrs)`` (both
  update the attributes of what exists), and ``G.nodes[n]`` / ``G.edges[u, v, k]`` are
  the live attribute dicts.

Order: nodes in insertion order; a node's successors in the order of its first edge to
each; edges by source node, then successor, then key; a node's predecessors in that edge
order once the builder has called `order_predecessors` (as the cache's copy has them). Anything else (networkx's
algorithms, drawing, GraphML) takes ``to_networkx()``, a real MultiDiGraph with the same
nodes, edges, keys, attributes and order; networkx is imported only then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterable, Iterator


class AtlasGraph:
    """A directed multigraph as networkx lays one out: ``_succ[u][v][key]`` is the edge's
    attribute dict, the very dict ``_pred[v][u][key]`` holds (the key dict itself is
    shared), so an attribute set through either is seen by both."""

    def __init__(self) -> None:
        self.graph: dict[str, Any] = {}
        self._node: dict[str, dict] = {}
        self._succ: dict[str, dict[str, dict[Any, dict]]] = {}
        self._pred: dict[str, dict[str, dict[Any, dict]]] = {}
        self.nodes = _NodeView(self._node)
        self.edges = _EdgeView(self)

    @classmethod
    def from_lists(cls, nodes: Iterable, edges: Iterable, graph: dict | None = None) -> "AtlasGraph":
        """From ``[[id, attrs], ...]`` and ``[[u, v, key, attrs], ...]`` (the parse cache's
        layout), in that order. The attribute dicts are taken, not copied. Raises
        TypeError or ValueError on anything not of that shape."""
        g = cls()
        g.graph.update(graph or {})
        for n, d in nodes:
            if not isinstance(n, str) or not isinstance(d, dict):
                raise TypeError(f"a node is an ID and an attribute mapping, not {n!r}, {type(d).__name__}")
            g._node[n] = d
            g._succ[n] = {}
            g._pred[n] = {}
        for u, v, k, d in edges:
            if not (isinstance(u, str) and isinstance(v, str) and isinstance(d, dict)):
                raise TypeError("an edge is two IDs, a key and an attribute mapping")
            g._add_edge(u, v, k, d)
        return g

    # -- building ---------------------------------------------------------------------------
    def add_node(self, n: str, **attrs) -> None:
        if n not in self._node:
            self._node[n] = attrs
            self._succ[n] = {}
            self._pred[n] = {}
        else:
            self._node[n].update(attrs)

    def add_edge(self, u: str, v: str, key=None, **attrs):
        """Add the edge (and its ends, if new) or update its attributes; returns its key
        (when none is given, the lowest unused integer, as networkx does)."""
        keydict = self._succ.get(u, {}).get(v)
        if key is None:
            key = len(keydict or ())
            while keydict and key in keydict:
                key += 1
        if keydict is not None and key in keydict:
            keydict[key].update(attrs)
        else:
            self._add_edge(u, v, key, attrs)
        return key

    def _add_edge(self, u: str, v: str, key, data: dict) -> None:
        for n in (u, v):
            if n not in self._node:
                self._node[n] = {}
                self._succ[n] = {}
                self._pred[n] = {}
        keydict = self._succ[u].get(v)
        if keydict is None:
            keydict = self._succ[u][v] = self._pred[v][u] = {}
        keydict[key] = data

    def order_predecessors(self) -> None:
        """Put every node's predecessors in edge order (source node, then successor), the
        order a graph read back from its edge list (`from_lists`) has, so a graph built
        from sources and the same graph read from the cache iterate alike."""
        for preds in self._pred.values():
            preds.clear()
        for u, nbrs in self._succ.items():
            for v, keydict in nbrs.items():
                self._pred[v][u] = keydict

    def __getattr__(self, name: str):
        """Only for names AtlasGraph lacks (networkx's algorithms ask for `pred`, `adj`,
        `neighbors` ...): say where the full networkx API is."""
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"AtlasGraph has no {name!r}: it offers the part of networkx's MultiDiGraph "
                             "API atlaskb uses; for networkx's algorithms use kb.to_networkx() "
                             "(AtlasGraph.to_networkx()), a networkx.MultiDiGraph")

    # -- reading ----------------------------------------------------------------------------
    def __contains__(self, n: object) -> bool:
        try:
            return n in self._node
        except TypeError:  # an unhashable "ID" names nothing
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)

    def __getitem__(self, u: str) -> dict:
        return self._succ[u]

    def has_node(self, n: object) -> bool:
        return n in self

    def is_directed(self) -> bool:
        return True

    def is_multigraph(self) -> bool:
        return True

    def number_of_nodes(self) -> int:
        return len(self._node)

    def number_of_edges(self, u: str | None = None, v: str | None = None) -> int:
        if u is None:
            return sum(len(keydict) for nbrs in self._succ.values() for keydict in nbrs.values())
        return len(self._succ.get(u, {}).get(v, ()))

    def has_edge(self, u: str, v: str, key=None) -> bool:
        try:
            keydict = self._succ[u][v]
        except (KeyError, TypeError):
            return False
        return key is None or key in keydict

    def successors(self, n: str) -> Iterator[str]:
        return iter(self._succ[n])

    def predecessors(self, n: str) -> Iterator[str]:
        return iter(self._pred[n])

    def out_edges(self, nbunch=None, data=False, keys: bool = False, default=None) -> list:
        """Edges leaving `nbunch` (a node, or an iterable of nodes; None: all)."""
        return [_edge(u, v, k, d, keys, data, default) for u in self._bunch(nbunch)
                for v, keydict in self._succ[u].items() for k, d in keydict.items()]

    def in_edges(self, nbunch=None, data=False, keys: bool = False, default=None) -> list:
        """Edges entering `nbunch` (a node, or an iterable of nodes; None: all)."""
        return [_edge(u, v, k, d, keys, data, default) for v in self._bunch(nbunch)
                for u, keydict in self._pred[v].items() for k, d in keydict.items()]

    def _bunch(self, nbunch) -> Iterable[str]:
        if nbunch is None:
            return self._node
        if nbunch in self:
            return (nbunch,)
        return [n for n in nbunch if n in self._node]

    # -- networkx, for what needs it ----------------------------------------------------------
    def to_networkx(self):
        """A new `networkx.MultiDiGraph` with the same graph, node and edge attributes
        (copied one level deep, as networkx's own ``copy()``), nodes and edges in the same
        order. Predecessor lists follow edge order (as after any fresh build)."""
        import networkx as nx

        out = nx.MultiDiGraph()
        out.graph.update(self.graph)
        out.add_nodes_from((n, dict(d)) for n, d in self._node.items())
        out.add_edges_from((u, v, k, dict(d)) for u, v, k, d in self.edges(keys=True, data=True))
        return out


def _edge(u, v, k, d, keys: bool, data, default):
    """One edge as networkx's edge views give it: (u, v[, key][, data or data[attr]])."""
    if data is False:
        return (u, v, k) if keys else (u, v)
    value = d if data is True else d.get(data, default)
    return (u, v, k, value) if keys else (u, v, value)


class _NodeView(Mapping):
    """``G.nodes``: a read-only mapping of ID to attribute dict (iterate, ``[n]``, ``get``,
    ``items`` ...), or call it for a data view."""

    __slots__ = ("_node",)

    def __init__(self, node: dict[str, dict]):
        self._node = node

    def __call__(self, data=False, default=None):
        if data is False:
            return self
        return _NodeDataView(self._node, data, default)

    def __getitem__(self, n: str) -> dict:
        return self._node[n]

    def __iter__(self) -> Iterator[str]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)

    def __contains__(self, n: object) -> bool:
        try:
            return n in self._node
        except TypeError:
            return False


class _NodeDataView:
    """``G.nodes(data=True)``: (ID, attributes); ``G.nodes(data="name")``: (ID, value)."""

    __slots__ = ("_node", "_data", "_default")

    def __init__(self, node: dict[str, dict], data, default):
        self._node, self._data, self._default = node, data, default

    def __iter__(self):
        if self._data is True:
            return iter(self._node.items())
        return ((n, d.get(self._data, self._default)) for n, d in self._node.items())

    def __len__(self) -> int:
        return len(self._node)


class _EdgeView:
    """``G.edges``: call it as networkx's ``edges(nbunch, data, keys)``, index it with
    ``[u, v, key]`` for the attribute dict, or iterate (u, v, key) triples (as a
    multigraph's edge view does)."""

    __slots__ = ("_graph",)

    def __init__(self, graph: AtlasGraph):
        self._graph = graph

    def __call__(self, nbunch=None, data=False, keys: bool = False, default=None) -> list:
        return self._graph.out_edges(nbunch, data=data, keys=keys, default=default)

    def __getitem__(self, edge: tuple) -> dict:
        u, v, k = edge
        return self._graph._succ[u][v][k]

    def __contains__(self, edge: object) -> bool:
        try:
            u, v, *k = edge  # type: ignore[misc]
            return self._graph.has_edge(u, v, *k)
        except (TypeError, ValueError):
            return False

    def __iter__(self):
        return iter(self._graph.out_edges(keys=True))

    def __len__(self) -> int:
        return self._graph.number_of_edges()
