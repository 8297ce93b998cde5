"""The coverage page and matrix colouring, from `atlaskb.coverage`'s numbers.

The site never recomputes coverage: `coverage.compute` and `coverage.recommend` are the
single definition (what "covered" means, how gaps rank), shared with `atlaskb coverage`
on the command line. This module only turns their plain data into links and labels,
and adds one presentational state: a parent technique that is itself uncovered while some
of its sub-techniques are covered is drawn as *partial*, so the matrix does not paint a
half-defended family as an outright gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from atlaskb import coverage as cov
from atlaskb import queries
from atlaskb.errors import NotFound
from atlaskb.model import TECHNIQUE
from atlaskb.site.context import SiteModel

RECOMMENDATIONS = 5


@dataclass
class CoverageView:
    have: list
    total: int
    covered_count: int
    percent: str
    cells: dict
    have_rows: list = field(default_factory=list)
    tactic_rows: list = field(default_factory=list)
    gaps: list = field(default_factory=list)
    recommendations: list = field(default_factory=list)
    has_strength: bool = False
    has_notes: bool = False


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.0f}%"


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def coverage_view(model: SiteModel, have=None, profile=None) -> CoverageView:
    """`have` (mitigation IDs or names) or `profile` (`coverage.Profile`) → what the
    coverage page and the coloured matrix show. Unknown mitigations raise NotFound."""
    kb = model.kb
    items = list(profile.mitigations) if profile is not None else list(have or [])
    strength = dict(profile.strength) if profile is not None else None
    notes = dict(profile.notes) if profile is not None else {}
    result = cov.compute(kb, items, strength)
    picks = cov.recommend(kb, items, top=RECOMMENDATIONS, strength=strength)
    ref = model.refs.__getitem__

    resolved_notes, resolved_strength = {}, {}
    for item in items:
        try:
            mid = queries.resolve(kb, item, "mitigation")
        except NotFound:
            continue
        if item in notes:
            resolved_notes[mid] = notes[item]
        if strength and item in strength:
            resolved_strength[mid] = strength[item]

    covered = set(result["covered"])
    levels = result.get("level", {})
    cells = {}
    for t in model.ids_by_type.get(TECHNIQUE, []):
        if t in covered:
            level = levels.get(t, 1.0)
            short = "✓" if level >= 1.0 else f"{level * 100:.0f}%"
            long = "covered" if level >= 1.0 else f"covered at strength {level:.2f}"
            cells[t] = {"cls": "covered", "short": short, "long": long}
        elif any(s.id in covered for s in model.subtechniques.get(t, [])):
            cells[t] = {"cls": "partial", "short": "◐", "long": "partial: some sub-techniques covered"}
        else:
            cells[t] = {"cls": "gap", "short": "gap", "long": "gap: no mitigation you have"}

    total = len(result["covered"]) + len(result["uncovered"])
    view = CoverageView(
        have=list(result.get("have", [])), total=total, covered_count=len(result["covered"]),
        percent=_pct(len(result["covered"]) / total) if total else "0%", cells=cells,
        has_strength=bool(resolved_strength), has_notes=bool(resolved_notes),
    )
    for mid in view.have:
        view.have_rows.append({
            "ref": ref(mid), "techniques": len(model.techniques_mitigated.get(mid, [])),
            "strength": _number(resolved_strength[mid]) if mid in resolved_strength else "1",
            "note": resolved_notes.get(mid, ""),
        })
    for tactic, entry in result["by_tactic"].items():
        if tactic not in model.refs:
            continue
        ratio = float(entry.get("ratio") or 0.0)
        view.tactic_rows.append({"ref": ref(tactic), "covered": len(entry["covered"]),
                                 "uncovered": len(entry["uncovered"]), "percent": _pct(ratio),
                                 "width": f"{ratio * 100:.1f}"})
    for gap in result["gaps"]:
        view.gaps.append({"rank": len(view.gaps) + 1, "ref": ref(gap["id"]),
                          "maturity": gap.get("maturity") or "unknown",
                          "case_studies": gap.get("case_studies", 0), "weight": _number(gap.get("weight", ""))})
    for pick in picks:
        view.recommendations.append({"ref": ref(pick["id"]), "gain": _number(pick["gain"]),
                                     "newly_covered": [ref(t) for t in pick.get("newly_covered", [])]})
    return view
