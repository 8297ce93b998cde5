"""Questions asked of a KnowledgeBase, as plain functions (the networkx habit).

Each takes the KnowledgeBase first and returns plain data (IDs, dicts), in ATLAS ID
order, so the CLI, the site and tests all get the same answers. Costs are per call on
the graph's adjacency: O(degree) unless stated.

An object is named by its ID in any case (``aml.t0043``, ``T0043``); a tactic also by
its shortname (``ai-attack-staging``) or name. An ID that names nothing, or an object
of another kind than the question is about, raises `atlaskb.errors.NotFound` with a
message that says which ("AML.M0003 is a mitigation, not a technique"), never an empty
answer that looks like "none".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from atlaskb.errors import NotFound
from atlaskb.model import (
    ACHIEVES,
    CASE_STUDY,
    MATURITY_ORDER,
    MITIGATES,
    MITIGATION,
    SUBTECHNIQUE_OF,
    TACTIC,
    TECHNIQUE,
    USES,
    id_candidates,
    id_sort_key,
    is_id,
)
from atlaskb.stix_vocabulary import shortname

if TYPE_CHECKING:  # only for annotations
    from atlaskb.kb import KnowledgeBase


def _out(kb: KnowledgeBase, node: str, edge_type: str) -> list[str]:
    return sorted({v for _, v, k in kb.graph.out_edges(node, keys=True) if k == edge_type}, key=id_sort_key)


def _in(kb: KnowledgeBase, node: str, edge_type: str) -> list[str]:
    return sorted({u for u, _, k in kb.graph.in_edges(node, keys=True) if k == edge_type}, key=id_sort_key)


# -- finding objects --------------------------------------------------------------------

def resolve(kb: KnowledgeBase, query: str, obj_type: str | None = None) -> str:
    """An ID from an ID (any case, `AML.` optional), an exact name, or an unambiguous
    partial name.

    Raises NotFound with up to five suggestions ("did you mean ...") otherwise.
    """
    q = query.strip()
    if not q:  # never an object, not even one whose name is unknown (empty)
        raise NotFound(query)
    candidates = kb.nodes_of_type(obj_type) if obj_type else sorted(kb.graph.nodes, key=id_sort_key)
    as_ids = id_candidates(q)
    typed = next((c for c in as_ids
                  if c in kb.graph and (obj_type is None or kb.graph.nodes[c].get("type") == obj_type)), None)
    if typed is not None:
        return typed
    low = q.lower()
    exact = [n for n in candidates if (kb.graph.nodes[n].get("name") or "").lower() == low]
    if len(exact) == 1:
        return exact[0]
    partial = [n for n in candidates if low in (kb.graph.nodes[n].get("name") or "").lower()]
    if len(partial) == 1:
        return partial[0]
    if obj_type is not None and not partial:
        for other in as_ids[1:]:
            if other in kb.graph:  # the ID exists, as another type of object: say so
                raise NotFound(query, actual_type=kb.graph.nodes[other].get("type"), wanted_type=obj_type,
                               object_id=other)
    raise NotFound(query, suggest(kb, query, candidates, partial), matches=len(partial))


def suggest(kb: KnowledgeBase, query: str, candidates: list[str], partial: list[str] | None = None) -> list[str]:
    """Up to five "did you mean" entries as `ID (name)`: partial-name hits first, then
    IDs and names that are spelled alike."""
    import difflib  # only when a lookup failed: keeps it off the start-up path

    label = {n: f"{n} ({kb.graph.nodes[n].get('name') or '?'})" for n in candidates}
    if partial:
        # Names that start with the text first, then the shortest (the closest fits), so
        # `poison` offers Poison Training Data before case studies that mention poisoning.
        low = query.strip().lower()
        name = lambda n: (kb.graph.nodes[n].get("name") or "").lower()  # noqa: E731
        best = sorted(partial, key=lambda n: (not name(n).startswith(low), len(name(n)), id_sort_key(n)))
        return [label[n] for n in best[:5]]
    q = query.strip()
    by_id = difflib.get_close_matches(q.upper(), candidates, n=5, cutoff=0.6) if is_id(q.upper()) or "." in q else []
    names = {(kb.graph.nodes[n].get("name") or "").lower(): n for n in candidates}
    by_name = [names[m] for m in difflib.get_close_matches(q.lower(), list(names), n=5, cutoff=0.5)]
    seen: list[str] = []
    for n in by_id + by_name:
        if n not in seen:
            seen.append(n)
    return [label[n] for n in seen[:5]]


def search(kb: KnowledgeBase, text: str, obj_type: str | None = None) -> list[str]:
    """IDs whose ID, name or description hold every word of `text`, as typed or in
    another form (`atlaskb.textmatch`: "poisoning" finds "Poison Training Data"); a
    sub-technique's name counts with its parent's ("prompt injection" finds
    AML.T0051.000 "Direct"). Ranked: ID match, then name match, then description."""
    from atlaskb.textmatch import Haystack, query_words

    words = query_words(text)
    if not words:
        return []
    ranked = []
    for n, d in kb.graph.nodes(data=True):
        if obj_type and d.get("type") != obj_type:
            continue
        ident = Haystack(n)
        named = Haystack(f"{n} {full_name(kb, n)}")
        hay = Haystack(f"{n} {full_name(kb, n)} {d.get('description') or ''}")
        if not all(hay.has(w) for w in words):
            continue
        rank = 0 if all(ident.has(w) for w in words) else 1 if all(named.has(w) for w in words) else 2
        ranked.append((rank, id_sort_key(n), n))
    return [n for _, _, n in sorted(ranked)]


def full_name(kb: KnowledgeBase, object_id: str) -> str:
    """An object's name as a reader needs it out of context: a sub-technique's with its
    parent's in front, as ATLAS writes it ("LLM Prompt Injection: Direct"), since
    "Direct" or "Data" alone says nothing in a list of gaps or recommendations."""
    if object_id not in kb.graph:
        return ""
    name = kb.graph.nodes[object_id].get("name") or ""
    up = parent(kb, object_id) if kb.graph.nodes[object_id].get("type") == "technique" else None
    parent_name = kb.graph.nodes[up].get("name") if up else ""
    return f"{parent_name}: {name}" if parent_name and name else name


def name_of(kb: KnowledgeBase, object_id: str) -> str:
    """An object's own name; "" for one that has none or is not in the graph (an answer
    never fails for want of a name)."""
    return kb.graph.nodes[object_id].get("name") or "" if object_id in kb.graph else ""


def named(kb: KnowledgeBase, object_id: str) -> dict:
    """``{"id", "name"}``: how answers refer to a related object."""
    return {"id": object_id, "name": name_of(kb, object_id)}


# -- checking what a question is about ----------------------------------------------------

def checked(kb: KnowledgeBase, object_id: str, obj_type: str | None = None) -> str:
    """The canonical ID of `object_id` (any case, `AML.` optional), checked to exist and
    to be of `obj_type`. Raises NotFound otherwise ("did you mean", or "X is a
    mitigation, not a technique")."""
    if object_id in kb.graph:
        found: str | None = object_id
    elif isinstance(object_id, str):
        found = next((c for c in id_candidates(object_id) if c in kb.graph), None)
    else:
        found = None
    if found is None:
        candidates = kb.nodes_of_type(obj_type) if obj_type else sorted(kb.graph.nodes, key=id_sort_key)
        raise NotFound(str(object_id), suggest(kb, str(object_id), candidates))
    actual = kb.graph.nodes[found].get("type")
    if obj_type is not None and actual != obj_type:
        raise NotFound(str(object_id), actual_type=actual, wanted_type=obj_type, object_id=found)
    return found


def tactic_id(kb: KnowledgeBase, tactic: str) -> str:
    """A tactic from its ID (any case), its shortname (``ai-attack-staging``, as STIX
    kill-chain phases and Navigator layers name it) or its name."""
    if tactic in kb.graph and kb.graph.nodes[tactic].get("type") == TACTIC:
        return tactic
    key = str(tactic).strip().lower()
    for t in kb.nodes_of_type(TACTIC):
        d = kb.graph.nodes[t]
        name = d.get("name") or ""
        if key in (t.lower(), name.lower(), (d.get("shortname") or "").lower(), shortname(name)):
            return t
    return checked(kb, tactic, TACTIC)


# -- structure ---------------------------------------------------------------------------

def parent(kb: KnowledgeBase, technique: str) -> str | None:
    found = _out(kb, checked(kb, technique, TECHNIQUE), SUBTECHNIQUE_OF)
    return found[0] if found else None


def subtechniques(kb: KnowledgeBase, technique: str) -> list[str]:
    return _in(kb, checked(kb, technique, TECHNIQUE), SUBTECHNIQUE_OF)


# How many parent links a tactic lookup follows. ATLAS nests one level (AML.T0043.002);
# a source can chain thousands, and every caller that asks for every technique would
# then walk a quadratic number of links (minutes for a 3,000-deep chain).
MAX_PARENT_DEPTH = 32


def tactics_of(kb: KnowledgeBase, technique: str) -> list[str]:
    """The tactics a technique achieves. A sub-technique that states none takes its
    parent's (ATLAS lists tactics on parents only), or the nearest ancestor's that
    states some, up to MAX_PARENT_DEPTH links up. A cycle of sub-technique links (a
    defect `lint` reports) ends the walk."""
    seen: set[str] = set()
    node: str | None = checked(kb, technique, TECHNIQUE)
    while node is not None and node not in seen and len(seen) <= MAX_PARENT_DEPTH:
        seen.add(node)
        own = _out(kb, node, ACHIEVES)
        if own:
            return own
        node = parent(kb, node)
    return []


def tactics_inherited(kb: KnowledgeBase, technique: str) -> bool:
    """True when `technique` states no tactic and `tactics_of` gives it an ancestor's."""
    return not _out(kb, checked(kb, technique, TECHNIQUE), ACHIEVES) and bool(tactics_of(kb, technique))


def techniques_of_tactic(kb: KnowledgeBase, tactic: str, include_subtechniques: bool = False) -> list[str]:
    """Top-level techniques that achieve `tactic` (ID, shortname or name), and optionally
    their sub-techniques."""
    achieving = _in(kb, tactic_id(kb, tactic), ACHIEVES)
    tops = [t for t in achieving if parent(kb, t) not in achieving]
    if not include_subtechniques:
        return tops
    out = []
    for t in tops:
        out.append(t)
        out.extend(subtechniques(kb, t))
    return out


# Where anything without a place in the matrix sorts: after every tactic.
_UNPLACED = 10**6


def tactics(kb: KnowledgeBase) -> list[str]:
    """Tactics in matrix order: the order the release (or vault) lists them, which is
    the kill-chain order, falling back to ID order."""
    return sorted(kb.nodes_of_type(TACTIC), key=lambda t: (kb.graph.nodes[t].get("order", _UNPLACED), id_sort_key(t)))


def tactic_order(kb: KnowledgeBase) -> dict[str, int]:
    """Each tactic's place in matrix order (`tactics`): the sort key of anything shown
    tactic by tactic, so that it reads in kill-chain order."""
    return {t: i for i, t in enumerate(tactics(kb))}


def in_matrix_order(kb: KnowledgeBase, tactic_ids, order: dict[str, int] | None = None) -> list[str]:
    """`tactic_ids` in matrix order (an ID that is no tactic after the tactics, by ID).
    Pass `order` (`tactic_order`) when sorting many lists."""
    order = tactic_order(kb) if order is None else order
    return sorted(tactic_ids, key=lambda t: (order.get(t, _UNPLACED), id_sort_key(t)))


def tactic_counts(kb: KnowledgeBase) -> list[dict]:
    """Each tactic in matrix order, ``{"id", "name", "techniques", "subtechniques"}``:
    how many top-level techniques achieve it, and how many sub-techniques those have."""
    rows = []
    for t in tactics(kb):
        tops = techniques_of_tactic(kb, t)
        subs = sum(len(subtechniques(kb, x)) for x in tops)
        rows.append({**named(kb, t), "techniques": len(tops), "subtechniques": subs})
    return rows


def matrix(kb: KnowledgeBase, include_subtechniques: bool = False) -> list[dict]:
    """The tactic × technique matrix: the tactics in matrix order, each ``{"id", "name",
    "techniques": [{"id", "name", "parent"}]}`` with its top-level techniques (and,
    optionally, each one's sub-techniques right after it)."""
    columns = []
    for t in tactics(kb):
        techs = techniques_of_tactic(kb, t, include_subtechniques=include_subtechniques)
        columns.append({**named(kb, t), "techniques": [{**named(kb, x), "parent": parent(kb, x)} for x in techs]})
    return columns


# -- mitigation links --------------------------------------------------------------------

def mitigations_for(kb: KnowledgeBase, technique: str, rollup: bool = False) -> list[dict]:
    """Mitigations addressing `technique`, each ``{"id", "name", "note", "via"}``.

    With `rollup`, mitigations stated for its parent or its sub-techniques are included
    too, with ``via`` naming the technique they were stated for (None when direct).
    """
    technique = checked(kb, technique, TECHNIQUE)
    rows: dict[str, dict] = {}
    related = [technique]
    if rollup:
        p = parent(kb, technique)
        related += ([p] if p else []) + subtechniques(kb, technique)
    for t in related:
        for m, _, k, d in kb.graph.in_edges(t, keys=True, data=True):
            if k != MITIGATES or m in rows and rows[m]["via"] is None:
                continue
            rows[m] = {"id": m, "name": kb.graph.nodes[m].get("name", ""), "note": d.get("note", ""),
                       "via": None if t == technique else t}
    return [rows[m] for m in sorted(rows, key=id_sort_key)]


def techniques_for(kb: KnowledgeBase, mitigation: str) -> list[dict]:
    """Techniques `mitigation` addresses, each ``{"id", "name", "note", "tactics"}``."""
    mitigation = checked(kb, mitigation, MITIGATION)
    out = []
    for _, t, k, d in kb.graph.out_edges(mitigation, keys=True, data=True):
        if k == MITIGATES:
            out.append({"id": t, "name": kb.graph.nodes[t].get("name", ""), "note": d.get("note", ""),
                        "tactics": tactics_of(kb, t)})
    return sorted(out, key=lambda r: id_sort_key(r["id"]))


def techniques_by_kill_chain(kb: KnowledgeBase, mitigation: str) -> list[dict]:
    """`techniques_for`, ordered as a reader of the matrix expects: each technique's
    tactics in matrix order, and the techniques by the place of their first tactic, then
    by ID (a technique without a tactic last)."""
    order = tactic_order(kb)
    found = techniques_for(kb, mitigation)
    for t in found:
        t["tactics"] = in_matrix_order(kb, t["tactics"], order)
    found.sort(key=lambda t: (order.get(t["tactics"][0], _UNPLACED) if t["tactics"] else _UNPLACED * 10,
                              id_sort_key(t["id"])))
    return found


def group_by_tactic(kb: KnowledgeBase, techniques: list[dict]) -> dict[str, list[dict]]:
    """Technique entries (dicts with ``"tactics"``) under each tactic they serve, the
    tactics in matrix order: an entry with several tactics is under each, one with none
    under ``""`` (last). The entries keep their order within a tactic."""
    groups: dict[str, list[dict]] = {}
    for t in techniques:
        for tactic in t["tactics"] or [""]:
            groups.setdefault(tactic, []).append(t)
    order = tactic_order(kb)
    return {tactic: groups[tactic] for tactic in
            sorted(groups, key=lambda x: (order.get(x, _UNPLACED), id_sort_key(x) if x else (9,)))}


def case_studies(kb: KnowledgeBase) -> list[dict]:
    """Every case study, ``{"id", "name", "incident_date", "target"}``, in ID order."""
    return [{**named(kb, c), "incident_date": kb.graph.nodes[c].get("incident_date"),
             "target": kb.graph.nodes[c].get("target")} for c in kb.nodes_of_type(CASE_STUDY)]


def case_studies_for(kb: KnowledgeBase, technique: str) -> list[dict]:
    """Case studies using `technique`, with the procedure steps that use it."""
    technique = checked(kb, technique, TECHNIQUE)
    out = []
    for cs, _, k, d in kb.graph.in_edges(technique, keys=True, data=True):
        if k == USES:
            out.append({"id": cs, "name": kb.graph.nodes[cs].get("name", ""), "steps": d.get("steps", [])})
    return sorted(out, key=lambda r: id_sort_key(r["id"]))


def case_study_count(kb: KnowledgeBase, technique: str) -> int:
    technique = checked(kb, technique, TECHNIQUE)
    return sum(1 for _, _, k in kb.graph.in_edges(technique, keys=True) if k == USES)


def maturity_rank(kb: KnowledgeBase, technique: str) -> int:
    """realized 3 > demonstrated 2 > feasible 1 > unknown 0."""
    return MATURITY_ORDER.get(kb.graph.nodes[checked(kb, technique, TECHNIQUE)].get("maturity") or "", 0)


def mitigation_count(kb: KnowledgeBase, technique: str) -> int:
    technique = checked(kb, technique, TECHNIQUE)
    return sum(1 for _, _, k in kb.graph.in_edges(technique, keys=True) if k == MITIGATES)


__all__ = [
    "resolve", "suggest", "search", "full_name", "name_of", "named", "checked", "tactic_id", "parent",
    "subtechniques", "tactics_of", "techniques_of_tactic", "tactics", "tactic_order", "in_matrix_order",
    "tactic_counts", "matrix", "mitigations_for", "techniques_for", "techniques_by_kill_chain", "group_by_tactic",
    "case_studies", "case_studies_for", "case_study_count", "maturity_rank", "mitigation_count",
]


# -- paths -------------------------------------------------------------------------------

def neighbours(kb: KnowledgeBase, node: str) -> list[str]:
    """Objects linked to `node` by any edge, either direction, in ATLAS ID order."""
    g = kb.graph
    node = checked(kb, node)
    return sorted(set(g.successors(node)) | set(g.predecessors(node)), key=id_sort_key)


def shortest_path(kb: KnowledgeBase, source: str, target: str) -> list[str] | None:
    """The shortest chain of relationships between two objects, ignoring direction, as
    a list of IDs from `source` to `target` (None when they are not connected).

    Breadth-first search that visits neighbours in ATLAS ID order, so among several
    shortest paths the same one is always returned, whatever order the sources were read
    in (networkx's own search follows insertion order). O(nodes + edges).
    """
    if source == target:
        return [source]
    previous: dict[str, str | None] = {source: None}
    frontier = [source]
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for other in neighbours(kb, node):
                if other in previous:
                    continue
                previous[other] = node
                if other == target:
                    path = [target]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return path[::-1]
                nxt.append(other)
        frontier = nxt
    return None


def path_hops(kb: KnowledgeBase, source: str, target: str) -> list[dict] | None:
    """`shortest_path` as the steps a reader follows: each object ``{"id", "name",
    "type", "links"}``, where ``links`` are the `links_between` it and the one before
    (empty for the first). None when the two are not connected."""
    found = shortest_path(kb, source, target)
    if found is None:
        return None
    return [{**named(kb, node), "type": kb.graph.nodes[node].get("type"),
             "links": links_between(kb, found[i - 1], node) if i else []} for i, node in enumerate(found)]


def links_between(kb: KnowledgeBase, a: str, b: str) -> list[tuple[str, str]]:
    """Every edge joining `a` and `b` as (edge type, "forward" a→b | "backward" b→a)."""
    g = kb.graph
    found = []
    if g.has_edge(a, b):
        found += [(k, "forward") for k in g[a][b]]
    if g.has_edge(b, a):
        found += [(k, "backward") for k in g[b][a]]
    return sorted(found)


__all__ += ["neighbours", "shortest_path", "path_hops", "links_between"]
