"""Evidence statuses on the site, from `atlaskb.linkstatus` (the one rule): the status of
every `mitigates` link (`SiteModel.link_status`, which the matrix colours by), each
mitigation page's summary of its links by status, and the coverage page's claimed and
supported coverage side by side.

Nothing here decides a status or what counts as covered: `linkstatus.link_status` and
`coverage.compute` do, as for the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from atlaskb import coverage, linkstatus
from atlaskb.site import scale
from atlaskb.site.context import SiteModel
from atlaskb.site.coverage_page import selection


def css_class(status: str) -> str:
    """The class that colours a status (the matrix's evidence colours, `atlaskb.site.scale`)."""
    return "heat-" + scale.evidence_class(status)


def mitigation_summary(model: SiteModel, mitigation: str) -> list[dict]:
    """The mitigation's links by status, in `linkstatus.STATUSES` order, statuses it has
    no link in left out: [{"status", "cls", "techniques": [ObjectLink]}]."""
    out = []
    links = model.techniques_mitigated.get(mitigation, [])
    for status in linkstatus.STATUSES:
        refs = [link.technique for link in links
                if (st := model.link_status.get((mitigation, link.technique.id))) and st.status == status]
        if refs:
            out.append({"status": status, "cls": css_class(status), "techniques": refs})
    return out


@dataclass
class ClaimedVsSupported:
    """What the coverage page shows beside the plain coverage figures."""

    total: int
    claimed: int
    supported: int
    claimed_percent: str
    supported_percent: str
    supported_by_tactic: dict = field(default_factory=dict)  # tactic -> techniques covered by supported links
    by_status: list = field(default_factory=list)  # {status, cls, count}
    techniques: list = field(default_factory=list)  # {ref, status, cls, counted, links: [(ObjectLink, status, cls, reason)]}
    claims_alone: set = field(default_factory=set)  # recommended mitigations that nothing measured supports


def claimed_vs_supported(model: SiteModel, evidence, have=None, profile=None,
                         recommendations: int = 5) -> ClaimedVsSupported:
    """Coverage of the deployed set taking ATLAS's word (claimed) and counting only
    `supported` links, per tactic and in total, with the claimed techniques by status,
    and which of the first `recommendations` picks rest on claims alone."""
    kb = model.kb
    items, strength, _ = selection(have, profile)
    claimed = coverage.compute(kb, items, strength, evidence=evidence)
    supported = coverage.compute(kb, items, strength, evidence=evidence, require=linkstatus.SUPPORTED)
    total = claimed["totals"]["techniques"]

    def pct(n: int) -> str:
        return coverage.percent(n / total) if total else "0%"

    view = ClaimedVsSupported(total=total, claimed=len(claimed["covered"]), supported=len(supported["covered"]),
                              claimed_percent=pct(len(claimed["covered"])),
                              supported_percent=pct(len(supported["covered"])))
    view.supported_by_tactic = {tactic: len(entry["covered"]) for tactic, entry in supported["by_tactic"].items()}
    view.claims_alone = {p["id"] for p in coverage.recommend(kb, items, top=recommendations, strength=strength,
                                                         evidence=evidence) if p["claims_alone"]}
    view.by_status = [{"status": s, "cls": css_class(s), "count": claimed["totals"][s]} for s in linkstatus.STATUSES]
    for t, entry in supported["claimed"].items():
        if t not in model.refs:
            continue
        view.techniques.append({
            "ref": model.refs[t], "status": entry["status"], "cls": css_class(entry["status"]),
            "counted": entry["counted"],
            "links": [(model.refs[m["id"]], m["status"], css_class(m["status"]), m["reason"])
                      for m in entry["mitigations"] if m["id"] in model.refs],
        })
    return view
