"""ATT&CK Navigator layers of the graph, shaped like MITRE's own ATLAS layers.

By default a layer declares what MITRE's published ATLAS layers declare (layer format
4.3, Navigator 4.6.4, domain ``atlas-atlas``: the ATLAS Navigator MITRE runs), so that it
opens there without a version warning; ``navigator="5"`` declares layer format 4.5 for
ATT&CK Navigator 5. The fields used are the same in both formats.

Entries follow MITRE's layers so that ours compare entry for entry: a top-level
technique has one entry per tactic (``tactic`` is the tactic's shortname, e.g.
``ai-model-access``) with ``showSubtechniques``; a sub-technique has one entry without
``tactic`` (the Navigator shows it under each of its parent's tactics). Every layer has
a legend and names the ATLAS data version in its metadata when the sources state it.

Scores (`SCORES`; each is a `_Scorer` subclass in `SCORERS`, which says how it scores,
its name, gradient and legend — a new score is one more class there):

* ``case-studies`` — MITRE's "ATLAS Case Study Frequency": the number of case-study
  procedure steps that use the technique; a top-level technique's entry for a tactic
  counts only the steps made under that tactic, a sub-technique's entry counts all of
  its steps. A step made under a tactic the technique does not list still counts: it
  gets an entry of its own (MITRE's generator would fail on it instead). The gradient
  runs, as in MITRE's layer, from 0 to the number of case studies.
* ``mitigations`` — the number of mitigations stated for the technique.
* ``coverage`` — 1 when the deployed mitigations cover the technique, else 0, as
  decided by `atlaskb.coverage.compute`.
* ``evidence`` — the best evidence status (`atlaskb.linkstatus`) among the technique's
  links from the deployed mitigations (all mitigations when none are given): the
  comment starts with the status and lists each link's, the entry is coloured by status
  (legend included), and the score ranks the statuses (supported 6 … contradicted 1; 0
  when no such link).

`case_study_layer` is MITRE's per-case-study layer: the techniques one case study uses,
coloured, with their procedure steps in the comment.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from atlaskb import __version__, queries
from atlaskb.export.stix import data_version, tactic_shortname
from atlaskb.kb import KnowledgeBase
from atlaskb.model import CASE_STUDY, MITIGATES, TECHNIQUE, USES, id_sort_key

# The `versions` a layer declares, per Navigator it is made for. "atlas" is what MITRE's
# own ATLAS layers declare (mitre-atlas/atlas-navigator-data, dist/*-navigator-layers).
NAVIGATORS = {
    "atlas": {"layer": "4.3", "navigator": "4.6.4"},
    "5": {"layer": "4.5", "navigator": "5.1.0"},
}
DEFAULT_NAVIGATOR = "atlas"
DOMAIN = "atlas-atlas"
USED_COLOUR = "#C8E6C9"  # MITRE's colour for "used in case study"


def layer(kb: KnowledgeBase, score: str = "case-studies", have: list[str] | None = None,
          strength: dict[str, float] | None = None, evidence=None,
          navigator: str = DEFAULT_NAVIGATOR) -> dict[str, Any]:
    """A Navigator layer as a plain dict. `have` (mitigation IDs or names) and `strength`
    (per mitigation, 0..1) are used by `coverage`; `evidence` (an
    `atlaskb.linkstatus.LinkStatuses`, required) and `have` (optional) by `evidence`.
    `navigator` ("atlas" or "5") picks the versions declared."""
    if score not in SCORERS:
        raise ValueError(f"unknown score {score!r}; expected one of {', '.join(SCORES)}")
    scorer = SCORERS[score](kb, have or [], strength=strength, evidence=evidence)
    techniques = []
    order = {t: i for i, t in enumerate(queries.tactics(kb))}
    for t in kb.nodes_of_type(TECHNIQUE):
        for tactic in _entry_tactics(kb, t, scorer, order):
            entry: dict[str, Any] = {"techniqueID": t}
            if tactic is not None:
                entry["tactic"] = tactic_shortname(kb, tactic)
                entry["showSubtechniques"] = True
            entry["score"], entry["comment"] = scorer.score(t, tactic)
            colour = scorer.colour(t)
            if colour:
                entry["color"] = colour
            techniques.append(entry)
    top = max([e["score"] for e in techniques], default=0)
    high = scorer.max_value(top)
    return {
        "name": scorer.title,
        "versions": _versions(navigator),
        "domain": DOMAIN,
        "description": scorer.description.format(n=len(kb.nodes_of_type(CASE_STUDY)),
                                                 have=", ".join(scorer.have) or scorer.nobody),
        "metadata": _metadata(kb),
        "techniques": techniques,
        "gradient": {"colors": list(scorer.colours), "minValue": 0, "maxValue": high},
        "legendItems": scorer.legend(high),
        "hideDisabled": False,
    }


def case_study_layer(kb: KnowledgeBase, case_study: str, navigator: str = DEFAULT_NAVIGATOR) -> dict[str, Any]:
    """MITRE's layer for one case study: each technique it uses, coloured, with the
    procedure steps that use it (and their tactic) in the comment. A sub-technique's
    parent gets an uncoloured entry under the step's tactic with its sub-techniques shown,
    so the Navigator opens it where the step happened."""
    if kb.graph.nodes.get(case_study, {}).get("type") != CASE_STUDY:
        raise ValueError(f"{case_study} is not a case study")
    steps: dict[tuple[str, str | None], list[int]] = {}
    for _, t, k, d in kb.graph.out_edges(case_study, keys=True, data=True):
        if k != USES:
            continue
        for step in d.get("steps") or [{"step": None, "tactic": None}]:
            steps.setdefault((t, step.get("tactic")), []).append(step.get("step"))
    order = {t: i for i, t in enumerate(queries.tactics(kb))}
    first = lambda key: min((n for n in steps[key] if n is not None), default=10**6)  # noqa: E731
    techniques: list[dict[str, Any]] = []
    opened: set[tuple[str, str | None]] = set()
    for t, tactic in sorted(steps, key=lambda key: (first(key), order.get(key[1], len(order)), id_sort_key(key[0]))):
        numbers = sorted(n for n in steps[(t, tactic)] if n is not None)
        where = f" under {tactic} {kb.graph.nodes[tactic].get('name', '')}" if tactic in kb.graph else ""
        comment = (f"step{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}" if numbers
                   else "used (no procedure step)") + where
        parent = queries.parent(kb, t)
        entry: dict[str, Any] = {"techniqueID": t}
        if parent is None:
            if tactic in kb.graph:
                entry["tactic"] = tactic_shortname(kb, tactic)
            entry["showSubtechniques"] = False
        techniques.append({**entry, "color": USED_COLOUR, "comment": comment})
        if parent is not None and tactic in kb.graph and (parent, tactic) not in opened:
            opened.add((parent, tactic))
            techniques.append({"techniqueID": parent, "tactic": tactic_shortname(kb, tactic), "showSubtechniques": True})
    node = kb.graph.nodes[case_study]
    return {
        "name": node.get("name") or case_study,
        "versions": _versions(navigator),
        "domain": DOMAIN,
        "description": node.get("description") or "",
        "metadata": [{"name": "url", "value": f"https://atlas.mitre.org/studies/{case_study}"}] + _metadata(kb),
        "techniques": techniques,
        "legendItems": [{"label": "Used in case study", "color": USED_COLOUR}],
        "hideDisabled": False,
    }


# What the folder of per-case-study layers is called in its manifest (`fsutil`).
LAYERS_KIND = "navigator-layers"


def write_case_study_layers(kb: KnowledgeBase, out: str, navigator: str = DEFAULT_NAVIGATOR) -> int:
    """One layer per case study, `<ID>.json`, into the folder `out` (replaced atomically,
    and only when it is new, empty or such a folder atlaskb wrote). Returns the count."""
    import json
    import os

    from atlaskb.fsutil import output_dir

    studies = kb.nodes_of_type(CASE_STUDY)
    with output_dir(out, LAYERS_KIND, "atlaskb export navigator") as tmp:
        for cs in studies:
            text = json.dumps(case_study_layer(kb, cs, navigator), indent=2, ensure_ascii=False) + "\n"
            with open(os.path.join(tmp, f"{cs}.json"), "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
    return len(studies)


def _versions(navigator: str) -> dict[str, str]:
    if navigator not in NAVIGATORS:
        raise ValueError(f"unknown Navigator {navigator!r}; expected one of {', '.join(NAVIGATORS)}")
    return dict(NAVIGATORS[navigator])


def coverage_description_format(kb: KnowledgeBase) -> str:
    """The coverage layer's description with ``{have}`` where the deployed mitigations go
    (comma-separated, or the scorer's `nobody` word): the site's matrix page fills it in for a selection made
    in the browser, so its layer download says what `layer` says."""
    return SCORERS["coverage"].description.replace("{n}", str(len(kb.nodes_of_type(CASE_STUDY))))


def _metadata(kb: KnowledgeBase) -> list[dict[str, str]]:
    meta = [{"name": "generated_by", "value": f"atlaskb {__version__}"}]
    version = data_version(kb)
    if version:
        meta.insert(0, {"name": "atlas_data_version", "value": version})
    return meta


def _entry_tactics(kb: KnowledgeBase, technique: str, scorer, order: dict[str, int]) -> list[str | None]:
    """[None] for a sub-technique (one entry, no tactic); else its tactics in matrix
    order (`order`: tactic -> position, computed once per layer, since listing the tactics
    walks every node) plus any tactic a case-study step used it under; [None] when it has
    none."""
    if queries.parent(kb, technique):
        return [None]
    tactics = queries.tactics_of(kb, technique)
    extra = [t for t in scorer.step_tactics(technique) if t not in tactics]
    found: list[str | None] = sorted(tactics + extra, key=lambda t: order.get(t, len(order)))
    if not found or scorer.has_untacticked_steps(technique):
        found.append(None)  # steps that name no tactic still count, on an entry of their own
    return found


class _Scorer:
    """One way of scoring techniques, and how its layer presents the scores."""

    title = ""  # the layer's name
    description = ""  # formatted with n (case studies) and have (deployed mitigations)
    colours: tuple[str, ...] = ("#FFFFFF", "#4CAF50")  # gradient, low to high
    low_label = "0"

    def __init__(self, kb: KnowledgeBase, have: list[str], strength: dict[str, float] | None = None,
                 evidence=None):
        self.kb = kb
        self.have = have

    def max_value(self, top: int | float) -> int | float:
        """The gradient's maximum, given the highest score in the layer."""
        return max(top, 1)

    def high_label(self, high: int | float) -> str:
        return str(high)

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

    def legend(self, high: int | float) -> list[dict[str, str]]:
        """What the gradient's two ends mean (a layer without a legend is a puzzle)."""
        return [{"label": self.low_label, "color": self.colours[0]},
                {"label": self.high_label(high), "color": self.colours[-1]}]


class _CaseStudies(_Scorer):
    """Counts procedure steps from the `uses` edges' ``steps`` lists."""

    title = "ATLAS Case Study Frequency"
    description = "Heatmap of technique occurrences in {n} ATLAS case studies"
    colours = ("#FFFFFF", "#F44336")
    low_label = "used in no case-study procedure step"

    def __init__(self, kb: KnowledgeBase, have: list[str], strength: dict[str, float] | None = None,
                 evidence=None):
        super().__init__(kb, have)
        self.case_studies = len(kb.nodes_of_type(CASE_STUDY))
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

    def max_value(self, top: int | float) -> int | float:
        """As in MITRE's layer: the number of case studies (a technique used once in every
        case study is full red), or the highest score if that is more."""
        return max(self.case_studies, top, 1)

    def high_label(self, high: int | float) -> str:
        return f"used in {high} procedure steps"


class _Mitigations(_Scorer):
    title = "ATLAS Mitigation Count"
    description = "Number of ATLAS mitigations stated for each technique"
    low_label = "no mitigation stated"

    def high_label(self, high: int | float) -> str:
        return f"{high} mitigation{'' if high == 1 else 's'} stated"

    def score(self, technique: str, tactic: str | None) -> tuple[int, str]:
        found = sorted(u for u, _, k in self.kb.graph.in_edges(technique, keys=True) if k == MITIGATES)
        return len(found), ("mitigated by " + ", ".join(found)) if found else "no mitigation stated"


class _Coverage(_Scorer):
    """Score = the technique's coverage level from `atlaskb.coverage.compute`: 1 when a
    deployed mitigation addresses it (less with partial strengths), else 0."""

    title = "ATLAS Mitigation Coverage"
    description = "Techniques covered (1) or not (0) by the deployed mitigations: {have}"
    low_label = "not covered"

    def __init__(self, kb: KnowledgeBase, have: list[str], strength: dict[str, float] | None = None,
                 evidence=None):
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

    def max_value(self, top: int | float) -> int | float:
        return 1

    def high_label(self, high: int | float) -> str:
        return "covered by a deployed mitigation (fractions: partial strength)"


class _EvidenceStatus(_Scorer):
    """The best evidence status of a technique's links from the deployed mitigations
    (all mitigations when none are given), by `atlaskb.linkstatus`."""

    title = "ATLAS Mitigation Evidence"
    description = "Best evidence status (atlaskb defend run) of each technique's links from: {have}"
    nobody = "all mitigations"

    def __init__(self, kb: KnowledgeBase, have: list[str], strength: dict[str, float] | None = None,
                 evidence=None):
        from atlaskb import linkstatus
        from atlaskb.coverage import compute

        if evidence is None:
            raise ValueError("the evidence score needs evidence")

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

    def legend(self, high: int | float) -> list[dict[str, str]]:
        return [{"label": s, "color": self.status.STATUS_COLOURS[s]} for s in self.status.STATUSES]


# Every score the layer knows, by the name `--score` takes.
SCORERS: dict[str, type[_Scorer]] = {
    "case-studies": _CaseStudies,
    "mitigations": _Mitigations,
    "coverage": _Coverage,
    "evidence": _EvidenceStatus,
}
SCORES = tuple(SCORERS)
