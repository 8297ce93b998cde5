"""The data behind the matrix page's coverage panel: `matrix-data.js`.

The panel lets a reader pick deployed mitigations in the browser and recolours the
matrix at once, offline. Every selection cannot be precomputed (2^n of them), so the
page computes, but only the arithmetic of `atlaskb.coverage`; everything that rule reads
is generated here, at build time, from the same graph and the same Python functions:

* each mitigation's techniques: the targets of its ``mitigates`` edges that are
  techniques, in ATLAS ID order (the order `coverage.recommend` sums them in);
* each technique's tactics (`queries.tactics_of`, kept to tactics of the matrix, as
  `coverage.compute` keeps them), parent and weight (`coverage.technique_weight`);
* the matrix cell each technique shows without a selection (its mitigation count), and
  the words for covered / partial / gap cells (`atlaskb.site.coverage_page.coverage_cell`);
* a Navigator layer of the coverage score for no mitigations
  (`export.navigator.layer`, as JSON text so its key order survives), whose entries the
  page scores for the selection, and the description that layer gives a set of
  mitigations, as a format;
* per mitigation–technique link, its evidence status (`atlaskb.linkstatus`) when the
  site carries evidence; a technique shows the best of its selected links' statuses.

`templates/static/matrix.js` documents the rule it applies (the one in
`atlaskb.coverage`'s docstring); tests check that its covered sets, counts per tactic,
recommendations and downloads equal what the CLI says for the same selection.

Like the search index, the file is a script assigning one global (browsers refuse
`fetch()` from ``file://``), JSON with sorted keys and ASCII escapes, markup characters
escaped too, so it is byte-identical across builds and no vault text can close a script.
"""

from __future__ import annotations

import json

from atlaskb import coverage
from atlaskb import linkstatus, queries
from atlaskb.export import navigator
from atlaskb.model import MITIGATES, MITIGATION, TECHNIQUE, id_sort_key
from atlaskb.site import scale
from atlaskb.site.context import SiteModel
from atlaskb.site.search import data_script

FILE = "matrix-data.js"
GLOBAL = "ATLASKB_MATRIX"

def link_statuses(model: SiteModel):
    """(mitigation, technique) -> the link's evidence status, as the evidence toggle
    colours it: the status `build_site` derived (`SiteModel.link_status`, by
    `atlaskb.linkstatus`); `scale.MEASURED` when the results carry no paired verdict, so
    no status could be derived; else "unmeasured"."""

    def status(mitigation: str, technique: str) -> str:
        found = model.link_status.get((mitigation, technique))
        if found is not None:
            return found.status
        return scale.MEASURED if model.evidence.get((mitigation, technique)) else linkstatus.UNMEASURED

    return status


def matrix_data(model: SiteModel, initial: dict | None, with_evidence: bool) -> dict:
    """Everything the panel reads, as plain data (see the module docstring).

    `initial` is ``{"have": [IDs], "strength": {ID: s}}`` for a site built with
    ``--have`` / ``--profile`` (the page opens with it selected), else None.
    """
    kb = model.kb
    techniques = kb.nodes_of_type(TECHNIQUE)
    technique_set = set(techniques)
    matrix_tactics = queries.tactics(kb)
    in_matrix = set(matrix_tactics)
    counts = {t: len(model.mitigations_of.get(t, [])) for t in techniques}
    count_cells = scale.mitigation_cells(counts)
    technique_rows = []
    for t in techniques:
        technique_rows.append({
            "id": t,
            "name": str(kb.graph.nodes[t].get("name") or ""),
            "url": model.urls[t],
            "parent": queries.parent(kb, t) or "",
            "tactics": [x for x in queries.tactics_of(kb, t) if x in in_matrix],
            "weight": coverage.technique_weight(kb, t),
            "cell": count_cells[t],
        })
    mitigation_rows = []
    status_of = link_statuses(model) if with_evidence else None
    for m in sorted(kb.nodes_of_type(MITIGATION), key=id_sort_key):
        links = sorted(((t, d) for _, t, k, d in kb.graph.out_edges(m, keys=True, data=True)
                        if k == MITIGATES and t in technique_set), key=lambda td: id_sort_key(td[0]))
        row = {"id": m, "name": str(kb.graph.nodes[m].get("name") or ""), "url": model.urls[m],
               "techniques": [t for t, _ in links]}
        if with_evidence:
            row["status"] = [status_of(m, t) for t, _ in links]
        mitigation_rows.append(row)
    from atlaskb.site.coverage_page import COVERAGE_CELL_TEXT

    return {
        "techniques": technique_rows,
        "tactics": [{"id": t, "name": str(kb.graph.nodes[t].get("name") or "")} for t in matrix_tactics],
        "mitigations": mitigation_rows,
        "initial": initial,
        "coverage_cells": COVERAGE_CELL_TEXT,
        "evidence": evidence_legend() if with_evidence else None,
        # as text: the CLI writes a layer's keys in the order `layer` makes them, which
        # this file's sorted keys would lose
        "layer": json.dumps(navigator.layer(kb, "coverage", []), ensure_ascii=False),
        "layer_description": navigator.coverage_description_format(kb),
        "layer_nobody": navigator.SCORERS["coverage"].nobody,
    }


def evidence_legend() -> dict:
    """The evidence statuses, best first, with their cell class, legend label and cell text."""
    return {"best_first": list(scale.EVIDENCE_BEST_FIRST),
            "bins": [{"status": s, "cls": scale.evidence_class(s), "label": scale.EVIDENCE_LABELS[s],
                      "short": scale.EVIDENCE_SHORT[s]} for s in scale.EVIDENCE_BEST_FIRST]}


def matrix_script(data: dict) -> str:
    return data_script(GLOBAL, data, "atlaskb matrix data (atlaskb.site.matrix_data)")
