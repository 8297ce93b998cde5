"""The coverage page and matrix colouring, from `atlaskb.coverage`'s numbers.

The site never recomputes coverage: `coverage.compute` and `coverage.recommend` are the
single definition (what "covered" means, how gaps rank), shared with `atlaskb coverage`
on the command line. This module only turns their plain data into links and labels,
and names the three states a matrix cell shows, in `coverage_cell`:

* *covered*: a deployed mitigation covers the technique at full strength (level 1);
* *partial*: covered, but only at a lower level (strengths below 1 in a profile), the
  technique `atlaskb coverage` lists as covered with a ``level`` under 1;
* *gap*: not covered.

So the cells drawn covered or partial are exactly the techniques `atlaskb coverage`
reports as covered. A parent that is itself a gap while some of its sub-techniques are
covered stays a gap (ATLAS states mitigations per sub-technique); its cell says how many
of its sub-techniques are covered instead. The matrix page's script draws the same cells
from the same words (`COVERAGE_CELL_TEXT`, written into `matrix-data.js`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from atlaskb import coverage
from atlaskb.model import TECHNIQUE
from atlaskb.site.context import SiteModel

RECOMMENDATIONS = 5

# What a cell says, short (in the cell) and long (for screen readers and tooltips).
# `{pct}` is the coverage level in percent, rounded half up: floor(level × 100 + 0.5).
COVERAGE_CELL_TEXT = {
    "covered": {"short": "✓", "long": "covered"},
    "partial": {"short": "{pct}%", "long": "partly covered (level {pct}%)"},
    "gap": {"short": "gap", "long": "gap: no mitigation you have"},
}


def coverage_cell(level: float | None) -> dict:
    """{cls, short, long} of one technique: `level` is its coverage level as
    `coverage.compute` reports it (rounded to 4 places) when it is covered, None when not."""
    if level is None:
        cls, pct = "gap", "0"
    else:
        cls = "covered" if level >= 1.0 else "partial"
        pct = str(math.floor(level * 100 + 0.5))
    text = COVERAGE_CELL_TEXT[cls]
    return {"cls": cls, "short": text["short"].replace("{pct}", pct), "long": text["long"].replace("{pct}", pct)}


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
    by_tactic: dict = field(default_factory=dict)  # tactic -> (covered, total), as the CLI counts
    subs_covered: dict = field(default_factory=dict)  # parent -> (covered sub-techniques, all)
    strength: dict = field(default_factory=dict)  # resolved ID -> strength, where given


def _short_number(value) -> str:
    """A strength, weight or gain in its shortest form (`1.0` -> `1`, `0.25` -> `0.25`):
    these are inputs and scores people compare, not measurements with a precision."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def selection(have=None, profile=None) -> tuple[list, dict | None, dict]:
    """The mitigations the site was given, as named (`have`, or a `coverage.Profile`):
    (names, strengths or None, notes)."""
    if profile is None:
        return list(have or []), None, {}
    return list(profile.mitigations), dict(profile.strength), dict(profile.notes)


def coverage_view(model: SiteModel, have=None, profile=None) -> CoverageView:
    """`have` (mitigation IDs or names) or `profile` (`coverage.Profile`) → what the
    coverage page and the coloured matrix show. Unknown mitigations raise NotFound."""
    kb = model.kb
    items, strength, notes = selection(have, profile)
    result = coverage.compute(kb, items, strength)
    picks = coverage.recommend(kb, items, top=RECOMMENDATIONS, strength=strength)
    deployed = coverage.resolve_deployed(kb, items, strength, notes)
    view = _summary(model, result, deployed)
    view.have_rows = _have_rows(model, view.have, deployed)
    for tactic, entry in result["by_tactic"].items():
        if tactic in model.refs:
            _add_tactic(model, view, tactic, entry)
    view.gaps = _gap_rows(model, result["gaps"])
    view.recommendations = _recommendation_rows(model, picks)
    return view


def _summary(model: SiteModel, result: dict, deployed: coverage.Deployed) -> CoverageView:
    """The totals and every technique's matrix cell."""
    covered = set(result["covered"])
    levels = result.get("level", {})
    cells = {t: coverage_cell(levels.get(t, 1.0) if t in covered else None)
             for t in model.ids_by_type.get(TECHNIQUE, [])}
    subs_covered = {t: (sum(1 for s in subs if s.id in covered), len(subs))
                    for t, subs in model.subtechniques.items() if subs}
    total = len(result["covered"]) + len(result["uncovered"])
    return CoverageView(
        have=list(result.get("have", [])), total=total, covered_count=len(result["covered"]),
        percent=coverage.percent(len(result["covered"]) / total) if total else "0%", cells=cells,
        has_strength=bool(deployed.strength), has_notes=bool(deployed.notes),
        subs_covered=subs_covered, strength=deployed.strength,
    )


def _have_rows(model: SiteModel, have: list, deployed: coverage.Deployed) -> list[dict]:
    return [{"ref": model.refs[mid], "techniques": len(model.techniques_mitigated.get(mid, [])),
             "strength": _short_number(deployed.strength[mid]) if mid in deployed.strength else "1",
             "note": deployed.notes.get(mid, "")}
            for mid in have]


def _add_tactic(model: SiteModel, view: CoverageView, tactic: str, entry: dict) -> None:
    """One tactic's row of the table, and its counts for the matrix heading."""
    ratio = float(entry.get("ratio") or 0.0)
    view.by_tactic[tactic] = (len(entry["covered"]), len(entry["covered"]) + len(entry["uncovered"]))
    view.tactic_rows.append({"ref": model.refs[tactic], "covered": len(entry["covered"]),
                             "uncovered": len(entry["uncovered"]), "percent": coverage.percent(ratio),
                             "width": f"{ratio * 100:.1f}"})


def _gap_rows(model: SiteModel, gaps: list[dict]) -> list[dict]:
    return [{"rank": rank, "ref": model.refs[gap["id"]], "maturity": gap.get("maturity") or "unknown",
             "case_studies": gap.get("case_studies", 0), "weight": _short_number(gap.get("weight", ""))}
            for rank, gap in enumerate(gaps, start=1)]


def _recommendation_rows(model: SiteModel, picks: list[dict]) -> list[dict]:
    return [{"ref": model.refs[pick["id"]], "gain": _short_number(pick["gain"]),
             "newly_covered": [model.refs[t] for t in pick.get("newly_covered", [])]}
            for pick in picks]
