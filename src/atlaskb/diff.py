"""What changed between two loads of ATLAS (two releases, a release and a vault, ...).

`diff(old, new)` compares by ATLAS ID, so it works across formats: an ATLAS.yaml
release against a STIX bundle or a vault. The result is plain data, the contract behind
`atlaskb diff --format json`::

    {
      "summary": {"added": 3, "removed": 0, "changed": 12, "links_added": ..., ...},
      "added":   [{"id", "type", "name"}],                  # objects only in new
      "removed": [{"id", "type", "name"}],                  # objects only in old
      "changed": [{"id", "type", "name",                    # objects in both that differ
                   "changes": {FIELD: {"before", "after"[, "added", "removed"]}}}],
      "links_added":   [{"id", "source", "type", "target"}],
      "links_removed": [{"id", "source", "type", "target"}],
      "links_changed": [{"id", "source", "type", "target", "changes": {...}}]
    }

A link's ``id`` is ``"SOURCE TYPE TARGET"`` (e.g. ``AML.M0000 mitigates AML.T0000``).
Compared fields: name, maturity, tactics (effective: a sub-technique's come from its
parent, as the matrix shows them), parent, category, lifecycle, description, created and
modified dates, and the case-study fields (incident date, target, actor, type). A link
changes when its note (mitigates) changes, or when the tactics of its procedure steps
(uses) change (renumbered steps alone are not a change). Whether a
sub-technique link was stated or inferred from the ID is not a difference, nor is a
sub-technique's link to a tactic of its parent stated or left implied.
"""

from __future__ import annotations

from typing import Any

from atlaskb import queries
from atlaskb.kb import KnowledgeBase
from atlaskb.model import ACHIEVES, EDGE_TYPES, TECHNIQUE, id_sort_key

# Field name -> how to read it from a node.
_FIELDS = ("name", "maturity", "tactics", "parent", "category", "lifecycle", "description",
           "created", "modified", "incident_date", "target", "actor", "case_study_type")
_LIST_FIELDS = {"tactics", "category", "lifecycle"}


def _field(kb: KnowledgeBase, node: str, name: str) -> Any:
    data = kb.graph.nodes[node]
    if name == "tactics":
        return queries.tactics_of(kb, node) if data.get("type") == TECHNIQUE else []
    if name == "parent":
        return queries.parent(kb, node) if data.get("type") == TECHNIQUE else None
    value = data.get(name)
    if name in _LIST_FIELDS:
        return sorted(value or [])
    if isinstance(value, str):
        value = value.strip()
    return value if value not in ("", None) else None


def _summary(kb: KnowledgeBase, node: str) -> dict[str, Any]:
    data = kb.graph.nodes[node]
    return {"id": node, "type": data.get("type"), "name": data.get("name", "")}


def _object_changes(old: KnowledgeBase, new: KnowledgeBase, node: str) -> dict[str, Any]:
    changes = {}
    for name in _FIELDS:
        before, after = _field(old, node, name), _field(new, node, name)
        if before == after:
            continue
        change: dict[str, Any] = {"before": before, "after": after}
        if name in _LIST_FIELDS:
            change["added"] = [x for x in after if x not in before]
            change["removed"] = [x for x in before if x not in after]
        changes[name] = change
    if old.graph.nodes[node].get("type") != new.graph.nodes[node].get("type"):
        changes["type"] = {"before": old.graph.nodes[node].get("type"), "after": new.graph.nodes[node].get("type")}
    return changes


def _links(kb: KnowledgeBase) -> dict[tuple[str, str, str], dict]:
    """Links by (source, type, target). A sub-technique's `achieves` link to one of its
    parent's tactics is left out: MITRE's STIX bundles state it, its releases imply it,
    and both mean the same (the `tactics` field still shows any real move)."""
    links = {}
    for u, v, k, d in kb.graph.edges(keys=True, data=True):
        if k == ACHIEVES:
            parent = queries.parent(kb, u)
            if parent and v in queries.tactics_of(kb, parent):
                continue
        links[(u, k, v)] = d
    return links


def _link_key(key: tuple[str, str, str]) -> tuple:
    source, link_type, target = key
    return (EDGE_TYPES.index(link_type) if link_type in EDGE_TYPES else 99, id_sort_key(source), id_sort_key(target))


def _link_summary(key: tuple[str, str, str]) -> dict[str, Any]:
    source, link_type, target = key
    return {"id": f"{source} {link_type} {target}", "source": source, "type": link_type, "target": target}


def _step_tactics(data: dict) -> list[str]:
    """The tactics a case study uses a technique under, one per step. Step numbers are
    left out: a step inserted early in a procedure renumbers every later one without
    changing how those techniques are used."""
    return sorted(str(s.get("tactic") or "") for s in data.get("steps") or [])


def _link_changes(before: dict, after: dict) -> dict[str, Any]:
    changes = {}
    note_before = " ".join(str(before.get("note") or "").split()) or None
    note_after = " ".join(str(after.get("note") or "").split()) or None
    if note_before != note_after:
        changes["note"] = {"before": note_before, "after": note_after}
    if _step_tactics(before) != _step_tactics(after):
        changes["steps"] = {"before": before.get("steps") or [], "after": after.get("steps") or []}
    return changes


def diff(old: KnowledgeBase, new: KnowledgeBase) -> dict[str, Any]:
    """Objects and links added, removed and changed from `old` to `new`."""
    old_ids, new_ids = set(old.graph.nodes), set(new.graph.nodes)
    order = lambda ids: sorted(ids, key=id_sort_key)  # noqa: E731
    changed = []
    for node in order(old_ids & new_ids):
        changes = _object_changes(old, new, node)
        if changes:
            changed.append({**_summary(new, node), "changes": changes})
    old_links, new_links = _links(old), _links(new)
    links_changed = []
    for key in sorted(old_links.keys() & new_links.keys(), key=_link_key):
        changes = _link_changes(old_links[key], new_links[key])
        if changes:
            links_changed.append({**_link_summary(key), "changes": changes})
    result = {
        "added": [_summary(new, n) for n in order(new_ids - old_ids)],
        "removed": [_summary(old, n) for n in order(old_ids - new_ids)],
        "changed": changed,
        "links_added": [_link_summary(k) for k in sorted(new_links.keys() - old_links.keys(), key=_link_key)],
        "links_removed": [_link_summary(k) for k in sorted(old_links.keys() - new_links.keys(), key=_link_key)],
        "links_changed": links_changed,
    }
    result = {"summary": {k: len(v) for k, v in result.items()}, **result}
    return result


def has_differences(result: dict[str, Any]) -> bool:
    return any(result["summary"].values())
