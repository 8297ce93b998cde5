"""ATLAS markdown vaults: one page per object, YAML frontmatter, `[[path|label]]` links.

The format and its real-world defects are described in docs/vault-format.md. This module
only *reads*: it turns each page into an ObjectRecord and each relationship line into a
LinkRecord whose far end is an unresolved Ref (label ID, path, name). Resolution needs
every page of every source, so the KnowledgeBase does it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from atlaskb.model import (
    ACHIEVES,
    CASE_STUDY,
    EDGE_ENDS,
    MITIGATES,
    MATURITY_ORDER,
    OBJECT_TYPES,
    SUBTECHNIQUE_OF,
    TACTIC,
    TECHNIQUE,
    USES,
    Finding,
    LinkRecord,
    ObjectRecord,
    Ref,
    SourceResult,
    find_id,
    id_hint,
    is_id,
    type_of_id,
)
from atlaskb.sources.files import (
    MAX_PAGE_BYTES,
    YamlProblem,
    bounded,
    display_path,
    load_frontmatter_yaml,
    read_text,
)
from atlaskb.stix_vocabulary import TEXT_ORIGIN, VAULT_TEXT

PAGE_SUFFIXES = (".md", ".markdown", ".mdx")

# Neither part may hold `[[` (the path no `[` at all): otherwise every `[[` of a line of
# 40,000 of them scans to the line's end, which is quadratic. A label may hold a lone `[`
# (a name such as `Foo [beta]`).
WIKILINK_RE = re.compile(r"\[\[([^\[\]\|\n]*)(?:\|((?:[^\[\]\n]|\[(?!\[))*))?\]\]")
# Headings and their `(count)` are split by hand (see `_heading`, `_count`), in time linear
# in the line: a regex such as `(.*?)\s*#*\s*$` backtracks cubically on `### a`, many
# spaces, `x`.
MAX_COUNT_DIGITS = 6
META_RE = re.compile(r"^[-*]\s+\*\*(.+?):?\*\*:?\s*(.*)$")
# A list item: a bullet (`-`, `*`, `+`) or a number (`1.`, `2)`) and then a space or a tab.
LIST_ITEM_RE = re.compile(r"(?:[-*+]|[0-9]{1,9}[.)])[ \t]")
BOLD_FIELD_RE = re.compile(r"^\s*[-*]?\s*\*\*(Technique|Tactic|Parent Technique):?\*\*:?\s*(.*)$", re.I)
STEP_RE = re.compile(r"^Step\s+(\d+)\s*[:.\-—–]?\s*(.*)$", re.I)
NOTE_SEP_RE = re.compile(r"^\s*(?:—|–|-{1,2}|:)\s*")
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PARTIAL_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")  # incident dates may be a year or a month
MATURITY_RE = re.compile(r"\((feasible|demonstrated|realized)\)\s*$", re.I)

# Metadata keys as written on pages -> attribute names in the graph.
META_KEYS = {
    "created": "created",
    "last modified": "modified",
    "modified": "modified",
    "category": "category",
    "ml lifecycle": "lifecycle",
    "maturity": "maturity",
    "mitre att&ck reference": "attack_ref",
    "att&ck reference": "attack_ref",
    "incident date": "incident_date",
    "target": "target",
    "actor": "actor",
    "reporter": "reporter",
    "type": "case_study_type",
    "case study type": "case_study_type",
}
LIST_META = {"category", "lifecycle"}
ID_META_KEYS = {"id", "mitigation id", "technique id", "tactic id", "case study id", "sub-technique id"}

# Relationship sections: the edge a section's list items state, and the page's end of
# it. "out": the page is the edge's source (page -> item); "in": its target (item -> page).
# Which type of page a section belongs on, and the type its items name, follow from the
# edge's ends (`model.EDGE_ENDS`), so they are not written here again.
_SECTION_EDGES = (
    ("techniques", MITIGATES, "out"),  # on a mitigation's page
    ("mitigations", MITIGATES, "in"),
    ("tactics", ACHIEVES, "out"),
    ("case studies", USES, "in"),
    ("sub-techniques", SUBTECHNIQUE_OF, "in"),
    ("subtechniques", SUBTECHNIQUE_OF, "in"),
    ("techniques", ACHIEVES, "in"),  # on a tactic's page
    ("techniques", USES, "out"),  # on a case study's page
)
# (page type, section name) -> (edge type, direction): how to turn an item into a link.
SECTIONS = {(EDGE_ENDS[edge_type][0 if direction == "out" else 1], name): (edge_type, direction)
            for name, edge_type, direction in _SECTION_EDGES}
# The type a section's links point at: the other end of its edge.
SECTION_TARGET_TYPE = {name: EDGE_ENDS[edge_type][1 if direction == "out" else 0]
                       for name, edge_type, direction in _SECTION_EDGES}


DESCRIPTION_SECTIONS = {"summary", "description"}


def _heading(stripped: str) -> tuple[int, str] | None:
    """An ATX heading as (level, text), or None: 1-6 `#`, whitespace, the text; a closing
    run of `#` and surrounding whitespace are not part of the text. Linear in the line."""
    level = len(stripped) - len(stripped.lstrip("#"))
    if not 1 <= level <= 6 or len(stripped) == level or not stripped[level].isspace():
        return None
    return level, stripped[level:].strip().rstrip("#").rstrip()


def _count(text: str) -> tuple[str, str | None]:
    """`Techniques (12)` -> ("Techniques", "12"); no trailing `(digits)` -> (text, None)."""
    text = text.rstrip()
    if not text.endswith(")"):
        return text, None
    start = text.rfind("(")
    digits = text[start + 1:-1] if start >= 0 else ""
    if not (digits.isascii() and digits.isdigit()):
        return text, None
    return text[:start].rstrip(), digits


def _section_name(heading: str) -> str:
    """Normalise a section heading: `Attack Procedure` and `Procedure` are one section."""
    name = heading.strip().lower()
    return "procedure" if name.endswith("procedure") else name


@dataclass
class _Section:
    name: str
    line: int
    count: int | None
    items: int = 0


@dataclass
class _Page:
    """Parse state for one page."""

    file: str
    rel: str
    findings: list[Finding]
    obj_id: str | None = None
    obj_type: str | None = None
    name: str = ""
    id_line: int = 1
    attrs: dict = field(default_factory=dict)
    links: list[LinkRecord] = field(default_factory=list)
    sections: list[_Section] = field(default_factory=list)
    heading: str = ""  # the first H1's text, for messages


def parse_label(label: str | None) -> Ref:
    """`AML.T0015: Evade AI Model` -> Ref(id, name); `AML.T0015` -> Ref(id); `Name` -> Ref(name)."""
    ref = Ref()
    if not label:
        return ref
    label = label.strip()
    first = re.split(r"[\s:]", label, maxsplit=1)[0]
    if is_id(first):
        ref.id = first
        rest = label[len(first):].lstrip(" :—–-").strip()
        ref.name = rest or None
    else:
        ref.name = label
    return ref


def normalise_link_path(path: str) -> str:
    """Link paths appear with and without `frameworks/`, a leading slash or `.md`."""
    path = path.strip().split("#", 1)[0].strip("/")
    for suffix in PAGE_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return path


def page_slug(text: str) -> str:
    """The file-name form of a name in a vault's page paths (`Evade AI Model` →
    `evade-ai-model`): lowercase, each run of anything but a-z and 0-9 one hyphen, none
    at either end, so that a name holding `/`, `:` or `&` still makes a safe file name.
    The KnowledgeBase checks link paths against it; `atlaskb import` names its pages by
    it. Not a tactic's kill-chain shortname, which keeps punctuation
    (`atlaskb.stix_vocabulary.shortname`)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_page(text: str, file: str, rel: str) -> tuple[ObjectRecord | None, list[LinkRecord], list[Finding]]:
    """Parse one page's text. Returns its object (None for index or unusable pages), the
    links it states and the findings; never raises on malformed content."""
    findings: list[Finding] = []
    page = _Page(file=file, rel=rel, findings=findings)
    lines = text.split("\n")
    has_frontmatter = bool(lines) and lines[0].strip() == "---"
    frontmatter, body_start = _read_frontmatter(lines, file, findings) if has_frontmatter else ({}, 0)
    _apply_frontmatter(page, frontmatter)
    _parse_body(page, lines, body_start)
    if not _is_object_page(page, has_frontmatter):
        return None, [], findings
    _check_counts(page)
    _check_metadata(page)
    return _record(page), _links_with_this_page_as_end(page), findings


def _read_frontmatter(lines: list[str], file: str, findings: list[Finding]) -> tuple[dict, int]:
    """The frontmatter mapping of a page whose first line is `---`, and the index of the
    body's first line. Frontmatter that is never closed, is not YAML or is not a mapping
    is reported and read as empty: the body alone still gives the object."""
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        findings.append(Finding("error", "bad-frontmatter", file, 1, "frontmatter opened with '---' is never closed"))
        return {}, 1
    problems: list[YamlProblem] = []
    try:
        loaded = load_frontmatter_yaml("\n".join(lines[1:end]), problems)
    except YamlProblem as e:
        findings.append(Finding("error", "bad-frontmatter", file, e.line + 1, f"{e}; using the page body only"))
        loaded = {}
    for problem in problems:
        findings.append(Finding("warning", "bad-value", file, problem.line + 1, str(problem)))
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        findings.append(Finding("error", "bad-frontmatter", file, 2, "frontmatter is not a mapping of keys to values"))
        loaded = {}
    return loaded, end + 1


def _is_object_page(page: _Page, has_frontmatter: bool) -> bool:
    """Whether the page gives an object: it needs an ATLAS ID and a type. A folder's
    index page (`tactics/tactics.md` without frontmatter) is skipped silently; any other
    page without them is reported."""
    if page.obj_id is None:
        stem = os.path.splitext(os.path.basename(page.rel))[0]
        parent = os.path.basename(os.path.dirname(page.rel))
        if has_frontmatter or stem != parent:
            page.findings.append(Finding("warning", "no-id", page.file, 1,
                                         "page has no ATLAS ID in its title, heading or metadata"
                                         f"{id_hint(page.heading)}; skipped"))
        return False
    if page.obj_type is None:
        page.findings.append(Finding("error", "unknown-type", page.file, page.id_line,
                                     f"cannot tell the type of {page.obj_id}; skipped"))
        return False
    return True


def _check_counts(page: _Page) -> None:
    """A section heading's `(count)` that differs from the items listed under it."""
    for section in page.sections:
        if section.count is not None and section.count != section.items:
            page.findings.append(Finding("warning", "count-mismatch", page.file, section.line,
                                         f"heading says {section.count} {section.name} but lists {section.items}"))


def _check_metadata(page: _Page) -> None:
    """What every object of the page's type should state and this one does not."""
    missing = []
    if not page.name:
        missing.append(f"{page.obj_id} has no name")
    if page.obj_type == TECHNIQUE and "maturity" not in page.attrs:
        missing.append(f"{page.obj_id} has no maturity")
    for key in ("created", "modified"):
        if key not in page.attrs and page.obj_type != CASE_STUDY:
            missing.append(f"{page.obj_id} has no {key} date")
    page.findings.extend(Finding("warning", "missing-metadata", page.file, page.id_line, m) for m in missing)


def _record(page: _Page) -> ObjectRecord:
    return ObjectRecord(
        id=page.obj_id, type=page.obj_type, name=bounded(page.name)[0], attrs=page.attrs,
        file=page.file, line=page.id_line, has_page=True, page_path=normalise_link_path(page.rel),
    )


def _links_with_this_page_as_end(page: _Page) -> list[LinkRecord]:
    """The page's links, each end that a line left open (the page itself) filled in."""
    me = Ref(id=page.obj_id)
    for link in page.links:
        if link.source is None:
            link.source = me
        if link.target is None:
            link.target = me
    return page.links


def _apply_frontmatter(page: _Page, fm: dict) -> None:
    title = fm.get("title")
    if isinstance(title, str):
        page.heading = title[:200]
        ref = parse_label(title)
        if ref.id:
            page.obj_id, page.name, page.id_line = ref.id, ref.name or "", 2
    declared = fm.get("type")
    if isinstance(declared, str) and declared.strip().lower() in OBJECT_TYPES:
        page.obj_type = declared.strip().lower()
    position = fm.get("sidebar_position")
    if isinstance(position, int) and not isinstance(position, bool):
        page.attrs["order"] = position
    if not page.name and isinstance(fm.get("sidebar_label"), str):
        page.name = fm["sidebar_label"].strip()


@dataclass
class _BodyState:
    """Where the body parser is: the section and procedure step being read, whether the
    lines are description or inside a code fence, and the description gathered."""

    section: _Section | None = None
    step: int | None = None
    step_tactic: Ref | None = None
    description: list[str] = field(default_factory=list)
    # Whether a description line holds more than whitespace: kept as lines arrive, so
    # that each `## Summary` heading does not rescan the whole description (quadratic).
    description_has_text: bool = False
    in_description: bool = False
    saw_h1: bool = False
    in_code: bool = False

    def add_description(self, raw: str) -> None:
        self.description.append(raw)
        if not self.description_has_text and raw.strip():
            self.description_has_text = True


def _parse_body(page: _Page, lines: list[str], start: int) -> None:
    """Read the body from line index `start`: the H1 (ID and name), the description under
    it, and the `##` sections with their relationship lists, metadata and procedure."""
    state = _BodyState()
    for idx in range(start, len(lines)):
        _parse_body_line(page, state, lines[idx], idx + 1)
    text, cut = bounded("\n".join(state.description).strip())
    if cut:
        page.findings.append(Finding("warning", "too-long", page.file, page.id_line,
                                     f"description is longer than {len(text):,} characters; cut there"))
    page.attrs["description"] = text
    if page.obj_type is None and page.obj_id:
        page.obj_type = type_of_id(page.obj_id)


def _parse_body_line(page: _Page, state: _BodyState, raw: str, lineno: int) -> None:
    """One body line. Inside a code fence nothing is structure (a fenced `## Techniques`
    is prose); a heading the structure does not use reads as an ordinary line."""
    stripped = raw.strip()
    if stripped[:1] in "`~" and stripped and _is_fence(stripped):
        state.in_code = not state.in_code
    if state.in_code:
        if state.in_description:
            state.add_description(raw)
        return
    heading = _heading(stripped) if stripped.startswith("#") else None
    if heading and _apply_heading(page, state, heading[0], heading[1], lineno):
        return
    if state.in_description:
        state.add_description(raw)
        return
    if state.section is None:
        return
    _parse_section_line(page, state.section, stripped, lineno)
    if state.section.name == "procedure" and state.step is not None and "**" in stripped:
        _parse_procedure_field(page, state, stripped, lineno)


def _apply_heading(page: _Page, state: _BodyState, level: int, text: str, lineno: int) -> bool:
    """Take in a heading: the first H1, a `##` section, or inside a section a `### Step N`
    or a `###` heading that is itself a link. False for any other (a second H1, a
    sub-heading before the first section), which the caller reads as an ordinary line."""
    if level == 1 and not state.saw_h1:
        _apply_title(page, state, text, lineno)
        return True
    if level == 2:
        _start_section(page, state, text, lineno)
        return True
    if level >= 3 and state.section is not None:
        m = STEP_RE.match(text)
        if m:
            state.step, state.step_tactic = int(m.group(1)), None
        elif WIKILINK_RE.search(text):
            _add_section_links(page, state.section, text, lineno)
        return True
    return False


def _apply_title(page: _Page, state: _BodyState, text: str, lineno: int) -> None:
    """The first H1 (`AML.T0043: Craft Adversarial Data`): the page's ID where the
    frontmatter gave none, its name, and the start of the description."""
    state.saw_h1 = True
    page.heading = text[:200]
    ref = parse_label(text)
    if ref.id and page.obj_id is None:
        page.obj_id, page.id_line = ref.id, lineno
    if ref.id == page.obj_id and ref.name and not page.name:
        page.name = ref.name
    state.in_description = True


def _start_section(page: _Page, state: _BodyState, text: str, lineno: int) -> None:
    """A `##` heading starts a section; its `(count)` is kept to check the list against.
    A count too long to be one is reported and ignored."""
    name, digits = _count(text)
    count = int(digits) if digits and len(digits) <= MAX_COUNT_DIGITS else None
    if digits and count is None:
        page.findings.append(Finding("warning", "bad-count", page.file, lineno,
                                     f"heading's count has {len(digits):,} digits; ignored"))
    state.section = _Section(_section_name(name), lineno, count)
    page.sections.append(state.section)
    state.step, state.step_tactic = None, None
    # Some vault versions put the description under its own heading.
    state.in_description = state.section.name in DESCRIPTION_SECTIONS and not state.description_has_text


def _parse_procedure_field(page: _Page, state: _BodyState, stripped: str, lineno: int) -> None:
    """A `**Technique:**` or `**Tactic:**` line of a procedure step: the technique the
    case study uses at this step, and the tactic it serves there. Either may come first;
    a tactic after the technique fills in that step's link."""
    f = BOLD_FIELD_RE.match(stripped)
    if f and f.group(1).lower() == "tactic":
        state.step_tactic = _first_ref(f.group(2))
        for link in reversed(page.links):
            if link.type == USES and link.attrs.get("step") == state.step and link.attrs.get("tactic_ref") is None:
                link.attrs["tactic_ref"] = state.step_tactic
                break
    elif f and f.group(1).lower() == "technique":
        target = _first_ref(f.group(2))
        if target is not None:
            page.links.append(LinkRecord(
                source=None, target=target, type=USES,
                attrs={"step": state.step, "tactic_ref": state.step_tactic}, file=page.file, line=lineno,
                declared_by=CASE_STUDY,
            ))


def _is_fence(stripped: str) -> bool:
    """A code fence per CommonMark: ``` or ~~~, and a backtick fence's info string has no
    backticks (so a line like ```code``` is inline code, not a fence)."""
    if stripped.startswith("~~~"):
        return True
    return stripped.startswith("```") and "`" not in stripped.lstrip("`")


def _first_ref(text: str) -> Ref | None:
    m = WIKILINK_RE.search(text)
    if m:
        ref = parse_label(m.group(2))
        ref.path = normalise_link_path(m.group(1)) or None
        return ref if (ref.id or ref.path or ref.name) else None
    ref = parse_label(text)
    if ref.id is None:
        found = find_id(text)
        ref = Ref(id=found) if found else ref
    return ref if (ref.id or ref.name) else None


def _parse_section_line(page: _Page, section: _Section, stripped: str, lineno: int) -> None:
    """One line of a section: a `**Parent Technique:**` field, a metadata field, or a
    list item holding a link (a relationship)."""
    if not stripped:
        return
    parent = BOLD_FIELD_RE.match(stripped) if "**" in stripped else None
    if parent and parent.group(1).lower() == "parent technique":
        target = _first_ref(parent.group(2))
        if target is not None:
            page.links.append(LinkRecord(None, target, SUBTECHNIQUE_OF, {}, page.file, lineno, TECHNIQUE))
        return
    if section.name == "metadata":
        m = META_RE.match(stripped)
        if m:
            _apply_meta(page, m.group(1).strip().lower(), m.group(2).strip(), lineno)
        return
    item = LIST_ITEM_RE.match(stripped)
    if item and WIKILINK_RE.search(stripped):
        _add_section_links(page, section, stripped[item.end():], lineno)


def _apply_meta(page: _Page, key: str, value: str, lineno: int) -> None:
    if key in ID_META_KEYS:
        found = find_id(value)
        if found and page.obj_id is None:
            page.obj_id, page.id_line = found, lineno
        elif found and found != page.obj_id:
            page.findings.append(Finding("warning", "id-mismatch", page.file, lineno,
                                         f"metadata ID {found} differs from the title's {page.obj_id}"))
        return
    attr = META_KEYS.get(key)
    if attr is None:
        return
    if attr == "attack_ref":
        m = re.search(r"\[([^\[\]]+)\]\(([^()]+)\)", value)
        page.attrs[attr] = {"id": m.group(1), "url": m.group(2)} if m else {"id": value, "url": ""}
    elif attr in LIST_META:
        page.attrs[attr] = [v.strip() for v in value.split(",") if v.strip()]
    elif attr in ("created", "modified", "incident_date"):
        page.attrs[attr] = normalise_date(value)
        if value.strip() and not PARTIAL_DATE_RE.match(page.attrs[attr]):
            page.findings.append(Finding("warning", "bad-date", page.file, lineno,
                                         f"{key} date {value.strip()!r} is not a date atlaskb can read "
                                         "(2021-05-13 or May 13, 2021); kept as written"))
    elif attr == "maturity":
        page.attrs[attr] = value.strip().lower()
        if page.attrs[attr] and page.attrs[attr] not in MATURITY_ORDER:
            page.findings.append(Finding("warning", "bad-maturity", page.file, lineno,
                                         f"maturity {value.strip()!r} is none of feasible, demonstrated, "
                                         "realized; coverage ranks it lowest"))
    else:
        page.attrs[attr] = value


_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august",
     "september", "october", "november", "december"], start=1)}


def normalise_date(value: str) -> str:
    """`2023-04-12` stays; `May 13, 2021` becomes `2021-05-13`; anything else is kept as is."""
    value = value.strip()
    if ISO_DATE_RE.match(value):
        return value
    m = re.match(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$", value)
    month = _month(m.group(1)) if m else None
    if month:
        return f"{m.group(3)}-{month:02d}-{int(m.group(2)):02d}"
    return value


def _month(word: str) -> int | None:
    """`May`, `September`, and abbreviations of three letters or more (`Sep`, `Sept`)."""
    word = word.lower()
    if len(word) < 3:
        return None
    found = [n for name, n in _MONTHS.items() if name.startswith(word)]
    return found[0] if len(found) == 1 else None


def _add_section_links(page: _Page, section: _Section, text: str, lineno: int) -> None:
    page_type = page.obj_type or type_of_id(page.obj_id or "") or ""
    rule = SECTIONS.get((page_type, section.name))
    m = WIKILINK_RE.search(text)
    if m is None:
        return
    section.items += 1
    if rule is None:
        return
    edge_type, direction = rule
    ref = parse_label(m.group(2))
    ref.path = normalise_link_path(m.group(1)) or None
    trailing = text[m.end():]
    attrs: dict = {}
    note = NOTE_SEP_RE.sub("", trailing, count=1).strip()
    if page_type == TACTIC:
        # Tactic pages list `[[path|ID]] — Name (maturity)`: the tail names the technique.
        mat = MATURITY_RE.search(note)
        if mat:
            note = note[: mat.start()].strip()
        if note and not ref.name:
            ref.name = note
        note = ""
    if edge_type == MITIGATES and note:
        attrs["note"] = note
    if not (ref.id or ref.path or ref.name):
        page.findings.append(Finding("error", "broken-link", page.file, lineno, "link with neither label nor path"))
        return
    ref_type = SECTION_TARGET_TYPE.get(section.name)
    attrs["expected_type"] = ref_type
    link = LinkRecord(None, None, edge_type, attrs, page.file, lineno, page_type)
    if direction == "out":
        link.target = ref
    else:
        link.source = ref
    page.links.append(link)


def read_page(path: str, display: str | None = None, rel: str | None = None) -> SourceResult:
    """Read one page file (any extension) as a one-page source."""
    display = display or display_path(path)
    result = SourceResult(path=path, kind="page", meta={TEXT_ORIGIN: VAULT_TEXT})
    text = read_text(path, display, MAX_PAGE_BYTES, result.findings)
    if text is None:
        return result
    record, links, findings = parse_page(text, display, rel or os.path.basename(path))
    result.findings.extend(findings)
    if record is not None:
        result.objects.append(record)
        result.links.extend(links)
    return result


# A vault's note of the ATLAS release it holds (written by `atlaskb import`): name, version.
RELEASE_FILE = "atlas-release.yaml"
_MAX_RELEASE_BYTES = 4096


def read_release_file(root: str, findings: list[Finding]) -> dict[str, str]:
    """{"name", "version"} from the vault's RELEASE_FILE, when it has a usable one. A
    file that is not a small mapping of short strings is reported and ignored; a link
    is never followed (the file is a note, not a place to read from elsewhere)."""
    path = os.path.join(root, RELEASE_FILE)
    if not os.path.isfile(path) or os.path.islink(path):
        return {}
    text = read_text(path, RELEASE_FILE, _MAX_RELEASE_BYTES, findings)
    if text is None:
        return {}
    try:
        data = load_frontmatter_yaml(text)
    except YamlProblem as e:
        findings.append(Finding("warning", "bad-yaml", RELEASE_FILE, e.line, f"{e}; the release is not named"))
        return {}
    found = {}
    for key in ("name", "version"):
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and 0 < len(str(value).strip()) <= 40:
            found[key] = str(value).strip()
    if "version" not in found:
        findings.append(Finding("warning", "bad-yaml", RELEASE_FILE, 1,
                                "expected `version: X.Y.Z` (a short text); the release is not named"))
    return found


def iter_vault_files(root: str, findings: list[Finding]) -> list[tuple[str, str]]:
    """Markdown files under `root` as (absolute path, path relative to root), sorted.

    Symlinks that lead outside the vault are reported and not followed: a vault is
    untrusted input and must not make us read, say, a home directory.
    """
    root_real = os.path.realpath(root)
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            full = os.path.join(dirpath, d)
            if os.path.islink(full) and not _inside(os.path.realpath(full), root_real):
                rel = display_path(os.path.relpath(full, root))
                findings.append(Finding("error", "symlink-escape", rel, 1, "symbolic link leads outside the vault; not followed"))
                dirnames.remove(d)
        for name in sorted(filenames):
            if not name.lower().endswith(PAGE_SUFFIXES) or name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            rel = display_path(os.path.relpath(full, root))
            if os.path.islink(full) and not _inside(os.path.realpath(full), root_real):
                findings.append(Finding("error", "symlink-escape", rel, 1, "symbolic link leads outside the vault; not followed"))
                continue
            if "\ufffd" in rel and "\ufffd" not in os.path.relpath(full, root):
                findings.append(Finding("warning", "file-name", rel, 1,
                                        "file name is not valid UTF-8; shown (and linked) with U+FFFD in its place"))
            found.append((full, rel.replace(os.sep, "/")))
    return found


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def read_vault(root: str) -> SourceResult:
    """Read every page of a vault folder. Each bad page adds findings; the rest still load."""
    result = SourceResult(path=root, kind="vault")
    for full, rel in iter_vault_files(root, result.findings):
        text = read_text(full, rel, MAX_PAGE_BYTES, result.findings)
        if text is None:
            continue
        record, links, findings = parse_page(text, rel, rel)
        result.findings.extend(findings)
        if record is not None:
            result.objects.append(record)
            result.links.extend(links)
    result.meta["root"] = display_path(os.path.abspath(root))
    result.meta.update(read_release_file(root, result.findings))
    result.meta[TEXT_ORIGIN] = VAULT_TEXT  # the vault's own words
    return result
