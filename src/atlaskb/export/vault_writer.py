"""Write a KnowledgeBase as a markdown vault in the format the vault loader reads
(docs/vault-format.md).

Used by `atlaskb import atlas-yaml FILE --out DIR` and `atlaskb import stix`: with full text (a user's own copy,
MITRE's prose included) or `facts_only` (IDs, names, dates, maturity, categories and
relationships, plus our own summaries), which is how `data/atlas/` is generated.
Both sides of every relationship are written, so the result lints clean and loads back
into the same graph.
"""

from __future__ import annotations

import json
import os

from atlaskb import queries
from atlaskb.fsutil import output_dir, plan_replace
from atlaskb.kb import KnowledgeBase
from atlaskb.sources.vault import page_slug
from atlaskb.sources.vault import BOLD_FIELD_RE, LIST_ITEM_RE, RELEASE_FILE, _heading, _is_fence
from atlaskb.model import (
    ACHIEVES,
    CASE_STUDY,
    MITIGATES,
    MITIGATION,
    SUBTECHNIQUE_OF,
    TACTIC,
    TECHNIQUE,
    USES,
    id_sort_key,
)

LINK_PREFIX = "frameworks/atlas/"
# What the vault's manifest calls it (`fsutil`): only a folder whose manifest says so is
# replaced by an import; a hand-written vault (no manifest) is refused, never replaced.
KIND = "vault"
LABEL = "atlaskb import"


def check_vault_out(out: str) -> None:
    """Refuse, before reading the input, an --out that a vault may not replace."""
    plan_replace(out, KIND, LABEL)


_MAX_SUMMARIES_BYTES = 8 * 1024 * 1024  # data/summaries/ holds about 80 KB


def read_summaries(paths) -> dict[str, str]:
    """Our own {ID: summary} YAML files (or every .yaml/.yml in a folder), merged in order:
    the descriptions a facts-only vault is written with (`data/summaries/`). A file that
    cannot be read as text raises SourceError naming it; one of the wrong shape, UsageError."""
    from atlaskb.errors import UsageError
    from atlaskb.sources.files import YamlProblem, load_frontmatter_yaml, read_small_file

    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith((".yaml", ".yml")))
        else:
            files.append(p)
    texts: dict[str, str] = {}
    for f in files:
        try:
            data = load_frontmatter_yaml(read_small_file(f, _MAX_SUMMARIES_BYTES, "summaries", "a summaries file"))
        except YamlProblem as e:
            raise UsageError(f"{f}:{e.line}: {e}") from None
        if not isinstance(data, dict):
            raise UsageError(f"{f}: expected a mapping of ID to summary")
        texts.update({str(k): str(v) for k, v in data.items()})
    return texts


def _inline(value) -> str:
    """A value written inside one markdown line (a heading, a list item, a link label):
    on one line, so a name holding a line break and `## Techniques` cannot add structure
    that the vault reader would then read back as relationships."""
    return " ".join(str(value).split())


def _block(text: str, in_section: bool = False) -> str:
    """Prose as page body that the vault reader reads back as prose and nothing more.

    Before the first section (a description), `## ` headings, which the reader takes for
    the page's own relationship sections, become `### `. Inside a section (a procedure
    step's text), every line the reader would take for structure (a heading, a list item
    with a link, a `**Technique:**` line) has its first mark escaped with a backslash,
    which markdown shows as the character itself. A code fence left open is closed (it
    would hide every section after it)."""
    out, fence = [], None
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped[:1] in "`~" and stripped and _is_fence(stripped):
            fence = None if fence else stripped[:3]
        elif fence is None and in_section:
            if (stripped.startswith("#") or BOLD_FIELD_RE.match(stripped)
                    or (LIST_ITEM_RE.match(stripped) and "[[" in stripped)):
                line = "\\" + stripped
        elif fence is None and stripped.startswith("##"):
            heading = _heading(stripped)
            if heading and heading[0] == 2:
                line = "#" + line.lstrip()
        out.append(line)
    if fence:
        out.append(fence)
    return "\n".join(out)


def _yaml_str(text: str) -> str:
    # JSON strings are valid YAML double-quoted scalars.
    return json.dumps(text, ensure_ascii=False)


class _Layout:
    """Assigns every object a vault path, following the real vault's folder scheme."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.paths: dict[str, str] = {}
        used: set[str] = set()

        def claim(path: str, object_id: str) -> str:
            if path in used:
                path = f"{path}-{page_slug(object_id)}"
            used.add(path)
            self.paths[object_id] = path
            return path

        for t in kb.nodes_of_type(TACTIC):
            claim(f"tactics/{self.slug(t)}", t)
        subs = [t for t in kb.nodes_of_type(TECHNIQUE) if queries.parent(kb, t)]
        for t in kb.nodes_of_type(TECHNIQUE):
            if t in subs:
                continue
            tactics = queries.tactics_of(kb, t)
            folder = os.path.basename(self.paths[tactics[0]]) if tactics else "no-tactic"
            claim(f"techniques/{folder}/{self.slug(t)}", t)
        for t in subs:
            parent = queries.parent(kb, t)
            base = self.paths.get(parent, f"techniques/no-tactic/{page_slug(parent)}")
            claim(f"{base}/{self.slug(parent)}-{self.slug(t)}", t)
        for m in kb.nodes_of_type(MITIGATION):
            claim(f"mitigations/{self.slug(m)}", m)
        for c in kb.nodes_of_type(CASE_STUDY):
            claim(f"case-studies/{self.slug(c)}", c)

    def slug(self, object_id: str) -> str:
        return page_slug(self.kb.graph.nodes[object_id].get("name") or object_id) or page_slug(object_id)

    def link(self, object_id: str, label: str) -> str:
        # A label holding `[[` or `]]` would end the link early or start another one.
        label = _inline(label).replace("[", "(").replace("]", ")")
        return f"[[{LINK_PREFIX}{self.paths[object_id]}|{label}]]"


def write_vault(kb: KnowledgeBase, out: str, facts_only: bool = False,
                summaries: dict[str, str] | None = None) -> int:
    """Write every object with a page to `out` (atomically). Returns the page count."""
    layout = _Layout(kb)
    writer = _PageWriter(kb, layout, facts_only, summaries or {})
    count = 0
    with output_dir(out, KIND, LABEL) as tmp:
        folders: set[str] = set()
        for object_id, path in sorted(layout.paths.items(), key=lambda kv: kv[1]):
            if not kb.graph.nodes[object_id].get("has_page", True):
                continue  # known only from links: stays so when the vault is read back
            text = writer.page(object_id)
            full = os.path.join(tmp, path + ".md")
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            folders.add(os.path.dirname(path))
            count += 1
        _write_release(kb, tmp)
        # Tactic folders under techniques/ carry an index page without frontmatter, as in
        # the real vault; the loader must (and does) ignore it.
        for folder in sorted(folders):
            parts = folder.split("/")
            if len(parts) == 2 and parts[0] == "techniques":
                with open(os.path.join(tmp, folder, parts[1] + ".md"), "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(f"# {parts[1].replace('-', ' ').title()}\n\nTechniques of this tactic.\n")
    return count


def _write_release(kb: KnowledgeBase, folder: str) -> None:
    """`RELEASE_FILE`: the ATLAS release the vault holds (name and version), when the
    sources state one, so that layers and exports of the vault can name its version."""
    releases = [src for src in kb.sources if src.get("version")]
    if not releases:
        return
    release = releases[-1]
    with open(os.path.join(folder, RELEASE_FILE), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("# The ATLAS release this vault was imported from; atlaskb reads `version`.\n"
                 f"name: {_yaml_str(str(release.get('name') or 'ATLAS'))}\n"
                 f"version: {_yaml_str(str(release['version']))}\n")


class _PageWriter:
    def __init__(self, kb: KnowledgeBase, layout: _Layout, facts_only: bool, summaries: dict[str, str]):
        self.kb = kb
        self.g = kb.graph
        self.layout = layout
        self.facts_only = facts_only
        self.summaries = summaries
        self.position: dict[str, int] = {}

    def label(self, object_id: str) -> str:
        return f"{object_id}: {_inline(self.g.nodes[object_id].get('name', ''))}"

    def description(self, object_id: str) -> str:
        if self.facts_only:
            return self.summaries.get(object_id, "").strip()
        return (self.g.nodes[object_id].get("description") or "").strip()

    def note(self, data: dict) -> str:
        note = "" if self.facts_only else (data.get("note") or "").strip()
        return f" — {' '.join(note.split())}" if note else ""

    def related(self, object_id: str, edge_type: str, outgoing: bool) -> list[tuple[str, dict]]:
        edges = self.g.out_edges(object_id, keys=True, data=True) if outgoing else self.g.in_edges(object_id, keys=True, data=True)
        found = [((v if outgoing else u), d) for u, v, k, d in edges if k == edge_type]
        return sorted(found, key=lambda x: id_sort_key(x[0]))

    def page(self, object_id: str) -> str:
        node = self.g.nodes[object_id]
        obj_type = node["type"]
        kind_ids = self.kb.nodes_of_type(obj_type)
        lines = [
            "---",
            f"id: {self.layout.slug(object_id)}",
            f"title: {_yaml_str(self.label(object_id))}",
            f"sidebar_label: {_yaml_str(node.get('name', ''))}",
            f"sidebar_position: {node.get('order') or kind_ids.index(object_id) + 1}",
        ]
        if obj_type in (MITIGATION, CASE_STUDY):
            lines.append(f"type: {obj_type}")
        lines += ["---", "", f"# {self.label(object_id)}", ""]
        desc = self.description(object_id)
        if desc:
            lines += [_block(desc), ""]
        lines += ["## Metadata", ""]
        lines += getattr(self, "_" + obj_type.replace("-", "_"))(object_id, node)
        return "\n".join(lines).rstrip("\n") + "\n"

    def _meta(self, node: dict, id_label: str, object_id: str) -> list[str]:
        out = [f"- **{id_label}:** {object_id}"]
        if node.get("created"):
            out.append(f"- **Created:** {_inline(node['created'])}")
        if node.get("modified"):
            out.append(f"- **Last Modified:** {_inline(node['modified'])}")
        return out

    @staticmethod
    def _attack(node: dict) -> list[str]:
        """The ATT&CK object ATLAS adapts (tactics, techniques and mitigations have one)."""
        ref = node.get("attack_ref")
        if not isinstance(ref, dict) or not ref.get("id"):
            return []
        return [f"- **MITRE ATT&CK Reference:** [{_inline(ref['id'])}]({_inline(ref.get('url', ''))})"]

    def _section(self, title: str, items: list[str]) -> list[str]:
        if not items:
            return []
        return ["", f"## {title} ({len(items)})", ""] + items

    def _tactic(self, object_id: str, node: dict) -> list[str]:
        out = self._meta(node, "Tactic ID", object_id) + self._attack(node)
        items = []
        for t, _ in self.related(object_id, ACHIEVES, outgoing=False):
            tn = self.g.nodes[t]
            maturity = f" ({_inline(tn['maturity'])})" if tn.get("maturity") else ""
            items.append(f"- {self.layout.link(t, t)} — {_inline(tn.get('name', ''))}{maturity}")
        return out + self._section("Techniques", items)

    def _technique(self, object_id: str, node: dict) -> list[str]:
        out = self._meta(node, "Technique ID", object_id)
        if node.get("maturity"):
            out.append(f"- **Maturity:** {_inline(node['maturity'])}")
        out += self._attack(node)
        parent = queries.parent(self.kb, object_id)
        if parent:
            out += ["", f"**Parent Technique:** {parent} — {_inline(self.g.nodes[parent].get('name', ''))}"]
        out += self._section("Tactics", [
            f"- {self.layout.link(t, self.g.nodes[t].get('name', t))}"
            for t, _ in self.related(object_id, ACHIEVES, outgoing=True)])
        out += self._section("Sub-Techniques", [
            f"- {self.layout.link(s, self.label(s))}" for s, _ in self.related(object_id, SUBTECHNIQUE_OF, outgoing=False)])
        out += self._section("Mitigations", [
            f"- {self.layout.link(m, self.label(m))}{self.note(d)}" for m, d in self.related(object_id, MITIGATES, outgoing=False)])
        out += self._section("Case Studies", [
            f"- {self.layout.link(c, self.label(c))}" for c, _ in self.related(object_id, USES, outgoing=False)])
        return out

    def _mitigation(self, object_id: str, node: dict) -> list[str]:
        out = self._meta(node, "Mitigation ID", object_id)
        if node.get("category"):
            out.append(f"- **Category:** {_inline(', '.join(node['category']))}")
        if node.get("lifecycle"):
            out.append(f"- **ML Lifecycle:** {_inline(', '.join(node['lifecycle']))}")
        out += self._attack(node)
        out += self._section("Techniques", [
            f"- {self.layout.link(t, self.label(t))}{self.note(d)}" for t, d in self.related(object_id, MITIGATES, outgoing=True)])
        return out

    def _case_study(self, object_id: str, node: dict) -> list[str]:
        out = [f"- **ID:** {object_id}"]
        for key, label in (("incident_date", "Incident Date"), ("case_study_type", "Type"),
                           ("target", "Target"), ("actor", "Actor"), ("reporter", "Reporter")):
            if node.get(key):
                out.append(f"- **{label}:** {' '.join(str(node[key]).split())}")
        steps, stepless = [], []
        for t, d in self.related(object_id, USES, outgoing=True):
            if not d.get("steps"):
                stepless.append(f"- {self.layout.link(t, self.label(t))}")
            for s in d.get("steps") or []:
                steps.append((s["step"], t, s.get("tactic")))
        texts = {p["step"]: p.get("description", "") for p in node.get("procedure") or []}
        if steps:
            out += ["", "## Procedure"]
        for step, t, tactic in sorted(steps):
            out += ["", f"### Step {step}: {_inline(self.g.nodes[t].get('name', t))}", "",
                    f"**Technique:** {self.layout.link(t, self.label(t))}"]
            if tactic and tactic in self.layout.paths:
                out.append(f"**Tactic:** {self.layout.link(tactic, self.label(tactic))}")
            text = "" if self.facts_only else (texts.get(step) or "").strip()
            if text:
                out += ["", _block(text, in_section=True)]
        out += self._section("Techniques", stepless)
        refs = [] if self.facts_only else node.get("references") or []
        if refs:
            out += ["", "## References", ""]
            out += [f"- [{_inline(r.get('title') or r.get('url'))}]({_inline(r.get('url'))})" if r.get("url")
                    else f"- {_inline(r.get('title'))}" for r in refs]
        return out
