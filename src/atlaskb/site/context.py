"""Everything the templates need, computed once from the graph before any page renders.

Pages show every relationship in both directions. Asking the graph per page (queries.py
style) would redo sorting and lookups for each of 10,000 pages; instead one pass over the
edges fills per-object lists, each sorted once in ATLAS ID order, and templates only
iterate. Rendered descriptions and notes are cached here too, so a note shown on both the
mitigation's and the technique's page is rendered once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from atlaskb import queries
from atlaskb.kb import KnowledgeBase
from atlaskb.model import ACHIEVES, ID_RE, MITIGATES, SUBTECHNIQUE_OF, TECHNIQUE, USES, id_sort_key
from atlaskb.site.markdown import Renderer
from atlaskb.site.urls import allocate, mitre_url

# Every page but home/search/coverage lives one folder down; notes and descriptions are
# rendered once with this prefix and reused on every such page.
PAGE_ROOT = "../"
ID_AT_START = re.compile(r"^" + ID_RE.pattern[2:])


class ObjectLink:
    """What a page needs to link to one object: its ID, name, type and the URL of its
    page within the site (`site.links.Linker.link` draws the anchor). One per object,
    shared by every page that mentions it."""

    __slots__ = ("id", "name", "type", "url", "has_page")

    def __init__(self, object_id: str, data: dict, url: str):
        self.id = object_id
        self.name = str(data.get("name") or "")
        self.type = data.get("type")
        self.url = url
        self.has_page = bool(data.get("has_page"))

    @property
    def mitre_url(self) -> str | None:
        return mitre_url(self.id, self.type)


@dataclass
class MitigatesLink:
    """One mitigation→technique edge, shared by both ends' pages."""

    mitigation: ObjectLink
    technique: ObjectLink
    note_html: str
    evidence: list = field(default_factory=list)
    tactics: list = field(default_factory=list)


@dataclass
class Step:
    step: int | None
    technique: ObjectLink
    tactic: ObjectLink | None
    case_study: ObjectLink
    text_html: str = ""


@dataclass
class SiteModel:
    kb: KnowledgeBase
    renderer: Renderer
    urls: dict
    refs: dict
    ids_by_type: dict
    tactic_order: list
    parent: dict = field(default_factory=dict)
    subtechniques: dict = field(default_factory=lambda: defaultdict(list))
    tactics_of: dict = field(default_factory=lambda: defaultdict(list))
    techniques_of: dict = field(default_factory=lambda: defaultdict(list))  # tactic -> achieving techniques
    mitigations_of: dict = field(default_factory=lambda: defaultdict(list))  # technique -> [MitigatesLink]
    techniques_mitigated: dict = field(default_factory=lambda: defaultdict(list))  # mitigation -> [MitigatesLink]
    uses_of: dict = field(default_factory=lambda: defaultdict(list))  # technique -> [Step]
    steps_of: dict = field(default_factory=lambda: defaultdict(list))  # case study -> [Step]
    steps_in_tactic: dict = field(default_factory=lambda: defaultdict(list))  # tactic -> [Step]
    findings_of: dict = field(default_factory=lambda: defaultdict(list))  # object id -> [Finding]
    description_html: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)  # (mitigation, technique) -> result rows
    # (mitigation, technique) -> atlaskb.linkstatus.LinkStatus for every mitigates link,
    # when the site carries evidence (set by build_site; empty otherwise)
    link_status: dict = field(default_factory=dict)

    def ref(self, object_id: str | None) -> ObjectLink | None:
        return self.refs.get(object_id) if object_id else None

    def inherited_tactics(self, technique: str) -> bool:
        """True when a sub-technique's tactics come from its parent (`queries.tactics_inherited`)."""
        return queries.tactics_inherited(self.kb, technique)

    def top_techniques(self, tactic: str) -> list[ObjectLink]:
        """The tactic's top-level techniques (`queries.techniques_of_tactic`): a technique
        whose parent achieves the tactic too is drawn under that parent."""
        return [self.refs[t] for t in queries.techniques_of_tactic(self.kb, tactic)]

    def matrix_columns(self) -> list[dict]:
        """Tactics in kill-chain order, each with its top-level techniques and their
        sub-techniques."""
        return [{"tactic": self.refs[tactic], "techniques": [
                    {"ref": ref, "subs": self.subtechniques.get(ref.id, [])} for ref in self.top_techniques(tactic)]}
                for tactic in self.tactic_order]

    def unplaced_techniques(self) -> list[ObjectLink]:
        """Top-level techniques that achieve no tactic: not in any matrix column."""
        return [self.refs[t] for t in self.ids_by_type.get(TECHNIQUE, [])
                if t not in self.parent and not self.tactics_of.get(t)]


def build_model(kb: KnowledgeBase, evidence=None) -> SiteModel:
    """The site's view of `kb`; `evidence` maps (mitigation, technique) to result rows
    (`atlaskb.evidence.Evidence`), read here and never written into the graph."""
    graph = kb.graph
    ids_by_type: dict[str, list[str]] = defaultdict(list)
    names: dict[str, str] = {}
    for object_id, data in graph.nodes(data=True):
        ids_by_type[data.get("type")].append(object_id)
        name = str(data.get("name") or "").strip().lower()
        if name:
            names.setdefault(name, object_id)
    for ids in ids_by_type.values():
        ids.sort(key=id_sort_key)
    urls = allocate(ids_by_type)
    refs = {n: ObjectLink(n, graph.nodes[n], urls[n]) for n in graph.nodes}
    renderer = Renderer(urls.get, names)
    model = SiteModel(kb=kb, renderer=renderer, urls=urls, refs=refs, ids_by_type=dict(ids_by_type),
                      tactic_order=queries.tactics(kb))
    model.evidence = evidence if evidence is not None else {}
    _fill_edges(model)
    _fill_findings(model)
    for object_id, data in graph.nodes(data=True):
        model.description_html[object_id] = renderer.block(data.get("description"), PAGE_ROOT)
    return model


def _fill_edges(model: SiteModel) -> None:
    graph, refs, renderer = model.kb.graph, model.refs, model.renderer
    procedure_text = _procedure_text(model)
    for u, v, key, data in graph.edges(keys=True, data=True):
        if key == SUBTECHNIQUE_OF:
            if u not in model.parent:
                model.parent[u] = queries.parent(model.kb, u)  # the rule when a source gives two
            model.subtechniques[v].append(refs[u])
        elif key == ACHIEVES:
            model.techniques_of[v].append(refs[u])
        elif key == MITIGATES:
            link = MitigatesLink(refs[u], refs[v], renderer.inline(data.get("note"), PAGE_ROOT),
                                 list(model.evidence.get((u, v)) or []))
            model.mitigations_of[v].append(link)
            model.techniques_mitigated[u].append(link)
        elif key == USES:
            steps = data.get("steps") or [{"step": None, "tactic": None}]
            for s in steps:
                number = s.get("step") if isinstance(s.get("step"), int) else None
                step = Step(number, refs[v], refs.get(s.get("tactic")), refs[u],
                            procedure_text.get((u, number), ""))
                model.uses_of[v].append(step)
                model.steps_of[u].append(step)
                if step.tactic is not None:
                    model.steps_in_tactic[step.tactic.id].append(step)
    by_ref = lambda r: id_sort_key(r.id)  # noqa: E731
    for lists in (model.subtechniques, model.techniques_of):
        for items in lists.values():
            items.sort(key=by_ref)
    for items in model.mitigations_of.values():
        items.sort(key=lambda link: id_sort_key(link.mitigation.id))
    for items in model.techniques_mitigated.values():
        items.sort(key=lambda link: id_sort_key(link.technique.id))
    step_key = lambda s: (s.step if s.step is not None else 10**9,)  # noqa: E731
    for items in model.steps_of.values():
        items.sort(key=lambda s: (*step_key(s), id_sort_key(s.technique.id)))
    for items in model.uses_of.values():
        items.sort(key=lambda s: (id_sort_key(s.case_study.id), *step_key(s)))
    for items in model.steps_in_tactic.values():
        items.sort(key=lambda s: (id_sort_key(s.case_study.id), *step_key(s)))
    for technique in model.ids_by_type.get(TECHNIQUE, []):
        model.tactics_of[technique] = [refs[t] for t in queries.tactics_of(model.kb, technique)]
    for links in model.techniques_mitigated.values():
        for link in links:
            link.tactics = model.tactics_of.get(link.technique.id, [])


def _procedure_text(model: SiteModel) -> dict:
    """(case study, step) → rendered step prose, where the source carries it (releases)."""
    out = {}
    for cs in model.ids_by_type.get("case-study", []):
        for entry in model.kb.graph.nodes[cs].get("procedure") or []:
            if isinstance(entry, dict) and isinstance(entry.get("step"), int) and entry.get("description"):
                out[(cs, entry["step"])] = model.renderer.block(entry["description"], PAGE_ROOT)
    return out


def _fill_findings(model: SiteModel) -> None:
    """Attach each source problem (broken link, bad metadata ...) to the object whose
    source it was found in, so that object's page can show it.

    A vault page holds one object, so its file decides. A release file holds them all:
    there the object the message names first wins, else the object defined last before
    the problem's line.
    """
    by_file: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for object_id, data in model.kb.graph.nodes(data=True):
        if data.get("has_page") and data.get("file"):
            line = data.get("line") if isinstance(data.get("line"), int) else 0
            by_file[data["file"]].append((line, object_id))
    for entries in by_file.values():
        entries.sort(key=lambda e: (e[0], id_sort_key(e[1])))
    # A page that repeats an ID defined elsewhere is no node's `file`; its findings still
    # name it first ("ACME.M0001 is also defined at ..."), which ties the file to it.
    for finding in model.kb.findings:
        if finding.file not in by_file:
            named = ID_AT_START.match(finding.message)
            if named and named.group(0) in model.refs:
                by_file[finding.file] = [(0, named.group(0))]
    for finding in model.kb.findings:
        named = ID_AT_START.match(finding.message)
        named_id = named.group(0) if named and named.group(0) in model.refs else None
        entries = by_file.get(finding.file)
        if not entries:
            continue
        if len(entries) == 1:
            owner = entries[0][1]
        elif named_id and any(object_id == named_id for _, object_id in entries):
            owner = named_id
        else:
            before = [object_id for line, object_id in entries if line <= finding.line]
            owner = before[-1] if before else None
        if owner is not None:
            model.findings_of[owner].append(finding)
