"""Small STIX bundles shaped like MITRE's stix-atlas.json, for the STIX reader's and
writer's tests (not a test module: pytest does not collect it)."""

from __future__ import annotations

import json

# -- a small bundle shaped like MITRE's stix-atlas.json ---------------------------------

TACTIC_RECON = "x-mitre-tactic--044fbb79-dd83-40e9-abe0-f78e23325e92"
TACTIC_ACCESS = "x-mitre-tactic--752d1bc1-97de-477d-bf60-1d6eef797fa8"
T_SEARCH = "attack-pattern--8ed6d88d-79c6-48f5-a863-3d960d9a192c"
T_JOURNALS = "attack-pattern--3a2ba42c-5cc6-4d9c-b4b0-c2d5c5a6b1f1"
T_API = "attack-pattern--90a420d4-3f03-4800-86c0-223c4376804a"
M_LIMIT = "course-of-action--40076545-e797-4508-a294-943096a12111"
STAMP = "2025-10-14T17:11:05.532738Z"


def ext(atlas_id, route="techniques"):
    return [{"source_name": "mitre-atlas", "url": f"https://atlas.mitre.org/{route}/{atlas_id}",
             "external_id": atlas_id}]


def tactic(sid, atlas_id, name, short):
    return {"type": "x-mitre-tactic", "spec_version": "2.1", "id": sid, "created": STAMP, "modified": STAMP,
            "name": name, "description": f"{name} tactic.", "external_references": ext(atlas_id, "tactics"),
            "x_mitre_shortname": short}


def technique(sid, atlas_id, name, phases, sub=False):
    obj = {"type": "attack-pattern", "spec_version": "2.1", "id": sid, "created": STAMP, "modified": STAMP,
           "name": name, "description": f"{name} technique.",
           "kill_chain_phases": [{"kill_chain_name": "mitre-atlas", "phase_name": p} for p in phases],
           "external_references": ext(atlas_id), "x_mitre_platforms": ["ATLAS"]}
    if sub:
        obj["x_mitre_is_subtechnique"] = True
    return obj


def rel(rid, rel_type, src, dst, description=None):
    obj = {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{rid}", "created": STAMP,
           "modified": STAMP, "relationship_type": rel_type, "source_ref": src, "target_ref": dst}
    if description:
        obj["description"] = description
    return obj


def mitre_objects():
    return [
        tactic(TACTIC_RECON, "AML.TA0002", "Reconnaissance", "reconnaissance"),
        tactic(TACTIC_ACCESS, "AML.TA0000", "AI Model Access", "ai-model-access"),
        technique(T_SEARCH, "AML.T0000", "Search Open Technical Databases", ["reconnaissance"]),
        # MITRE repeats the parent's phase on each sub-technique.
        technique(T_JOURNALS, "AML.T0000.000", "Journals and Conference Proceedings", ["reconnaissance"], sub=True),
        technique(T_API, "AML.T0040", "AI Model Inference API Access", ["ai-model-access"]),
        {"type": "course-of-action", "spec_version": "2.1", "id": M_LIMIT, "created": STAMP, "modified": STAMP,
         "name": "Limit Public Release of Information", "description": "Limit what is published.",
         "external_references": ext("AML.M0000", "mitigations")},
        rel("00000000-0000-4000-8000-000000000001", "subtechnique-of", T_JOURNALS, T_SEARCH),
        rel("00000000-0000-4000-8000-000000000002", "mitigates", M_LIMIT, T_SEARCH,
            "Keep public research apart from the production training data.\n"),
        rel("00000000-0000-4000-8000-000000000003", "mitigates", M_LIMIT, T_JOURNALS, "Limit published papers.\n"),
        {"type": "x-mitre-matrix", "spec_version": "2.1", "id": "x-mitre-matrix--2fba01bd-a376-4771-bb35-71eca685a9fb",
         "created": STAMP, "modified": STAMP, "name": "ATLAS Matrix", "external_references": ext("mitre-atlas"),
         "tactic_refs": [TACTIC_RECON, TACTIC_ACCESS]},
        {"type": "x-mitre-collection", "spec_version": "2.1", "id": "x-mitre-collection--0b2f2b5b-0ab8-4a4b-9a0d-5f2f0b0c0d0e",
         "name": "ATLAS", "x_mitre_contents": [{"object_ref": TACTIC_RECON, "object_modified": STAMP}]},
    ]


def write_bundle(path, objects, indent=None):
    """MITRE publishes the bundle on one line; `indent` gives a multi-line one."""
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--b83aa1f9-4d7d-4da1-9672-372b06239bf3",
                                "objects": objects}, indent=indent), encoding="utf-8")
    return path


def codes(findings):
    return sorted(f.code for f in findings)


def edge_set(kb, kind=None):
    return {(u, v, k) for u, v, k in kb.graph.edges(keys=True) if kind is None or k == kind}
