"""ATT&CK Navigator layers (layer format 4.5, domain ``atlas-atlas``) of the graph.

Entries follow MITRE's own ATLAS layers so that ours open the same way in the ATLAS
Navigator and compare entry for entry: a top-level technique has one entry per tactic
(``tactic`` is the tactic's shortname, e.g. ``ai-model-access``) with
``showSubtechniques``; a sub-technique has one entry without ``tactic`` (the Navigator
shows it under each of its parent's tactics).

Scores:

* ``case-studies`` — MITRE's "ATLAS Case Study Frequency": the number of case-study
  procedure steps that use the technique; a top-level technique's entry for a tactic
  counts only the steps made under that tactic, a sub-technique's entry counts all of
  its steps. A step made under a tactic the technique does not list still counts: it
  gets an entry of its own (MITRE's generator would fail on it instead).
* ``mitigations`` — the number of mitigations stated for the technique.
* ``coverage`` — 1 when the deployed mitigations cover the technique, else 0, as
  decided by `atlaskb.coverage.compute`.
* ``evidence`` — the best evidence status (`atlaskb.linkstatus`) among the technique's
  links from the deployed mitigations (all mitigations when none are given): the
  comment starts with the status and lists each link's, the entry is coloured by status
  (legend included), and the score ranks the statuses (supported 6 … contradicted 1; 0
  when no such link).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from atlaskb import __version__, queries
from atlaskb.export.stix import tactic_shortname
from atlaskb.kb import KnowledgeBase
from atlaskb.model import MITIGATES, TECHNIQUE, USES, id_sort_key

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "4.9.1"  # the first Navigator release that reads layer format 4.5
DOMAIN = "atlas-atlas"
SCORES = ("case-studies", "mitigations", "coverage", "evidence")

_NAMES = {
    "case-studies": ("ATLAS Case Study Frequency", "Heatmap of technique occurrences in {n} ATLAS case studies"),
    "mitigations": ("ATLAS Mitigation Count", "Number of ATLAS mitigations stated for each technique"),
    "coverage": ("ATLAS Mitigation Coverage", "Techniques covered (1) or not (0) by the deployed mitigations: {have}"),
    "evidence": ("ATLAS Mitigation Evidence",
                 "Best evidence status (atlaskb defend run) of each technique's links from: {have}"),
}


def layer(kb: KnowledgeBase, score: str = "case-studies", have: list[str] | None = None,
          strength: dict[str, float] | None = None, evidence=None) -> dict[str, Any]:
    """A Navigator layer as a plain dict. `have` (mitigation IDs or names) and `strength`
    (per mitigation, 0..1) are used by `coverage`; `evidence` (an
    `atlaskb.linkstatus.LinkStatuses`, required) and `have` (optional) by `evidence`."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; expected one of {', '.join(SCORES)}")
    if score == "evidence":
        if evidence is None:
            raise ValueError("the evidence score needs evidence")
        scorer: _Scorer = _EvidenceStatus(kb, have or [], evidence)
    else:
        scorer = {"case-studies": _CaseStudies, "mitigations": _Mitigations, "coverage": _Coverage}[score](
            kb, have or [], strength)
    have = getattr(scorer, "have", have)
    techniques = []
    for t in kb.nodes_of_type(TECHNIQUE):
        for tactic in _entry_tactics(kb, t, scorer):
            entry: dict[str, Any] = {"techniqueID": t}
            if tactic is not None:
                entry["tactic"] = tactic_shortname(kb, tactic)
                entry["showSubtechniques"] = True
            entry["score"], entry["comment"] = scorer.score(t, tactic)
            colour = scorer.colour(t)
            if colour:
                entry["color"] = colour
            techniques.append(entry)
    name, description = _NAMES[score]
    case_studies = len(kb.nodes_of_type("case-study"))
    top = max([e["score"] for e in techniques], default=0)
    return {
        "name": name,
        "versions": {"layer": LAYER_VERSION, "navigator": NAVIGATOR_VERSION},
        "domain": DOMAIN,
        "description": description.format(n=case_studies, have=", ".join(have or []) or scorer.nobody),
        "metadata": _metadata(kb),
        "techniques": techniques,
        "gradient": {"colors": ["#FFFFFF", "#F44336"] if score == "case-studies" else ["#FFFFFF", "#4CAF50"],
                     "minValue": 0,
                     "maxValue": 1 if score == "coverage" else max(top, 1)},
        "legendItems": scorer.legend(),
        "hideDisabled": False,
    }


def _metadata(kb: KnowledgeBase) -> list[dict[str, str]]:
    meta = [{"name": "generated_by", "value": f"atlaskb {__version__}"}]
    versions = sorted({str(s.get("version")) for s in kb.sources if s.get("version")})
    if versions:
        meta.insert(0, {"name": "atlas_data_version", "value": ", ".join(versions)})
    return meta


def _entry_tactics(kb: KnowledgeBase, technique: str, scorer) -> list[str | None]:
    """[None] for a sub-technique (one entry, no tactic); else its tactics in matrix
    order plus any tactic a case-study step used it under; [None] when it has none."""
    if queries.parent(kb, technique):
        return [None]
    tactics = queries.tactics_of(kb, technique)
    extra = [t for t in scorer.step_tactics(technique) if t not in tactics]
    order = {t: i for i, t in enumerate(queries.tactics(kb))}
    found: list[str | None] = sorted(tactics + extra, key=lambda t: order.get(t, len(order)))
    if not found or scorer.has_untacticked_steps(technique):
        found.append(None)  # steps that name no tactic still count, on an entry of their own
    return found


class _Scorer:
    def __init__(self, kb: KnowledgeBase, have: list[str], strength: dict[str, float] | None = None):
        self.kb = kb
        self.have = have

    def step_tactics(self, technique: str) -> list[str]:
        return []

    def has_untacticked_steps(self, technique: str) -> bool:
        return False

    nobody = "none"  # the description's word for an empty `have`

    def score(self, technique: str, tactic: str | None) -> tuple[int | float, str]:
        """(score, comment) of one entry; `tactic` is None for a sub-technique's entry."""
        raise NotImplementedError

    def colour(self, technique: str) -> str | None:
        """An entry's own colour (overrides the gradient), or None."""
        return None

    def legend(self) -> list[dict[str, str]]:
        return []


class _CaseStudies(_Scorer):
    """Counts procedure steps from the `uses` edges' ``steps`` lists."""

    def __init__(self, kb: KnowledgeBase, have: list[str], strength: dict[str, float] | None = None):
        super().__init__(kb, have)
        self.steps: dict[str, Counter] = {}
        self.studies: dict[tuple[str, str | None], set[str]] = {}
        for cs, t, k, d in kb.graph.edges(keys=True, data=True):
            if k != USES:
                continue
            for step in d.get("steps") or []:
                self.steps.setdefault(t, Counter())[step.get("tactic")] += 1
                self.studies.setdefault((t, step.get("tactic")), set()).add(cs)
                self.studies.setdefault((t, None), set()).add(cs)

    def step_tactics(self, technique: str) -> list[str]:
        return [t for t in self.steps.get(technique, {}) if t is not None]

    def has_untacticked_steps(self, technique: str) -> bool:
        return bool(self.steps.get(technique, {}).get(None))

    def score(self, technique: str, tactic: str | None) -> tuple[int, str]:
        counts = self.steps.get(technique, Counter())
        is_sub = queries.parent(self.kb, technique) is not None
        value = sum(counts.values()) if tactic is None and is_sub else counts.get(tactic, 0)
        if not value:
            return 0, "used in no case-study procedure step" + ("" if tactic is None else " under this tactic")
        studies = sorted(self.studies.get((technique, tactic), ()))
        return value, f"{value} procedure step(s) in {len(studies)} case stud{'y' if len(studies) == 1 else 'ies'}: " + ", ".join(studies)


class _Mitigations(_Scorer):
    def score(self, technique: str, tactic: str | None) -> tuple[int, str]:
        found = sorted(u for u, _, k in self.kb.graph.in_edges(technique, keys=True) if k == MITIGATES)
        return len(found), ("mitigated by " + ", ".join(found)) if found else "no mitigation stated"


class _Coverage(_Scorer):
    """Score = the technique's coverage level from `atlaskb.coverage.compute`: 1 when a
    deployed mitigation addresses it (less with partial strengths), else 0."""

    def __init__(self, kb: KnowledgeBase, have: list[str], strength: dict[str, float] | None = None):
        from atlaskb.coverage import compute  # the coverage rules live in one place

        result = compute(kb, have, strength)
        super().__init__(kb, list(result["have"]))
        self.level = {t: result.get("level", {}).get(t, 1.0) for t in result["covered"]}

    def score(self, technique: str, tactic: str | None) -> tuple[int | float, str]:
        if technique not in self.level:
            return 0, "not covered"
        level = self.level[technique]
        have = set(self.have)
        direct = sorted(u for u, _, k in self.kb.graph.in_edges(technique, keys=True) if k == MITIGATES and u in have)
        value: int | float = 1 if level >= 1.0 else round(level, 4)
        return value, "covered" + (" by " + ", ".join(direct) if direct else "")


class _EvidenceStatus(_Scorer):
    """The best evidence status of a technique's links from the deployed mitigations
    (all mitigations when none are given), by `atlaskb.linkstatus`."""

    nobody = "all mitigations"

    def __init__(self, kb: KnowledgeBase, have: list[str], evidence):
        from atlaskb import linkstatus
        from atlaskb.coverage import compute

        super().__init__(kb, list(compute(kb, have)["have"]) if have else [])
        self.status = linkstatus
        self.evidence = evidence

    def _links(self, technique: str) -> list[tuple[str, Any]]:
        have = set(self.have)
        found = sorted((u for u, _, k in self.kb.graph.in_edges(technique, keys=True)
                        if k == MITIGATES and (not have or u in have)), key=id_sort_key)
        return [(m, self.evidence.status(m, technique)) for m in found]

    def _best(self, technique: str) -> str | None:
        links = self._links(technique)
        return self.status.best(st.status for _, st in links) if links else None

    def score(self, technique: str, tactic: str | None) -> tuple[int, str]:
        links = self._links(technique)
        if not links:
            return 0, "no mitigation linked" + (" among the deployed" if self.have else "")
        best = self.status.best(st.status for _, st in links)
        order = self.status.BEST_FIRST
        parts = [f"{m} {st.status}" + (f" ({st.reason})" if st.status == self.status.NOT_MEASURED_HERE else "")
                 for m, st in links]
        return len(order) - order.index(best), f"{best}: " + "; ".join(parts)

    def colour(self, technique: str) -> str | None:
        best = self._best(technique)
        return self.status.STATUS_COLOURS[best] if best else None

    def legend(self) -> list[dict[str, str]]:
        return [{"label": s, "color": self.status.STATUS_COLOURS[s]} for s in self.status.STATUSES]
