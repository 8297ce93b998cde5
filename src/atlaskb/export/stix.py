"""The graph as a STIX 2.1 bundle, shaped like MITRE's own ATLAS bundle.

Tactics become ``x-mitre-tactic`` (with ``x_mitre_shortname``), techniques
``attack-pattern`` (their tactics as ``mitre-atlas`` kill-chain phases), mitigations
``course-of-action``, case studies ``campaign``; ``mitigates``, ``subtechnique-of`` and
``uses`` become relationships. An ``x-mitre-matrix`` lists the tactics in kill-chain
order, which ATT&CK tooling (Navigator, mitreattack-python) expects.

An ``x-mitre-collection`` lists every object with its ``modified`` stamp (ATT&CK
Workbench imports collections).

Shaped for the tools that read MITRE's bundles:

* Sub-techniques carry their parent's ``kill_chain_phases`` (the Navigator builds its
  matrix from phases, and a phase filter must find them); phases that are inherited,
  not stated, are marked ``x_atlaskb_inherited_phases`` so that reading the bundle back
  adds no links the source did not state.
* An object's own ID is its only ``mitre-atlas`` reference. The ATT&CK technique ATLAS
  adapts goes under ``attack-cross-reference``, never ``mitre-attack``: tools that scan
  references for ``mitre-attack`` take what they find for the object's own ATT&CK ID.
* Case studies (``campaign``) carry their incident date as ``first_seen``; since ATLAS
  gives them no dates of their own, ``created``/``modified`` are the incident date too,
  marked ``x_atlaskb_undated`` so that the reader does not invent dates.

Output is deterministic so that it can be diffed and committed: objects are in ATLAS
order, timestamps come from the objects' own dates (never the clock). STIX IDs are
UUIDv5, in a namespace of our own, of the ATLAS ID (relationships: of type, source and
target) and of where the object's text comes from (`text_origin`): exports of MITRE's
release and of a vault with its own summaries describe an object in different words, so
they must not claim to be the same STIX object at the same ``modified`` stamp. The
bundle ID is derived from the bundle's content. Attributes STIX has no property for
(maturity, categories, procedure steps, page-less objects ...) travel as
``x_atlaskb_<attr>`` custom properties, which `atlaskb.sources.stix` reads back:
load → export → load gives the same graph. The names both sides use are in
`atlaskb.stix_vocabulary`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from atlaskb import __version__, queries
from atlaskb.kb import KnowledgeBase
from atlaskb.model import (
    CASE_STUDY,
    MITIGATION,
    TACTIC,
    TECHNIQUE,
    USES,
    id_sort_key,
)
from atlaskb.stix_vocabulary import (
    ATLAS_SOURCE,
    ATTACK_XREF_SOURCE,
    CUSTOM_PREFIX,
    INHERITED_PHASES,
    KILL_CHAIN,
    MITRE_TEXT,
    NO_DATE,
    RELATIONSHIP_TYPE,
    STIX_TYPE,
    TEXT_ORIGIN,
    UNDATED,
    shortname,
)

# Our own namespace (UUIDv5 of a URL we name), so our IDs never collide with MITRE's.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/atlaskb/atlaskb/stix")

ROUTE = {TACTIC: "tactics", TECHNIQUE: "techniques", MITIGATION: "mitigations", CASE_STUDY: "studies"}
# Node attributes that map to standard STIX properties (or are provenance, not knowledge).
_STANDARD = {"type", "name", "description", "created", "modified", "attack_ref", "shortname",
             "has_page", "file", "line", "deprecated"}
# Edge attributes that map to standard properties or are provenance.
_EDGE_STANDARD = {"type", "note", "file", "line", "steps", "step"}


def stix_id(stix_type: str, key: str, origin: str = MITRE_TEXT) -> str:
    """UUIDv5 of `key` (an ATLAS ID, or a relationship's type and ends). Objects whose
    text is MITRE's keep the plain key, so IDs stay stable from release to release; text
    from anywhere else (a vault's own summaries) gets IDs of its own."""
    name = key if origin == MITRE_TEXT else f"{origin}|{key}"
    return f"{stix_type}--{uuid.uuid5(NAMESPACE, name)}"


def text_origin(kb: KnowledgeBase, node: str) -> str:
    """Whose words describe `node`: the `text_origin` of the source holding its page
    (MITRE's, for a release or MITRE's own bundle; ``vault`` for a vault)."""
    index = kb.page_source.get(node)
    if index is None or index >= len(kb.sources):
        return MITRE_TEXT
    return str(kb.sources[index].get(TEXT_ORIGIN) or MITRE_TEXT)


def export_origin(kb: KnowledgeBase) -> str:
    """One origin for the whole export (the matrix, the collection): the objects' own
    when they agree, else ``mixed``."""
    found = {text_origin(kb, n) for n in kb.page_source} or {MITRE_TEXT}
    return found.pop() if len(found) == 1 else "mixed"


def _stamp(date: Any) -> str:
    text = str(date or "")
    return f"{text[:10]}T00:00:00.000Z" if len(text) >= 10 and text[4] == "-" else NO_DATE


def _jsonable(value: Any) -> Any:
    """Graph attributes are plain data, but an overlay could carry a date or a set."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def tactic_shortname(kb: KnowledgeBase, tactic: str) -> str:
    """The kill-chain phase name of a tactic: its STIX shortname when it came from a
    bundle, else its name lowercased and hyphenated (MITRE's rule), else its ID."""
    node = kb.graph.nodes[tactic]
    return node.get("shortname") or (shortname(node["name"]) if node.get("name") else tactic.lower())


def to_bundle(kb: KnowledgeBase) -> dict[str, Any]:
    """The whole graph as a STIX bundle (a plain dict ready for `json.dumps`)."""
    g = kb.graph
    ids = {n: stix_id(STIX_TYPE[d["type"]], n, text_origin(kb, n))
           for n, d in g.nodes(data=True) if d.get("type") in STIX_TYPE}
    origin = export_origin(kb)
    objects: list[dict[str, Any]] = []
    tactics = queries.tactics(kb)
    for obj_type, order in ((TACTIC, tactics), (TECHNIQUE, None), (MITIGATION, None), (CASE_STUDY, None)):
        for node in order or kb.nodes_of_type(obj_type):
            objects.append(_object(kb, node, ids[node]))
    objects.extend(_relationships(kb, ids))
    objects.append({
        "type": "x-mitre-matrix", "spec_version": "2.1", "id": stix_id("x-mitre-matrix", "ATLAS", origin),
        "created": NO_DATE, "modified": NO_DATE, "name": "ATLAS",
        "description": "Tactics of the ATLAS matrix in kill-chain order.",
        "external_references": [{"source_name": ATLAS_SOURCE, "external_id": ATLAS_SOURCE,
                                 "url": "https://atlas.mitre.org"}],
        "tactic_refs": [ids[t] for t in tactics],
    })
    objects.append(_collection(kb, objects, origin))
    digest = hashlib.sha256(json.dumps(objects, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return {"type": "bundle", "id": stix_id("bundle", digest), "objects": objects}


def data_version(kb: KnowledgeBase) -> str:
    """The ATLAS data version(s) the sources declare, joined; "" when none does."""
    return ", ".join(sorted({str(s.get("version")) for s in kb.sources if s.get("version")}))


def _collection(kb: KnowledgeBase, objects: list[dict[str, Any]], origin: str) -> dict[str, Any]:
    """The ``x-mitre-collection`` that names every object of the bundle at its version.
    Its own dates span the objects' (never the clock), so it is deterministic too."""
    dated = [o for o in objects if o["created"] != NO_DATE]
    version = data_version(kb)
    collection = {
        "type": "x-mitre-collection", "spec_version": "2.1",
        "id": stix_id("x-mitre-collection", "ATLAS", origin),
        "created": min((o["created"] for o in dated), default=NO_DATE),
        "modified": max((o["modified"] for o in dated), default=NO_DATE),
        "name": "ATLAS",
        "description": "MITRE ATLAS tactics, techniques, mitigations and case studies, exported by "
                       f"atlaskb {__version__}" + (f" from ATLAS data {version}" if version else "") + ".",
        "x_mitre_version": version.split(", ")[-1] if version else __version__,
        "external_references": [{"source_name": ATLAS_SOURCE, "external_id": ATLAS_SOURCE,
                                 "url": "https://atlas.mitre.org"}],
        "x_mitre_contents": [{"object_ref": o["id"], "object_modified": o["modified"]} for o in objects],
        CUSTOM_PREFIX + TEXT_ORIGIN: origin,
    }
    return collection


def to_json(kb: KnowledgeBase) -> str:
    return json.dumps(to_bundle(kb), indent=2, ensure_ascii=False) + "\n"


def _object(kb: KnowledgeBase, node: str, sid: str) -> dict[str, Any]:
    data = kb.graph.nodes[node]
    obj_type = data["type"]
    created = _stamp(data.get("created"))
    modified = _stamp(data.get("modified") or data.get("created"))
    undated = obj_type == CASE_STUDY and created == NO_DATE and _stamp(data.get("incident_date")) != NO_DATE
    if undated:  # ATLAS dates only the incident; a record of it is no older than that
        created = modified = _stamp(data.get("incident_date"))
    obj: dict[str, Any] = {
        "type": STIX_TYPE[obj_type], "spec_version": "2.1", "id": sid,
        "created": created, "modified": max(created, modified),
        "name": data.get("name") or node,
    }
    if undated:
        obj[CUSTOM_PREFIX + UNDATED] = True
    if modified < created:
        # STIX forbids `modified` before `created`; ATLAS has such dates. Keep the
        # release's own value where our reader finds it.
        obj[CUSTOM_PREFIX + "modified"] = str(data.get("modified"))
    if data.get("description"):
        obj["description"] = data["description"]
    refs = [{"source_name": ATLAS_SOURCE, "url": f"https://atlas.mitre.org/{ROUTE[obj_type]}/{node}",
             "external_id": node}]
    attack = data.get("attack_ref")
    if isinstance(attack, dict) and attack.get("id"):
        ref = {"source_name": ATTACK_XREF_SOURCE, "external_id": attack["id"],
               "description": f"ATLAS adapts ATT&CK {attack['id']}; this is not the object's own ID"}
        if attack.get("url"):
            ref["url"] = attack["url"]
        refs.append(ref)
    obj["external_references"] = refs
    if obj_type == CASE_STUDY and _stamp(data.get("incident_date")) != NO_DATE:
        obj["first_seen"] = _stamp(data.get("incident_date"))
    if obj_type == TACTIC:
        obj["x_mitre_shortname"] = tactic_shortname(kb, node)
    if obj_type == TECHNIQUE:
        phases = queries.tactics_of(kb, node)  # a sub-technique's parent's, when it states none
        inherited = queries.tactics_inherited(kb, node)
        if phases:
            obj["kill_chain_phases"] = [{"kill_chain_name": KILL_CHAIN, "phase_name": tactic_shortname(kb, t)}
                                        for t in queries.in_matrix_order(kb, set(phases))]
            if inherited:
                obj[CUSTOM_PREFIX + INHERITED_PHASES] = True
        if queries.parent(kb, node):
            obj["x_mitre_is_subtechnique"] = True
        obj["x_mitre_platforms"] = ["ATLAS"]
    if data.get("deprecated"):
        obj["x_mitre_deprecated"] = True
    if not data.get("has_page", True):
        obj[CUSTOM_PREFIX + "has_page"] = False
    for key in sorted(data):
        if key not in _STANDARD and data[key] not in (None, "", [], {}):
            obj[CUSTOM_PREFIX + key] = _jsonable(data[key])
    return obj


def _relationships(kb: KnowledgeBase, ids: dict[str, str]) -> list[dict[str, Any]]:
    rels = []
    order = list(RELATIONSHIP_TYPE)
    edges = sorted(((u, v, k, d) for u, v, k, d in kb.graph.edges(keys=True, data=True) if k in RELATIONSHIP_TYPE),
                   key=lambda e: (order.index(e[2]), id_sort_key(e[0]), id_sort_key(e[1])))
    for u, v, k, d in edges:
        if u not in ids or v not in ids:
            continue
        src = kb.graph.nodes[u]
        stamp = _stamp(src.get("modified") or src.get("created"))
        rel: dict[str, Any] = {
            "type": "relationship", "spec_version": "2.1", "id": stix_id("relationship", f"{k}|{u}|{v}", text_origin(kb, u)),
            "created": stamp, "modified": stamp, "relationship_type": RELATIONSHIP_TYPE[k],
            "source_ref": ids[u], "target_ref": ids[v],
        }
        if d.get("note"):
            rel["description"] = d["note"]
        if k == USES and d.get("steps"):
            rel[CUSTOM_PREFIX + "steps"] = _jsonable(d["steps"])
        for key in sorted(d):
            if key not in _EDGE_STANDARD and d[key] not in (None, "", [], {}):
                rel[CUSTOM_PREFIX + key] = _jsonable(d[key])
        rels.append(rel)
    return rels
