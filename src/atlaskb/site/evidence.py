"""Measured reference-defense results on `mitigates` edges, made presentable.

`atlaskb.evidence.attach_evidence` puts a list of result dicts on each measured edge
(technique, attack, metric, higher_is_better, baseline, defended, ci95, params, plots).
Here each result becomes a table row with the change and a plain-words verdict, and each
plot is copied into the site under ``evidence/files/`` so the site stays self-contained.
Plot paths come from a results file, so they are checked: relative, inside the evidence
folder, an image type, an existing file; anything else is listed as missing, never linked.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field

from atlaskb.site.context import SiteModel

IMAGE_TYPES = {".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp"}
SITE_FOLDER = "evidence/files"
METRIC_LABELS = {
    "robust_accuracy": "robust accuracy",
    "attack_success_rate": "attack success rate",
    "identification_accuracy": "identification accuracy",
    "accuracy": "accuracy",
    "queries": "queries used",
}


@dataclass
class EvidenceRow:
    attack: str
    metric: str
    baseline: str
    defended: str
    change: str
    verdict: str  # "better" | "worse" | "no change" | ""
    ci95: str
    params: str  # the scalar parameters, one line
    params_full: str  # every parameter, as indented JSON
    missing: list = field(default_factory=list)  # plot paths that could not be used


@dataclass
class Figure:
    src: str  # path in the site
    caption: str
    alternates: list = field(default_factory=list)  # [(path in the site, format label)]


@dataclass
class EdgeEvidence:
    mitigation: object
    technique: object
    rows: list
    figures: list = field(default_factory=list)
    setup: str = ""  # backend, device, data set, clean accuracy, seeds


def _number(value) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _interval(value) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return f"[{_number(value[0])}, {_number(value[1])}]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_interval(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
    return _number(value)


def _params(value) -> str:
    """The scalar parameters as `k=v`; nested detail (per-seed lists, extra measures)
    goes to the full listing instead of crowding the table."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_number(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                         if not isinstance(v, (dict, list, tuple)))
    return "" if value is None else str(value)


def _params_full(value) -> str:
    if not isinstance(value, dict) or not any(isinstance(v, (dict, list, tuple)) for v in value.values()):
        return ""
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def _setup(meta: dict) -> str:
    """One sentence on how the measurement was made, from the results file's header."""
    if not isinstance(meta, dict):
        return ""
    parts = []
    if meta.get("dataset"):
        parts.append(f"data set {meta['dataset']}")
    if meta.get("backend"):
        parts.append(f"{meta['backend']} backend" + (f" on {meta['device']}" if meta.get("device") else ""))
    clean = meta.get("clean_accuracy")
    if isinstance(clean, dict) and clean:
        parts.append("clean accuracy " + ", ".join(f"{k} {_number(v)}" for k, v in sorted(clean.items())))
    seeds = (meta.get("provenance") or {}).get("seeds") if isinstance(meta.get("provenance"), dict) else None
    if isinstance(seeds, list) and seeds:
        parts.append(f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}")
    return "; ".join(parts)


def _verdict(result: dict) -> tuple[str, str]:
    base, defended = result.get("baseline"), result.get("defended")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (base, defended)):
        return "", ""
    delta = defended - base
    change = f"{delta:+.3f}" if isinstance(delta, float) else f"{delta:+d}"
    if abs(delta) < 1e-12:
        return change, "no change"
    higher = result.get("higher_is_better")
    if higher is None:
        return change, ""
    return change, "better" if (delta > 0) == bool(higher) else "worse"


def safe_plot_path(evidence_dir: str, rel: object) -> str | None:
    """`rel` normalised when it names an image file inside `evidence_dir`, else None."""
    if not isinstance(rel, str) or not rel or os.path.isabs(rel) or "\\" in rel:
        return None
    norm = os.path.normpath(rel).replace(os.sep, "/")
    if norm.startswith("../") or norm == ".." or norm.startswith("/"):
        return None
    if os.path.splitext(norm)[1].lower() not in IMAGE_TYPES:
        return None
    full = os.path.join(evidence_dir, norm)
    if os.path.islink(full) or not os.path.isfile(full):
        return None
    return norm


def collect(model: SiteModel, evidence_dir: str | None) -> tuple[list[EdgeEvidence], dict, list[str]]:
    """(edges with evidence in ID order, (mitigation, technique) -> EdgeEvidence, plot
    files to copy, relative to the evidence folder)."""
    edges, by_pair, plots = [], {}, set()
    graph = model.kb.graph
    for mitigation in model.ids_by_type.get("mitigation", []):
        for link in model.techniques_mitigated.get(mitigation, []):
            results = [r for r in link.evidence if isinstance(r, dict)]
            if not results:
                continue
            item = EdgeEvidence(link.mitigation, link.technique, [])
            figures: dict[str, Figure] = {}
            for result in results:
                item.rows.append(_row(result, evidence_dir, plots, figures))
            item.figures = [figures[k] for k in sorted(figures)]
            meta = graph.edges[mitigation, link.technique.id, "mitigates"].get("evidence_meta")
            item.setup = _setup(meta)
            edges.append(item)
            by_pair[(link.mitigation.id, link.technique.id)] = item
    return edges, by_pair, sorted(plots)


# Of several formats of one plot, the page shows the first of these; the rest are links.
PREFERRED = [".svg", ".png", ".webp", ".jpg", ".jpeg", ".gif"]


def _row(result: dict, evidence_dir: str | None, plots: set, figures: dict) -> EvidenceRow:
    change, verdict = _verdict(result)
    metric = str(result.get("metric") or "")
    row = EvidenceRow(
        attack=str(result.get("attack") or ""), metric=METRIC_LABELS.get(metric, metric),
        baseline=_number(result.get("baseline")), defended=_number(result.get("defended")),
        change=change, verdict=verdict, ci95=_interval(result.get("ci95")),
        params=_params(result.get("params")), params_full=_params_full(result.get("params")),
    )
    raw = result.get("plots") or []
    for rel in sorted(raw if isinstance(raw, (list, tuple)) else [raw], key=str):
        norm = safe_plot_path(evidence_dir, rel) if evidence_dir else None
        if norm is None:
            row.missing.append(str(rel))
            continue
        plots.add(norm)
        stem, ext = os.path.splitext(norm)
        caption = f"{row.attack or 'Result'}: {row.metric}".strip()
        fig = figures.get(stem)
        site_path = f"{SITE_FOLDER}/{norm}"
        if fig is None:
            figures[stem] = Figure(site_path, caption)
            continue
        if row.attack and row.attack not in fig.caption:
            fig.caption = f"{fig.caption}; {caption}"
        current_ext = os.path.splitext(fig.src)[1].lower()
        if site_path == fig.src or any(site_path == a for a, _ in fig.alternates):
            continue
        if PREFERRED.index(ext.lower()) < PREFERRED.index(current_ext):
            fig.alternates.append((fig.src, current_ext[1:].upper()))
            fig.src = site_path
        else:
            fig.alternates.append((site_path, ext[1:].upper()))
        fig.alternates.sort()
    return row


def copy_plots(evidence_dir: str, plots: list[str], site_dir: str) -> None:
    for rel in plots:
        dest = os.path.join(site_dir, SITE_FOLDER, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(evidence_dir, rel), dest)
