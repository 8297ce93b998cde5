"""A networkx-free, read-mostly view of a cached knowledge base, for one-shot CLI queries.

Why it exists: importing networkx costs more than everything else a cached query does
(about 90 ms of a ~200 ms process, measured with `python -X importtime`), and a question
like `atlaskb mitigations AML.T0043.002` needs none of its algorithms, only adjacency.
So the query commands, when the parsed-KB cache is warm, answer from this class instead.

`LiteGraph` implements exactly the part of `networkx.MultiDiGraph`'s API that
`atlaskb.queries`, `atlaskb.coverage` and `atlaskb.evidence` use, with the same
semantics and iteration order (node order, then successor order, as networkx does):
``G.nodes`` (iterate, ``[n]``, ``(data=True)``), ``n in G``, ``G[u][v][key]``,
``G.edges[u, v, key]``, ``edges(keys, data)``, ``in_edges`` / ``out_edges`` (keys, data),
``successors``, ``predecessors``, ``has_edge(u, v, key=None)``, ``number_of_nodes`` /
``number_of_edges``. Anything else raises AttributeError rather than guess; code that
needs networkx proper uses `atlaskb.load()`, which always returns a real MultiDiGraph.
A parity test runs every query on both and compares the answers.
"""

from __future__ import annotations

from typing import Any, Iterator

from atlaskb.kbaccess import GraphAccess


class _NodeView:
    __slots__ = ("_node",)

    def __init__(self, node: dict[str, dict]):
        self._node = node

    def __call__(self, data: bool = False):
        return iter(self._node.items()) if data else iter(self._node)

    def __getitem__(self, n: str) -> dict:
        return self._node[n]

    def __iter__(self) -> Iterator[str]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)

    def __contains__(self, n: object) -> bool:
        return n in self._node


class _EdgeView:
    __slots__ = ("_graph",)

    def __init__(self, graph: "LiteGraph"):
        self._graph = graph

    def __call__(self, keys: bool = False, data: bool = False):
        for u, nbrs in self._graph._succ.items():
            for v, keydict in nbrs.items():
                for k, d in keydict.items():
                    yield _edge_tuple(u, v, k, d, keys, data)

    def __getitem__(self, e: tuple) -> dict:
        u, v, k = e
        return self._graph._succ[u][v][k]

    def __iter__(self):
        return self()


def _edge_tuple(u, v, k, d, keys, data):
    if keys and data:
        return (u, v, k, d)
    if keys:
        return (u, v, k)
    if data:
        return (u, v, d)
    return (u, v)


class LiteGraph:
    """Adjacency dicts shaped like networkx's: succ[u][v][key] is the edge's attribute
    dict, shared with pred[v][u][key], so an attribute set through one is seen by both."""

    def __init__(self) -> None:
        self.graph: dict[str, Any] = {}
        self._node: dict[str, dict] = {}
        self._succ: dict[str, dict[str, dict[str, dict]]] = {}
        self._pred: dict[str, dict[str, dict[str, dict]]] = {}
        self.nodes = _NodeView(self._node)
        self.edges = _EdgeView(self)

    @classmethod
    def from_lists(cls, nodes: list, edges: list, graph: dict | None = None) -> "LiteGraph":
        """From the cache's [[id, attrs], ...] and [[u, v, key, attrs], ...] lists."""
        g = cls()
        g.graph.update(graph or {})
        for n, d in nodes:
            g._node[n] = d
            g._succ[n] = {}
            g._pred[n] = {}
        for u, v, k, d in edges:
            for n in (u, v):
                if n not in g._node:
                    g._node[n] = {}
                    g._succ[n] = {}
                    g._pred[n] = {}
            g._succ[u].setdefault(v, {})[k] = d
            g._pred[v].setdefault(u, {})[k] = d
        return g

    # -- networkx's read API, the part atlaskb uses ---------------------------------------
    def __contains__(self, n: object) -> bool:
        try:
            return n in self._node
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)

    def __getitem__(self, u: str) -> dict:
        return self._succ[u]

    def has_node(self, n: str) -> bool:
        return n in self

    def is_directed(self) -> bool:
        return True

    def is_multigraph(self) -> bool:
        return True

    def number_of_nodes(self) -> int:
        return len(self._node)

    def number_of_edges(self) -> int:
        return sum(len(kd) for nbrs in self._succ.values() for kd in nbrs.values())

    def has_edge(self, u: str, v: str, key: str | None = None) -> bool:
        try:
            keydict = self._succ[u][v]
        except KeyError:
            return False
        return True if key is None else key in keydict

    def successors(self, n: str) -> Iterator[str]:
        return iter(self._succ[n])

    def predecessors(self, n: str) -> Iterator[str]:
        return iter(self._pred[n])

    def out_edges(self, n: str, keys: bool = False, data: bool = False):
        return [_edge_tuple(n, v, k, d, keys, data)
                for v, keydict in self._succ[n].items() for k, d in keydict.items()]

    def in_edges(self, n: str, keys: bool = False, data: bool = False):
        return [_edge_tuple(u, n, k, d, keys, data)
                for u, keydict in self._pred[n].items() for k, d in keydict.items()]


class LiteKnowledgeBase(GraphAccess):
    """The parts of `atlaskb.kb.KnowledgeBase` the query commands use, over a LiteGraph."""

    def __init__(self, graph: LiteGraph, findings: list, sources: list):
        self.graph = graph
        self.findings = findings
        self.sources = sources
