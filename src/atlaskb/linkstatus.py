"""What the measurements say about each `mitigates` link: its evidence status.

ATLAS *claims* that a mitigation mitigates a technique; `atlaskb defend run` measures
some of those claims (`results.json`, read by `atlaskb.evidence`). Coverage,
recommendations, `show`, `mitigations`, the site and the Navigator export all need the
same one-word answer per link, so the rule that turns result rows into that answer is
`link_status`, and nothing else decides it.

Statuses
--------
* ``supported``: the headline row's paired interval (defended − baseline) shows that the
  mitigation helps (verdict ``better``), and no row of the link shows it hurting;
* ``not supported``: the headline row shows no clear difference, and no row points
  either way;
* ``contradicted``: the headline row shows the mitigation makes things worse, and no row
  shows it helping;
* ``measured only in part``: rows point different ways (the headline says one thing and
  another row the opposite, or several headline rows disagree);
* ``not measured here``: no rows, and the mitigation's module declares that no experiment
  here can measure this link (its reason is kept);
* ``unmeasured``: no rows and no such declaration: no evidence was given for the link.

The *headline* row of a link is the row flagged ``"headline": true``; a results file that
flags none for a link has its first row for that link as the headline. Evidence from
several folders may give several headline rows for one link; they must agree, or the
link is ``measured only in part``. Other rows (a side measure such as clean accuracy, a
second attack) can only move a link to ``measured only in part``, and only by pointing
the other way; a row that shows no clear difference beside a clear headline leaves it.

A technique covered by several mitigations takes the *best* status of its links, in the
order of `BEST_FIRST`: measured help first, then claims not yet tested, then claims that
measurements did not bear out.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from atlaskb.errors import SourceError
from atlaskb.model import MITIGATES, MITIGATION, id_sort_key

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
CONTRADICTED = "contradicted"
IN_PART = "measured only in part"
NOT_MEASURED_HERE = "not measured here"
UNMEASURED = "unmeasured"

# Display order (tables, totals, legends).
STATUSES = (SUPPORTED, IN_PART, NOT_SUPPORTED, CONTRADICTED, NOT_MEASURED_HERE, UNMEASURED)
# Which of several links speaks best for a technique being defended.
BEST_FIRST = (SUPPORTED, IN_PART, NOT_MEASURED_HERE, UNMEASURED, NOT_SUPPORTED, CONTRADICTED)
# Statuses resting on ATLAS's word alone: nothing measured speaks for the link.
CLAIM_ONLY = (NOT_MEASURED_HERE, UNMEASURED, NOT_SUPPORTED, CONTRADICTED)

# One colour per status for the site and the Navigator layer (Okabe-Ito, readable with
# colour-blindness; greys for links that nothing measured).
STATUS_COLOURS = {SUPPORTED: "#009E73", IN_PART: "#F0E442", NOT_SUPPORTED: "#E69F00", CONTRADICTED: "#D55E00",
                  NOT_MEASURED_HERE: "#BBBBBB", UNMEASURED: "#E5E5E5"}

BETTER, WORSE, NO_CLEAR = "better", "worse", "no clear difference"
VERDICTS = (BETTER, WORSE, NO_CLEAR)


@dataclass(frozen=True)
class LinkStatus:
    """One link's evidence status. `effect` is the headline row's mean paired difference
    turned so that positive means the mitigation helps (rate metrics only, else None);
    `reason` says why, in a phrase (the module's reason for ``not measured here``)."""

    status: str
    reason: str = ""
    effect: float | None = None
    rows: int = 0
    headline: dict | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict:
        out = {"status": self.status, "reason": self.reason, "rows": self.rows, "effect": self.effect}
        if self.headline is not None:
            h = self.headline
            out["headline"] = {k: h.get(k) for k in ("attack", "metric", "higher_is_better", "baseline",
                                                      "defended", "difference", "verdict")}
        return out


def link_status(rows: list[dict], not_measured: str | None = None) -> LinkStatus:
    """The evidence status of one link from its result rows (each with a ``verdict``),
    or, with no rows, from the mitigation module's reason for not measuring it.
    See the module docstring for the rule."""
    if not rows:
        if not_measured is not None:
            return LinkStatus(NOT_MEASURED_HERE, not_measured or "no reason given")
        return LinkStatus(UNMEASURED, "no evidence given for this link")
    for r in rows:
        if r.get("verdict") not in VERDICTS:
            raise ValueError(f"result row without a verdict: {r.get('attack')!r}")
    headlines = [r for r in rows if r.get("headline") is True] or rows[:1]
    said = {r["verdict"] for r in headlines}
    seen = {r["verdict"] for r in rows}
    head = headlines[0]
    effect = _effect(head)
    where = f"{head.get('attack')}: {head.get('metric')}"
    if len(said) > 1:
        return LinkStatus(IN_PART, "headline rows disagree", effect, len(rows), head)
    (verdict,) = said
    if verdict == BETTER:
        if WORSE in seen:
            return LinkStatus(IN_PART, f"{where} better, but another row worse", effect, len(rows), head)
        return LinkStatus(SUPPORTED, f"{where} better", effect, len(rows), head)
    if verdict == WORSE:
        if BETTER in seen:
            return LinkStatus(IN_PART, f"{where} worse, but another row better", effect, len(rows), head)
        return LinkStatus(CONTRADICTED, f"{where} worse", effect, len(rows), head)
    if seen - {NO_CLEAR}:
        return LinkStatus(IN_PART, f"{where} no clear difference, but another row shows one", effect, len(rows), head)
    return LinkStatus(NOT_SUPPORTED, f"{where} no clear difference", effect, len(rows), head)


def _effect(row: dict) -> float | None:
    """The paired mean difference, positive when the mitigation helps; None for metrics
    not on a 0..1 scale (a count of queries cannot be weighed against a rate)."""
    from atlaskb.defenses.rows import RATES  # the metrics on a 0..1 scale, where the writer defines them

    diff = row.get("difference")
    mean = diff.get("mean") if isinstance(diff, dict) else None
    if row.get("metric") not in RATES or not _finite(mean) or not isinstance(row.get("higher_is_better"), bool):
        return None
    return round(float(mean) if row["higher_is_better"] else -float(mean), 6)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def best(statuses) -> str:
    """The status that speaks best for a technique among its links' statuses."""
    found = set(statuses)
    for s in BEST_FIRST:
        if s in found:
            return s
    return UNMEASURED


# -- statuses of every link, from the evidence read ------------------------------------------

@dataclass
class LinkStatuses:
    """Result rows by link (from `atlaskb.evidence`, the one reader of results files),
    plus the links the mitigation modules declare they cannot measure. Built by `read`
    or `of_evidence`; `status` answers for any link, measured or not."""

    rows: dict = field(default_factory=dict)  # (mitigation, technique) -> [row, ...]
    not_measured: dict = field(default_factory=dict)  # (mitigation, technique) -> reason
    findings: list = field(default_factory=list)  # rows for links the graph lacks
    unjudged: set = field(default_factory=set)  # links whose rows carry no verdict (of_evidence strict=False)
    quick: bool = False  # some evidence folder was measured with --quick: indicative only

    def status(self, mitigation: str, technique: str) -> LinkStatus:
        key = (mitigation, technique)
        return link_status(self.rows.get(key, []), self.not_measured.get(key))

    def statuses(self, kb) -> dict:
        """(mitigation, technique) -> LinkStatus for every mitigates link of `kb` (but
        the `unjudged` ones, which have none)."""
        return {(m, t): self.status(m, t) for m in kb.nodes_of_type(MITIGATION)
                for _, t, k in kb.graph.out_edges(m, keys=True)
                if k == MITIGATES and (m, t) not in self.unjudged}


def read(kb, directories) -> LinkStatuses:
    """The statuses from the evidence folders' results.json (a folder named twice is read
    once). Any problem (no such folder, a file that is not a results file, rows without a
    verdict) raises SourceError naming the file."""
    from atlaskb.evidence import load_evidence

    unique: dict[str, str] = {}
    for directory in directories:
        if not os.path.isdir(directory):
            from atlaskb.fsutil import shown

            raise SourceError(f"{shown(directory)}: no such evidence folder; give the --out folder of "
                              "`atlaskb defend run`, the one with results.json")
        unique.setdefault(os.path.realpath(directory), directory)
    return of_evidence(kb, load_evidence(list(unique.values())))


def of_evidence(kb, evidence, strict: bool = True) -> LinkStatuses:
    """The statuses from an `atlaskb.evidence.Evidence` mapping already read. Rows must
    carry a ``verdict`` (paired, from `atlaskb defend run`): a row without one raises
    SourceError, or with `strict` False leaves its link out (in `unjudged`: it has rows,
    and no status can be read from them). Rows for a link the graph lacks become warning
    findings, not statuses. Links that no experiment here can measure come from the
    results files' ``not_measured`` lists and from the registered defenses (`atlaskb
    defend list`)."""
    from atlaskb.evidence import missing_links

    out = LinkStatuses(findings=missing_links(kb, evidence), quick=bool(getattr(evidence, "quick", False)))
    paths = getattr(evidence, "paths", {})
    for (m, t), rows in sorted(evidence.items()):
        if not kb.graph.has_edge(m, t, key=MITIGATES):
            continue  # reported in `findings`; rows of no link decide no status
        for k, r in enumerate(rows):
            where = f"{paths.get((m, t), 'evidence')}: {m} → {t}, result {k + 1} of the link ({r.get('attack')})"
            if r.get("verdict") not in VERDICTS:
                if "verdict" not in r and not strict:
                    out.unjudged.add((m, t))
                    break
                if "verdict" not in r:
                    raise SourceError(f"{where}: no verdict; this file predates paired verdicts, "
                                      "run `atlaskb defend run` again")
                raise SourceError(f"{where}: verdict must be one of {', '.join(VERDICTS)}, not {r.get('verdict')!r}")
            if "headline" in r and not isinstance(r["headline"], bool):
                raise SourceError(f"{where}: headline must be true or false")
        if (m, t) not in out.unjudged:
            out.rows[(m, t)] = list(rows)
    out.not_measured.update(getattr(evidence, "not_measured", {}))
    _add_declared(kb, out)
    return out


def _add_declared(kb, out: LinkStatuses) -> None:
    """The registered defenses' own declarations (`defend list`'s ``not_measured``)."""
    from atlaskb.defenses import list_mitigations

    for entry in list_mitigations(kb):
        for item in entry.get("not_measured") or []:
            out.not_measured.setdefault((entry["mitigation"], item.get("technique")), str(item.get("reason") or ""))
