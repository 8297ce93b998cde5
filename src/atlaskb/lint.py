"""Checks of a loaded knowledge base: the loader's findings plus whole-graph checks.

Loading already reports what one page or link gets wrong (broken links, slug/ID
mismatches, duplicate IDs, `(N)` counts, missing metadata, unparseable pages). Here we
add what needs the whole graph: relationships stated on one side only, sub-technique
cycles, and objects that are linked to but have no page.
"""

from __future__ import annotations

from atlaskb.kb import KnowledgeBase
from atlaskb.model import EDGE_ENDS, SUBTECHNIQUE_OF, Finding

# For each edge type stated on vault pages: the page types that can state it (both ends,
# when they differ; a sub-technique link joins two techniques, so no side is missing).
_SIDES = {edge_type: ends for edge_type, ends in EDGE_ENDS.items() if ends[0] != ends[1]}


def lint(kb: KnowledgeBase) -> list[Finding]:
    """All findings, sorted by file and line."""
    findings = list(kb.findings)
    findings += _one_sided(kb)
    findings += _subtechnique_cycles(kb)
    findings += _no_page(kb)
    return sorted(findings, key=lambda f: (f.file, f.line, f.code, f.message))


def _one_sided(kb: KnowledgeBase) -> list[Finding]:
    """A relationship listed on one page whose other end has a page that does not list it.

    Only checked where both ends have pages in the same source: a technique known only
    from a link cannot be expected to list anything, and an overlay (an organisation's
    own mitigation page over the bundled vault) cannot be expected to edit the vault.
    """
    out = []
    g = kb.graph
    for (source, target, edge_type), declared_by in sorted(kb.declared.items()):
        sides = _SIDES.get(edge_type)
        if sides is None or not (g.nodes[source].get("has_page") and g.nodes[target].get("has_page")):
            continue
        if kb.page_source.get(source) != kb.page_source.get(target):
            continue
        missing = [side for side in sides if side not in declared_by]
        if len(missing) != 1:
            continue
        data = g.edges[source, target, edge_type]
        stated_on, other = (source, target) if missing[0] == sides[1] else (target, source)
        out.append(Finding(
            "warning", "one-sided", data["file"], data["line"],
            f"{stated_on} lists {edge_type} {'→' if stated_on == source else '←'} {other}, "
            f"but {other}'s page ({g.nodes[other].get('file')}) does not list {stated_on}"))
    return out


def _subtechnique_cycles(kb: KnowledgeBase) -> list[Finding]:
    import networkx as nx  # only lint needs a graph algorithm

    g = kb.graph
    sub = nx.DiGraph((u, v) for u, v, k in g.edges(keys=True) if k == SUBTECHNIQUE_OF)
    out = []
    for cycle in sorted(nx.simple_cycles(sub), key=lambda c: sorted(c)):
        # networkx may start a cycle at any of its nodes (it walks sets, whose order
        # changes from run to run): start it at its first ID so the message is stable.
        first = min(cycle)
        cycle = cycle[cycle.index(first):] + cycle[:cycle.index(first)]
        node = g.nodes[first]
        out.append(Finding("error", "subtechnique-cycle", node.get("file", ""), node.get("line", 0),
                           "sub-technique links form a cycle: " + " → ".join(cycle + [cycle[0]])))
    for u, v, k in g.edges(keys=True):
        if k == SUBTECHNIQUE_OF and any(kk == SUBTECHNIQUE_OF for _, _, kk in g.out_edges(v, keys=True)) and not sub.has_edge(v, u):
            d = g.edges[u, v, k]
            out.append(Finding("warning", "nested-subtechnique", d["file"], d["line"],
                               f"{u} is a sub-technique of {v}, which is itself a sub-technique"))
    return out


def _no_page(kb: KnowledgeBase) -> list[Finding]:
    out = []
    for n, d in kb.graph.nodes(data=True):
        if not d.get("has_page") and any(s["kind"] in ("vault",) for s in kb.sources):
            out.append(Finding("warning", "no-page", d.get("file", ""), d.get("line", 0),
                               f"{n} ({d.get('type')}) is linked to but has no page"))
    return out


def error_count(findings: list[Finding]) -> int:
    """How many findings are errors (the rest are warnings): what makes `lint` exit 1."""
    return sum(1 for f in findings if f.level == "error")


def has_errors(findings: list[Finding]) -> bool:
    return error_count(findings) > 0


__all__ = ["lint", "error_count", "has_errors"]
