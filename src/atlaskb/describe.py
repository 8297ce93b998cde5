"""One object as plain data with all its relationships, and what measurements say about
its mitigation links.

`describe` is the answer to "tell me everything about AML.T0043.002": what
`atlaskb show --format json` prints and what a script gets from the Python API, so the
two never disagree. `attach_evidence` adds to a described technique or mitigation the
evidence status of each of its links and the rows measured for them (from
`atlaskb.linkstatus.LinkStatuses`), which is what `show --evidence` reports.

Built from `atlaskb.queries` only; nothing here prints or formats for people.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from atlaskb import queries as q
from atlaskb.model import CASE_STUDY, MITIGATES, MITIGATION, TACTIC, TECHNIQUE, USES, id_sort_key

if TYPE_CHECKING:  # only for annotations: importing kb (and so networkx) costs ~90 ms
    from atlaskb.kb import KnowledgeBase

# Where an object was read from, not what it is: part of a description only on request.
PROVENANCE_FIELDS = ("file", "line", "has_page")
# Bookkeeping that is no fact about the object (its position in the source's listing,
# which `queries.tactics` already turns into matrix order).
_INTERNAL_FIELDS = ("order",)


def describe(kb: KnowledgeBase, object_id: str, provenance: bool = False) -> dict:
    """The object `object_id` (an ID in the graph) with its attributes and relationships:

    * a technique: ``parent`` ({id, name} or None), ``subtechniques``, ``tactics`` (its
      own, or its parent's), ``mitigations`` ({id, name, note}) and ``case_studies``
      ({id, name, steps});
    * a mitigation: ``techniques`` ({id, name, note, tactics});
    * a tactic: ``techniques`` ({id, name}), each top-level one followed by its
      sub-techniques;
    * a case study: ``techniques`` ({id, name, steps}) in procedure order.

    With `provenance`, also where it was read (PROVENANCE_FIELDS: file, line, has_page).
    """
    node = kb.graph.nodes[object_id]
    out = {"id": object_id, **{k: v for k, v in node.items()
                               if k not in _INTERNAL_FIELDS and (provenance or k not in PROVENANCE_FIELDS)}}
    obj_type = node.get("type")
    if obj_type == TECHNIQUE:
        out.update(_technique_links(kb, object_id))
    elif obj_type == MITIGATION:
        out["techniques"] = [{k: t[k] for k in ("id", "name", "note", "tactics")}
                             for t in q.techniques_for(kb, object_id)]
    elif obj_type == TACTIC:
        out["techniques"] = [q.named(kb, t)
                             for t in q.techniques_of_tactic(kb, object_id, include_subtechniques=True)]
    elif obj_type == CASE_STUDY:
        out["techniques"] = _procedure_techniques(kb, object_id)
    return out


def _technique_links(kb: KnowledgeBase, technique: str) -> dict:
    parent = q.parent(kb, technique)
    return {
        "parent": q.named(kb, parent) if parent else None,
        "subtechniques": [q.named(kb, s) for s in q.subtechniques(kb, technique)],
        "tactics": [q.named(kb, t) for t in q.tactics_of(kb, technique)],
        "mitigations": [{k: m[k] for k in ("id", "name", "note")} for m in q.mitigations_for(kb, technique)],
        "case_studies": q.case_studies_for(kb, technique),
    }


def _procedure_techniques(kb: KnowledgeBase, case_study: str) -> list[dict]:
    """The techniques a case study uses, with their steps, in the order of each one's
    first step (a technique listed without a step last), then by ID."""
    uses = [{**q.named(kb, t), "steps": d.get("steps", [])}
            for _, t, k, d in kb.graph.out_edges(case_study, keys=True, data=True) if k == USES]
    uses.sort(key=lambda u: (min((s.get("step") or 0 for s in u["steps"]), default=10**6), id_sort_key(u["id"])))
    return uses


def attach_evidence(kb: KnowledgeBase, obj: dict, evidence, statuses=None) -> list[tuple[str, str, dict]]:
    """Add measurements to a `describe`d technique's mitigations (a mitigation's
    techniques): with `statuses` (`atlaskb.linkstatus.LinkStatuses`), each entry's link
    ``status`` and ``reason``; and for a link the graph has and `evidence`
    ((mitigation, technique) -> rows) measured, its rows as ``evidence``.

    Returns every measured row as (mitigation, technique, row), in the entries' order,
    for a flat table. A tactic or case study has no mitigation links: nothing is added.
    """
    obj_type = obj.get("type")
    entries = obj.get("mitigations") if obj_type == TECHNIQUE else obj.get("techniques") if obj_type == MITIGATION else None
    measured = []
    for entry in entries or []:
        m, t = (entry["id"], obj["id"]) if obj_type == TECHNIQUE else (obj["id"], entry["id"])
        if statuses is not None:
            st = statuses.status(m, t)
            entry["status"], entry["reason"] = st.status, st.reason
        if not kb.graph.has_edge(m, t, key=MITIGATES):
            continue
        rows = list(evidence.get((m, t)) or [])
        if rows:
            entry["evidence"] = rows
            measured.extend((m, t, r) for r in rows)
    return measured


def with_link_status(rows: list[dict], technique: str, statuses) -> list[dict]:
    """`queries.mitigations_for` rows of `technique` with each link's evidence ``status``
    and ``reason`` (`atlaskb.linkstatus.LinkStatuses`). A rolled-up row (``via`` set)
    takes the status of the link it was stated for: the measurement is of that link."""
    out = []
    for m in rows:
        st = statuses.status(m["id"], m.get("via") or technique)
        out.append({**m, "status": st.status, "reason": st.reason})
    return out
