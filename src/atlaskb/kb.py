"""The KnowledgeBase: the one place where source records become the graph.

Graph shape (an `atlaskb.graph.AtlasGraph`, networkx's MultiDiGraph layout and read API
without the networkx import; ``kb.to_networkx()`` gives a real MultiDiGraph), keyed by
ATLAS ID:

* node attributes: ``type`` (tactic | technique | mitigation | case-study), ``name``,
  ``has_page`` (False for objects known only from links), ``file`` and ``line`` (where it
  was defined, or first linked), ``description`` and, where known, ``maturity``,
  ``created``, ``modified``, ``category`` (list), ``lifecycle`` (list), ``attack_ref``,
  case-study fields (``incident_date``, ``target``, ``actor``, ``procedure`` ...).
* edges, one per (source, target, type), the edge key being the type:
  ``mitigates`` mitigation→technique (``note``), ``subtechnique-of`` sub→parent,
  ``achieves`` technique→tactic, ``uses`` case study→technique (``steps``: a list of
  ``{"step", "tactic"}``, and ``step``: the first). Every edge has ``file`` and ``line``.

Link ends resolve by the ID in a link's label first, then by its path, then by name:
real vaults carry slugs that name the wrong object, while the label's ID is what authors
check. Relationships stated on either side are merged (union). The graph holds only
stated facts: a sub-technique's tactics, when it lists none, come from its parent
through `queries.tactics_of`, not from invented edges.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from atlaskb.graph import AtlasGraph
from atlaskb.model import (
    CASE_STUDY,
    EDGE_ENDS,
    MITIGATION,
    SUBTECHNIQUE_OF,
    TACTIC,
    TECHNIQUE,
    USES,
    Finding,
    LinkRecord,
    ObjectRecord,
    Ref,
    SourceResult,
    id_candidates,
    id_sort_key,
    is_id,
    parent_of_id,
    type_of_id,
)

@dataclass
class KnowledgeBase:
    """The loaded graph plus everything learnt while loading it, and the lookups a script
    needs (by ID, by type, with mitreattack-python's `MitreAttackData` habits where they
    help: IDs or whole objects, revoked/deprecated objects left out on request, and
    created/modified-after filters). Questions about relationships are plain functions
    in `atlaskb.queries`."""

    graph: AtlasGraph = field(default_factory=AtlasGraph)
    findings: list[Finding] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    # (mitigation, technique) -> set of page types that stated it, per vault source:
    # lint uses it to find relationships listed on one side only.
    declared: dict = field(default_factory=dict)
    # object id -> index (into `sources`) of the source that holds its page.
    page_source: dict = field(default_factory=dict)

    def nodes_of_type(self, obj_type: str) -> list[str]:
        """IDs of one type, in ATLAS order."""
        return sorted((n for n, d in self.graph.nodes(data=True) if d.get("type") == obj_type), key=id_sort_key)

    def find_id(self, key: str) -> str | None:
        """The ID `key` names: the ID itself in any case, without its `AML.` prefix
        (`t0043.002`), or the STIX ID `atlaskb export stix` gives the object. None when
        nothing matches (names are `queries.resolve`'s business)."""
        if not isinstance(key, str):
            return None
        if key in self.graph:
            return key
        for candidate in id_candidates(key):
            if candidate in self.graph:
                return candidate
        if "--" in key:
            return self._stix_ids().get(key.strip().lower())
        return None

    def get(self, object_id: str) -> dict | None:
        """A node's attributes (with its id), or None. Takes the ID in any case, without
        its `AML.` prefix, or as the STIX ID of our STIX export."""
        found = self.find_id(object_id)
        if found is None:
            return None
        return {"id": found, **self.graph.nodes[found]}

    def _stix_ids(self) -> dict[str, str]:
        cached = getattr(self, "_stix_id_index", None)
        if cached is None:
            from atlaskb.export.stix import STIX_TYPE, stix_id, text_origin

            cached = {stix_id(STIX_TYPE[d["type"]], n, text_origin(self, n)): n
                      for n, d in self.graph.nodes(data=True) if d.get("type") in STIX_TYPE}
            self._stix_id_index = cached
        return cached

    def select(self, obj_type: str | None = None, *, objects: bool = False, remove_deprecated: bool = False,
               created_after=None, modified_after=None) -> list:
        """Objects of `obj_type` (all types when None), in ATLAS order (tactics: kill-chain
        order): their IDs, or with `objects` their attribute dicts (with ``id``).

        `remove_deprecated` leaves out objects a source marks revoked or deprecated;
        `created_after` / `modified_after` (a date, datetime or ``YYYY-MM-DD`` text) keep
        only objects dated after it (objects with no such date are left out)."""
        if obj_type == TACTIC:
            from atlaskb import queries

            ids = queries.tactics(self)
        elif obj_type is None:
            ids = sorted(self.graph.nodes, key=id_sort_key)
        else:
            ids = self.nodes_of_type(obj_type)
        created, modified = _day(created_after, "created_after"), _day(modified_after, "modified_after")
        keep = []
        for n in ids:
            d = self.graph.nodes[n]
            if remove_deprecated and (d.get("deprecated") or d.get("revoked")):
                continue
            if created and not str(d.get("created") or "")[:10] > created:
                continue
            if modified and not str(d.get("modified") or "")[:10] > modified:
                continue
            keep.append(n)
        return [{"id": n, **self.graph.nodes[n]} for n in keep] if objects else keep

    def techniques(self, **options) -> list:
        """Techniques and sub-techniques (see `select` for the options)."""
        return self.select(TECHNIQUE, **options)

    def mitigations(self, **options) -> list:
        return self.select(MITIGATION, **options)

    def tactics(self, **options) -> list:
        """Tactics in kill-chain order."""
        return self.select(TACTIC, **options)

    def case_studies(self, **options) -> list:
        return self.select(CASE_STUDY, **options)

    def __contains__(self, object_id: str) -> bool:
        return object_id in self.graph

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    def to_networkx(self):
        """The graph as a new `networkx.MultiDiGraph` (same nodes, edges, keys, attributes
        and order), for networkx's algorithms; changing it leaves the knowledge base as is."""
        return self.graph.to_networkx()


def build(results: list[SourceResult]) -> KnowledgeBase:
    """Merge source results, in order, into one KnowledgeBase. Later sources overlay
    earlier ones: they add objects and links and fill or replace attributes."""
    builder = _Builder()
    for result in results:
        builder.add_objects(result)
    for result in results:
        builder.add_links(result)
    builder.infer_parents()
    kb = builder.kb
    kb.graph.order_predecessors()  # as a cached copy will have them
    kb.findings.sort(key=lambda f: (f.file, f.line, f.code, f.message))
    return kb


class _Builder:
    def __init__(self) -> None:
        self.kb = KnowledgeBase()
        self.graph = self.kb.graph
        self.by_path: dict[str, str] = {}
        self.path_depth = 0  # the most parts any key of by_path has
        self.by_name: dict[str, str] = {}
        self.page_source = self.kb.page_source

    # -- objects -----------------------------------------------------------------------
    def add_objects(self, result: SourceResult) -> None:
        from atlaskb.sources.files import display_path  # not at the top: see _page_slug

        index = len(self.kb.sources)
        # Shown (the site names its sources), never opened again: printable whatever its bytes.
        self.kb.sources.append({"path": display_path(result.path), "kind": result.kind, **result.meta})
        self.kb.findings.extend(result.findings)
        for rec in result.objects:
            self._add_object(rec, index)

    def _add_object(self, rec: ObjectRecord, source_index: int) -> None:
        graph = self.graph
        if rec.id in graph and graph.nodes[rec.id].get("has_page"):
            node = graph.nodes[rec.id]
            if rec.has_page and self.page_source.get(rec.id) == source_index:
                self.kb.findings.append(Finding(
                    "error", "duplicate-id", rec.file, rec.line,
                    f"{rec.id} is also defined at {node['file']}:{node['line']}; both merged"))
            if node.get("type") != rec.type:
                self.kb.findings.append(Finding(
                    "error", "type-conflict", rec.file, rec.line,
                    f"{rec.id} is a {rec.type} here but a {node.get('type')} in {node['file']}"))
                return
        if rec.id not in graph:
            graph.add_node(rec.id, type=rec.type, name=rec.name, has_page=rec.has_page,
                           file=rec.file, line=rec.line)
        node = graph.nodes[rec.id]
        if rec.has_page and not node.get("has_page"):
            node.update(has_page=True, file=rec.file, line=rec.line)
        if rec.has_page:
            self.page_source.setdefault(rec.id, source_index)
        if rec.name:
            node["name"] = rec.name
        for key, value in rec.attrs.items():
            if value not in (None, "", [], {}):
                node[key] = value
            else:
                node.setdefault(key, value)
        if rec.page_path:
            self._index_path(rec.page_path, rec.id)
        if rec.name:
            self.by_name.setdefault(rec.name.strip().lower(), rec.id)

    def _index_path(self, page_path: str, object_id: str) -> None:
        """Index a page by every suffix of its path, so links written relative to another
        root (`frameworks/atlas/...`, `atlas/...`, `techniques/...`) still find it."""
        parts = page_path.split("/")
        self.path_depth = max(self.path_depth, len(parts))
        for i in range(len(parts)):
            self.by_path.setdefault("/".join(parts[i:]), object_id)

    # -- links ---------------------------------------------------------------------------
    def add_links(self, result: SourceResult) -> None:
        for link in result.links:
            self._add_link(link, result.kind)

    def resolve(self, ref: Ref, link: LinkRecord, expected_type: str | None) -> str | None:
        """Label ID, then path, then name. Creates link-only objects for unknown IDs."""
        if ref.id and not is_id(ref.id):
            # Readers hand over IDs as stated; one that is not ATLAS-shaped would become an
            # object of no type. Reported, and the link (or the step's tactic) left out.
            self.kb.findings.append(Finding("error", "broken-link", link.file, link.line,
                                            f"{ref.id[:60]!r}, named in a {link.type} link, is not an ATLAS ID; left out"))
            return None
        if ref.id:
            self._check_slug(ref, link)
            if ref.id not in self.graph:
                obj_type = type_of_id(ref.id)
                self.graph.add_node(ref.id, type=obj_type, name=ref.name or "", has_page=False,
                                    file=link.file, line=link.line, description="")
                if ref.name:
                    self.by_name.setdefault(ref.name.lower(), ref.id)
            elif ref.name and not self.graph.nodes[ref.id].get("name"):
                self.graph.nodes[ref.id]["name"] = ref.name
            return ref.id
        if ref.path:
            found = self._by_path(ref.path)
            if found:
                return found
        if ref.name:
            found = self.by_name.get(ref.name.strip().lower())
            if found and (expected_type is None or self.graph.nodes[found].get("type") == expected_type):
                return found
        self.kb.findings.append(Finding("error", "broken-link", link.file, link.line,
                                        f"link to {str(ref)[:200]!r} matches no object (by ID, path or name)"))
        return None

    def _by_path(self, path: str) -> str | None:
        # Only suffixes as deep as some indexed page path can match: a link path of 400,000
        # parts (one line of a page) would otherwise cost a quadratic number of joins.
        parts = path.split("/")[-self.path_depth:] if self.path_depth else []
        for i in range(len(parts)):
            found = self.by_path.get("/".join(parts[i:]))
            if found:
                return found
        return None

    def _check_slug(self, ref: Ref, link: LinkRecord) -> None:
        """A link whose path names another object than its label's ID: the ID wins, but
        the vault should be fixed."""
        if not ref.path:
            return
        by_path = self._by_path(ref.path)
        if by_path is not None:
            if by_path != ref.id:
                self.kb.findings.append(Finding(
                    "warning", "slug-mismatch", link.file, link.line,
                    f"link path {ref.path[:200]!r} is the page of {by_path}, but its label says {ref.id}; "
                    f"resolved to {ref.id}"))
            return
        node = self.graph.nodes[ref.id] if ref.id in self.graph else None
        name = (node or {}).get("name") or ref.name
        if node is not None and node.get("has_page"):
            self.kb.findings.append(Finding(
                "warning", "slug-mismatch", link.file, link.line,
                f"link path {ref.path[:200]!r} is not the page of {ref.id} ({node.get('file')}); resolved by ID"))
        elif name and not ref.path.rsplit("/", 1)[-1].endswith(_page_slug(name)):
            self.kb.findings.append(Finding(
                "warning", "slug-mismatch", link.file, link.line,
                f"link path slug {ref.path.rsplit('/', 1)[-1][:200]!r} does not match {ref.id} ({name}); resolved by ID"))

    def _add_link(self, link: LinkRecord, source_kind: str) -> None:
        src_type, dst_type = EDGE_ENDS[link.type]
        source = self.resolve(link.source, link, src_type if link.source.id is None else None)
        target = self.resolve(link.target, link, dst_type if link.target.id is None else None)
        if source is None or target is None:
            return
        if source == target:
            self.kb.findings.append(Finding("error", "self-link", link.file, link.line, f"{source} links to itself"))
            return
        actual = (self.graph.nodes[source].get("type"), self.graph.nodes[target].get("type"))
        if actual != (src_type, dst_type):
            self.kb.findings.append(Finding(
                "error", "wrong-link-type", link.file, link.line,
                f"a {link.type} link joins {actual[0]} {source} to {actual[1]} {target}; "
                f"expected {src_type} to {dst_type}; ignored"))
            return
        attrs = {k: v for k, v in link.attrs.items() if k not in ("expected_type", "tactic_ref")}
        if link.type == USES:
            tactic = self._resolve_tactic(link)
            step = attrs.pop("step", None)
            steps = [{"step": step, "tactic": tactic}] if step is not None else []
            attrs["steps"] = steps
        if self.graph.has_edge(source, target, key=link.type):
            data = self.graph.edges[source, target, link.type]
            if link.type == USES:
                for s in attrs["steps"]:
                    if s not in data["steps"]:
                        data["steps"].append(s)
                data["steps"].sort(key=lambda s: s["step"])
                if data["steps"]:
                    data["step"] = data["steps"][0]["step"]
            for key, value in attrs.items():
                if key != "steps" and value and not data.get(key):
                    data[key] = value
        else:
            if link.type == USES and attrs["steps"]:
                attrs["step"] = attrs["steps"][0]["step"]
            self.graph.add_edge(source, target, key=link.type, type=link.type, file=link.file, line=link.line, **attrs)
        if source_kind in ("vault", "page") and link.declared_by:
            self.kb.declared.setdefault((source, target, link.type), set()).add(link.declared_by)

    def _resolve_tactic(self, link: LinkRecord) -> str | None:
        ref = link.attrs.get("tactic_ref")
        if ref is None:
            return None
        return self.resolve(ref, link, "tactic")

    # -- inference -------------------------------------------------------------------------
    def infer_parents(self) -> None:
        """`AML.T0043.002` is a sub-technique of `AML.T0043` by the shape of its ID; when no
        source states the link (a vault page linked only from a mitigation, say), add it."""
        for node, data in list(self.graph.nodes(data=True)):
            if data.get("type") != TECHNIQUE:
                continue
            parent = parent_of_id(node)
            if parent is None:
                continue
            if any(k == SUBTECHNIQUE_OF for _, _, k in self.graph.out_edges(node, keys=True)):
                continue
            if parent not in self.graph:
                self.graph.add_node(parent, type=TECHNIQUE, name="", has_page=False,
                                    file=data.get("file", ""), line=data.get("line", 0), description="")
            self.graph.add_edge(node, parent, key=SUBTECHNIQUE_OF, type=SUBTECHNIQUE_OF,
                                file=data.get("file", ""), line=data.get("line", 0), inferred=True)


def _day(value, name: str) -> str | None:
    """A date filter as ``YYYY-MM-DD`` text (ATLAS dates compare as text)."""
    if value is None:
        return None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    text = str(value).strip()
    try:
        _dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), not {value!r}") from None
    return text[:10]


def _page_slug(name: str) -> str:
    """`sources.vault.page_slug`, imported when first needed: the sources import yaml,
    which a load from the cache never needs."""
    from atlaskb.sources.vault import page_slug

    return page_slug(name)
