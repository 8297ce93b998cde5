"""AtlasGraph behaves as networkx.MultiDiGraph for every call atlaskb makes: the same
operations on both give the same answers in the same order, and `to_networkx` is a faithful
copy."""

from __future__ import annotations

import networkx as nx
import pytest

from atlaskb.graph import AtlasGraph


def _build(g):
    """The same operations, in the same order, on either graph type."""
    g.add_node("AML.T0001", type="technique", name="One")
    g.add_node("AML.TA0001", type="tactic")
    g.add_edge("AML.T0001", "AML.TA0001", key="achieves", file="a.md", line=3)
    g.add_edge("AML.M0001", "AML.T0001", key="mitigates", note="x")  # adds its source node
    g.add_edge("AML.T0001.001", "AML.T0001", key="subtechnique-of")
    g.add_edge("AML.M0001", "AML.T0001.001", key="mitigates")
    g.add_edge("AML.M0001", "AML.T0001", key="mitigates", line=9)  # updates, adds no edge
    g.add_edge("AML.CS0000", "AML.T0001", key="uses", steps=[{"step": 1}])
    g.add_edge("AML.CS0000", "AML.T0001")  # no key: the lowest unused integer
    g.add_edge("AML.CS0000", "AML.T0001")
    g.add_node("AML.T0001", name="One again")  # updates
    g.nodes["AML.TA0001"]["name"] = "Tactic"
    g.edges["AML.M0001", "AML.T0001", "mitigates"]["checked"] = True
    return g


def _views(g):
    nodes = list(g)
    return {
        "nodes": list(g.nodes), "data": list(g.nodes(data=True)), "names": list(g.nodes(data="name", default="-")),
        "len": (len(g), len(g.nodes), len(g.edges), g.number_of_nodes(), g.number_of_edges()),
        "edges": list(g.edges), "keys": list(g.edges(keys=True)), "all": list(g.edges(keys=True, data=True)),
        "attr": list(g.edges(data="line", keys=True)), "nbunch": list(g.edges(["AML.M0001", "nope"], keys=True)),
        "out": {n: list(g.out_edges(n, keys=True, data=True)) for n in nodes},
        "in": {n: list(g.in_edges(n, keys=True, data=True)) for n in nodes},
        "succ": {n: list(g.successors(n)) for n in nodes}, "pred": {n: list(g.predecessors(n)) for n in nodes},
        "adj": {n: {v: dict(kd) for v, kd in g[n].items()} for n in nodes},
        "has": [g.has_edge("AML.M0001", "AML.T0001"), g.has_edge("AML.M0001", "AML.T0001", key="mitigates"),
                g.has_edge("AML.M0001", "AML.T0001", key="uses"), g.has_edge("nope", "AML.T0001"),
                g.has_node("AML.T0001"), "AML.T0001" in g, ["a", "list"] in g, "nope" in g.nodes,
                ("AML.M0001", "AML.T0001", "mitigates") in g.edges, ("AML.T0001", "AML.M0001") in g.edges],
        "between": g.number_of_edges("AML.CS0000", "AML.T0001"),
        "item": g.edges["AML.CS0000", "AML.T0001", 1],
        "kind": (g.is_directed(), g.is_multigraph()),
        "mapping": (g.nodes.get("nope", {}), g.nodes.get("AML.T0001"), list(g.nodes.items()), list(g.nodes.keys())),
    }


def test_same_answers_as_networkx():
    ours, theirs = _build(AtlasGraph()), _build(nx.MultiDiGraph())
    assert _views(ours) == _views(theirs)


def test_edge_attributes_are_shared_between_succ_and_pred():
    g = _build(AtlasGraph())
    g.out_edges("AML.M0001", data=True)[0][2]["seen"] = 1
    assert g.in_edges("AML.T0001", keys=True, data=True)[0][3]["seen"] == 1


def test_to_networkx_is_an_equal_independent_copy():
    g = _build(AtlasGraph())
    g.graph["release"] = "5.6.0"
    copy = g.to_networkx()
    assert isinstance(copy, nx.MultiDiGraph) and copy.graph == {"release": "5.6.0"}
    assert _views(copy) == _views(g)
    copy.nodes["AML.T0001"]["name"] = "changed"
    copy.add_edge("AML.T0001", "AML.M0001", key="x")
    assert g.nodes["AML.T0001"]["name"] == "One again" and not g.has_edge("AML.T0001", "AML.M0001")


def test_from_lists_keeps_order_and_refuses_other_shapes():
    g = _build(AtlasGraph())
    back = AtlasGraph.from_lists([[n, d] for n, d in g.nodes(data=True)],
                                 [[u, v, k, d] for u, v, k, d in g.edges(keys=True, data=True)], {"a": 1})
    g.order_predecessors()
    assert _views(back) == _views(g) and back.graph == {"a": 1}
    for nodes, edges in [([[["a"], {}]], []), ([["a", 5]], []), ([], [[1, 2, "k", {}]]), ([], [["a", "b", "k", []]]),
                         ([], [["a", "b"]]), (5, [])]:
        with pytest.raises((TypeError, ValueError)):
            AtlasGraph.from_lists(nodes, edges)


def test_order_predecessors_follows_edge_order():
    g = AtlasGraph()
    for n in ("a", "b", "c"):
        g.add_node(n)
    g.add_edge("b", "c", key="k")
    g.add_edge("a", "c", key="k")
    assert list(g.predecessors("c")) == ["b", "a"]  # as added
    g.order_predecessors()
    assert list(g.predecessors("c")) == ["a", "b"]  # as the edge list, and so the cache, has them
    assert g.edges["a", "c", "k"] is g["a"]["c"]["k"]


def test_unknown_nodes_raise_key_error():
    g = AtlasGraph()
    for call in (lambda: g.nodes["x"], lambda: list(g.successors("x")), lambda: g["x"], lambda: g.edges["x", "y", "k"]):
        with pytest.raises(KeyError):
            call()


def test_networkx_algorithms_on_it_point_to_to_networkx():
    g = _build(AtlasGraph())
    with pytest.raises(AttributeError, match="to_networkx"):
        nx.descendants(g, "AML.M0001")
    assert nx.descendants(g.to_networkx(), "AML.M0001") == {"AML.T0001", "AML.T0001.001", "AML.TA0001"}
    assert not hasattr(g, "__networkx_backend__") and not hasattr(g, "pred")
