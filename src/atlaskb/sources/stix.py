"""STIX 2.1 bundles of ATLAS, as MITRE publishes them (and as `atlaskb export stix` writes).

Mapping: ``x-mitre-tactic`` → tactic, ``attack-pattern`` → technique, ``course-of-action``
→ mitigation, ``campaign`` (or ``report``) → case study, each identified by its
``mitre-atlas`` external ID. Relationships ``mitigates``, ``subtechnique-of`` and ``uses``
become links; a technique's ``kill_chain_phases`` (kill chain ``mitre-atlas``) become its
``achieves`` links, matched to tactics by ``x_mitre_shortname``.

Published bundles have defects, so nothing here trusts the bundle to be well formed:
repeated object IDs, relationships whose ends are not in the bundle, phases that name no
tactic, objects without an ATLAS ID. Every relationship the bundle states whose two ends
are ATLAS objects is kept; everything that cannot be placed becomes a `Finding` that
names the file, the line (when the bundle has line breaks) and the STIX object, so no link
is lost silently. The plain `json` module is used rather than the stix2 library because
stix2 rejects exactly the defective bundles this reader has to accept, and gives no line
numbers.

Properties named ``x_atlaskb_<attr>`` (written by our exporter) are read back into the
object's or link's attributes, which is what makes export → import round-trip; the names
both sides use are in `atlaskb.stix_vocabulary`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from atlaskb.model import (
    ACHIEVES,
    MITIGATES,
    TACTIC,
    TECHNIQUE,
    USES,
    Finding,
    LinkRecord,
    ObjectRecord,
    Ref,
    SourceResult,
    is_id,
    type_of_id,
)
from atlaskb.sources.files import (
    MAX_DATA_BYTES,
    MAX_FIELD_CHARS,
    MAX_INT_DIGITS,
    bounded,
    display_path,
    read_text,
    printable,
)
from atlaskb.stix_vocabulary import (
    ATLAS_SOURCE,
    ATLAS_TYPE,
    ATTACK_SOURCE,
    ATTACK_XREF_SOURCE,
    CUSTOM_PREFIX,
    INHERITED_PHASES,
    KILL_CHAIN,
    LINK_TYPE,
    MITRE_TEXT,
    NO_DATE,
    TEXT_ORIGIN,
    UNDATED,
    shortname,
)

# Object types that carry no ATLAS knowledge and are skipped without comment.
_BOOKKEEPING = {"identity", "marking-definition", "x-mitre-collection", "x-mitre-matrix",
                "extension-definition", "language-content", "note", "opinion", "grouping"}
_WS = re.compile(r"[ \t\n\r]*")


def read_stix(path: str, display: str | None = None) -> SourceResult:
    """Read a STIX 2.1 bundle into records. Never raises for bad content: a file that is
    not JSON, binary, too large or not a bundle gives an error finding and no records."""
    display = display or display_path(path)
    result = SourceResult(path=path, kind="stix")
    text = read_text(path, display, MAX_DATA_BYTES, result.findings)
    if text is None:
        return result
    odd = _OddValues(text)
    try:
        data = json.loads(text, parse_int=odd.integer, parse_float=odd.number, parse_constant=odd.constant)
    except json.JSONDecodeError as e:
        result.findings.append(Finding("error", "bad-json", display, e.lineno,
                                       f"invalid JSON: {e.msg} (column {e.colno})"))
        return result
    except RecursionError:
        result.findings.append(Finding("error", "bad-json", display, 1, "JSON nested too deeply to read"))
        return result
    if not isinstance(data, dict) or data.get("type") != "bundle" or not isinstance(data.get("objects"), list):
        result.findings.append(Finding("error", "bad-stix", display, 1,
                                       "not a STIX bundle: expected an object with type \"bundle\" and an objects list"))
        return result
    for line, message in odd.problems:
        result.findings.append(Finding("warning", "bad-value", display, line, message))
    escaped = _ESCAPED_UNPRINTABLE.search(text)
    if escaped and _make_printable(data):
        result.findings.append(Finding("warning", "control-character", display, text_line(text, escaped.start()),
                                       "strings hold escaped control characters or lone surrogates (which no "
                                       "output can carry); each replaced by U+FFFD"))
    lines = object_lines(text, len(data["objects"]))
    _Reader(result, display, data["objects"], lines).read()
    return result


# JSON escapes that can make such characters: \u0000-\u009f and surrogates (a valid pair
# also matches; `_make_printable` then finds nothing to change).
_ESCAPED_UNPRINTABLE = re.compile(r"\\u(?:00[0-9a-fA-F]|[dD][89a-fA-F]|[fF]{3}[eEfF])")


def text_line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


class _OddValues:
    """json hooks for what JSON (or STIX) has no use for: NaN and Infinity (not JSON at
    all; `export json` could not write them back) become null, integers of more than
    MAX_INT_DIGITS digits stay their text (Python refuses to convert over 4,300 digits).
    Each is noted with its line."""

    def __init__(self, text: str):
        self.text = text
        self.problems: list[tuple[int, str]] = []

    def _line(self, token: str) -> int:
        pos = self.text.find(token)
        return text_line(self.text, pos) if pos >= 0 else 1

    def integer(self, digits: str):
        if len(digits.lstrip("-")) <= MAX_INT_DIGITS:
            return int(digits)
        self.problems.append((self._line(digits), f"a {len(digits):,}-digit integer is no usable number; kept as text"))
        return digits

    def number(self, text: str):
        value = float(text)
        if math.isfinite(value):
            return value
        self.problems.append((self._line(text), f"{text[:40]} is beyond what a float holds; read as null"))
        return None

    def constant(self, name: str):
        self.problems.append((self._line(name), f"{name} is not a JSON number; read as null"))
        return None


def _make_printable(data: Any) -> int:
    """Apply `printable` to every string of parsed JSON (keys too), in place and without
    recursion; returns how many strings changed. Tab and line ends are kept."""
    changed = 0
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            for i, value in enumerate(item):
                if isinstance(value, str):
                    clean = printable(value)
                    changed += clean != value
                    item[i] = clean
                else:
                    stack.append(value)
        elif isinstance(item, dict):
            pairs = list(item.items())
            item.clear()
            for key, value in pairs:
                clean_key = printable(key)
                changed += clean_key != key
                if isinstance(value, str):
                    clean = printable(value)
                    changed += clean != value
                    value = clean
                else:
                    stack.append(value)
                item[clean_key] = value
    return changed


def object_lines(text: str, count: int) -> list[int]:
    """The 1-based line where each element of the top-level ``objects`` array starts.

    `json` gives no positions, so the top level is walked with `raw_decode` (the same C
    scanner) to find where each object begins. Falls back to line 1 for all when the
    layout is unexpected; positions are a courtesy, never a reason to fail.
    """
    decoder = json.JSONDecoder()
    starts: list[int] = []
    try:
        i = _WS.match(text, 0).end()
        if text[i] != "{":
            return [1] * count
        i += 1
        while True:
            i = _WS.match(text, i).end()
            if text[i] == "}":
                break
            if text[i] == ",":
                i += 1
                continue
            key, i = decoder.raw_decode(text, i)
            i = _WS.match(text, i).end()
            i += 1  # the colon
            i = _WS.match(text, i).end()
            if key == "objects" and text[i] == "[":
                starts = []
                i += 1
                while True:
                    i = _WS.match(text, i).end()
                    if text[i] == "]":
                        i += 1
                        break
                    if text[i] == ",":
                        i += 1
                        continue
                    starts.append(i)
                    _, i = decoder.raw_decode(text, i)
            else:
                _, i = decoder.raw_decode(text, i)
    except (ValueError, IndexError):
        return [1] * count
    if len(starts) != count:
        return [1] * count
    lines, line, pos = [], 1, 0
    for start in starts:
        line += text.count("\n", pos, start)
        pos = start
        lines.append(line)
    return lines


def atlas_id(obj: dict, expected: str | None = None) -> str | None:
    """The ATLAS ID in an object's external references: the ``mitre-atlas`` entry first,
    then any entry whose external_id is ATLAS-shaped for the expected type."""
    refs = [r for r in _items(obj, "external_references") if isinstance(r, dict)]
    for r in refs:
        ext = r.get("external_id")
        if r.get("source_name") == ATLAS_SOURCE and isinstance(ext, str) and is_id(ext.strip()):
            return ext.strip()
    for r in refs:
        ext = r.get("external_id")
        if isinstance(ext, str) and is_id(ext.strip()) and (expected is None or type_of_id(ext.strip()) == expected):
            return ext.strip()
    return None


def _items(obj: dict, key: str) -> list:
    """A list-valued property, or [] when it is missing or not a list (defective bundles
    put strings, numbers or objects where lists belong)."""
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_FIELD_CHARS


def _is_plain(value: Any, depth: int = 0) -> bool:
    """JSON made of text, whole numbers, booleans and small nestings of them: what an
    attribute atlaskb does not know (another tool's extension) may hold and still be
    shown, searched and exported back."""
    if isinstance(value, str):
        return len(value) <= MAX_FIELD_CHARS
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if depth >= 4 or not isinstance(value, (list, dict)) or len(value) > 1000:
        return False
    items = value.values() if isinstance(value, dict) else value
    keys_ok = all(isinstance(k, str) and len(k) <= 100 for k in value) if isinstance(value, dict) else True
    return keys_ok and all(_is_plain(v, depth + 1) for v in items)


# What each x_atlaskb_* attribute must look like to be accepted: the rest of atlaskb
# (sorting, the site, search, the vault writer) relies on these types. Attributes not
# listed must be `_is_plain`.
_TEXT_ATTRS = ("maturity", "created", "modified", "target", "actor", "reporter", "case_study_type",
               "incident_date", "incident_date_granularity", "shortname", "description", "name")
_CUSTOM_CHECKS = {
    "order": lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 10**9,
    "category": lambda v: _is_list_of(v, str) and _is_plain(v),
    "lifecycle": lambda v: _is_list_of(v, str) and _is_plain(v),
    "procedure": lambda v: _is_list_of(v, dict) and _is_plain(v),
    "references": lambda v: _is_list_of(v, dict) and _is_plain(v),
    "attack_ref": lambda v: isinstance(v, dict) and _is_plain(v),
    "inferred": lambda v: isinstance(v, bool),
    "deprecated": lambda v: isinstance(v, bool),
    INHERITED_PHASES: lambda v: isinstance(v, bool),
    UNDATED: lambda v: isinstance(v, bool),
    **{attr: _is_text for attr in _TEXT_ATTRS},
}
# An attribute name from a bundle becomes a key in JSON, GraphML and the site.
_ATTR_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Attributes that describe the record itself and must not be set from a property.
_RESERVED = {"id", "type", "name", "file", "line", "steps", "step", "tactic_ref", "expected_type", "note"}


def _preview(value: Any) -> str:
    """A short repr of any parsed JSON value (repr of a huge list would be huge)."""
    if isinstance(value, (list, dict)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"{value!r:.60}"


def _date(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) < 10 or value == NO_DATE:
        return None
    return value[:10]


class _Reader:
    """One pass over the bundle's objects, then one over its relationships."""

    def __init__(self, result: SourceResult, display: str, objects: list, lines: list[int]):
        self.result = result
        self.file = display
        self.objects = objects
        self.lines = lines
        # STIX id -> (object, index) of the version used.
        self.by_stix: dict[str, tuple[dict, int]] = {}
        self.atlas: dict[str, str] = {}  # STIX id -> ATLAS id
        self.foreign: set[str] = set()  # STIX ids of objects that are not ATLAS (ATT&CK, ...)
        self.ignored: set[str] = set()  # STIX ids of bookkeeping objects (identity, marking, ...)
        self.pending_refs: list[tuple[str, str, int]] = []  # (case study, attack-pattern ref, index)
        self.records: dict[str, ObjectRecord] = {}  # STIX id -> record
        self.skipped_links: dict[str, list[str]] = {}
        self.inherited: set[str] = set()  # STIX ids of techniques whose phases are their parent's

    # -- helpers -------------------------------------------------------------------------
    def where(self, index: int) -> int:
        return self.lines[index] if index < len(self.lines) else 1

    def find(self, level: str, code: str, index: int, message: str) -> None:
        self.result.findings.append(Finding(level, code, self.file, self.where(index),
                                            f"object #{index + 1}: {message}"))

    def text(self, obj: dict, key: str, index: int) -> str:
        """A text property, cut to the field limit with a finding."""
        value, cut = bounded(_text(obj.get(key)))
        if cut:
            self.find("warning", "too-long", index, f"{obj['id'][:80]}: {key} is longer than {len(value):,} characters; cut there")
        return value

    def custom(self, obj: dict, index: int, allow: tuple[str, ...] = ()) -> dict[str, Any]:
        """The object's x_atlaskb_* properties as attributes, each checked for the type the
        rest of atlaskb relies on; a property of the wrong shape is reported and ignored."""
        found: dict[str, Any] = {}
        for key, value in obj.items():
            if not key.startswith(CUSTOM_PREFIX):
                continue
            attr = key[len(CUSTOM_PREFIX):]
            check = _CUSTOM_CHECKS.get(attr, _is_plain)
            if attr == "has_page":
                ok = isinstance(value, bool)
            elif (attr in _RESERVED and attr not in allow) or not _ATTR_NAME.fullmatch(attr):
                ok = False
            else:
                ok = check(value)
            if not ok:
                self.find("warning", "bad-property", index,
                          f"{obj['id']}: {key[:80]!r} = {_preview(value)} is not usable here; ignored")
                continue
            found[attr] = value
        return found

    # -- objects -------------------------------------------------------------------------
    def read(self) -> None:
        relationships: list[tuple[dict, int]] = []
        for index, obj in enumerate(self.objects):
            if not isinstance(obj, dict) or not isinstance(obj.get("type"), str) or not isinstance(obj.get("id"), str):
                self.find("error", "bad-object", index, "not a STIX object (no type or id); skipped")
                continue
            if obj["type"] == "relationship":
                relationships.append((obj, index))
                continue
            self.index_object(obj, index)
        self.tactic_order()
        self.collection_meta()
        for stix_id, (obj, index) in self.by_stix.items():
            self.add_object(stix_id, obj, index)
        phases = self.phase_index()
        for stix_id, record in self.records.items():
            if record.type == TECHNIQUE and stix_id not in self.inherited:
                obj, index = self.by_stix[stix_id]
                self.add_phases(record, obj, index, phases)
        self.add_relationships(relationships)
        self.report_foreign_links()
        self.result.meta["stix_objects"] = len(self.objects)

    def index_object(self, obj: dict, index: int) -> None:
        """Keep one version per STIX id. A repeated id is STIX's way of stating a newer
        version (higher `modified`); identical copies and conflicting ones are reported."""
        stix_id = obj["id"]
        if stix_id not in self.by_stix:
            self.by_stix[stix_id] = (obj, index)
            return
        first, first_index = self.by_stix[stix_id]
        where = f"object #{first_index + 1}, line {self.where(first_index)}"
        if first == obj:
            self.find("warning", "repeated-id", index, f"{stix_id} repeats {where} exactly; the copy adds nothing")
            return
        newer = str(obj.get("modified", "")) >= str(first.get("modified", ""))
        if newer:
            self.by_stix[stix_id] = (obj, index)
        used = "this one" if newer else f"the one at {where}"
        self.find("warning", "repeated-id", index,
                  f"{stix_id} is also defined at {where} with different content; "
                  f"{used} is used (latest `modified`, later in file on a tie)")

    def tactic_order(self) -> None:
        """Kill-chain order from the bundle's x-mitre-matrix `tactic_refs`, when present."""
        self.order: dict[str, int] = {}
        for obj, _ in self.by_stix.values():
            if obj.get("type") == "x-mitre-matrix":
                for ref in _items(obj, "tactic_refs"):
                    if isinstance(ref, str) and ref not in self.order:
                        self.order[ref] = len(self.order) + 1

    def collection_meta(self) -> None:
        """The data version and text origin an `x-mitre-collection` declares, as the
        source's meta (the Navigator's layers and our STIX IDs use them)."""
        self.result.meta[TEXT_ORIGIN] = MITRE_TEXT
        for obj, _ in self.by_stix.values():
            if obj.get("type") != "x-mitre-collection":
                continue
            if isinstance(obj.get("x_mitre_version"), str) and obj["x_mitre_version"].strip():
                self.result.meta["version"] = obj["x_mitre_version"].strip()[:40]
            origin = obj.get(CUSTOM_PREFIX + TEXT_ORIGIN)
            if isinstance(origin, str) and origin.strip():
                self.result.meta[TEXT_ORIGIN] = origin.strip()[:40]

    def add_object(self, stix_id: str, obj: dict, index: int) -> None:
        stix_type = obj["type"]
        expected = ATLAS_TYPE.get(stix_type)
        if expected is None:
            (self.ignored if stix_type in _BOOKKEEPING else self.foreign).add(stix_id)
            return
        object_id = atlas_id(obj, expected)
        if object_id is None:
            self.foreign.add(stix_id)
            if not any(isinstance(r, dict) and r.get("source_name") == ATTACK_SOURCE
                       for r in _items(obj, "external_references")):
                self.find("warning", "no-atlas-id", index,
                          f"{stix_type} {stix_id} ({_text(obj.get('name')) or '?'}) has no ATLAS ID; skipped")
            return
        if type_of_id(object_id) != expected:
            self.foreign.add(stix_id)
            self.find("error", "wrong-type", index,
                      f"{stix_type} {stix_id} carries {object_id}, which is not a {expected} ID; skipped")
            return
        self.atlas[stix_id] = object_id
        attrs: dict[str, Any] = {"description": self.text(obj, "description", index)}
        custom = self.custom(obj, index)
        undated = custom.pop(UNDATED, False) is True
        if custom.pop(INHERITED_PHASES, False) is True:
            self.inherited.add(stix_id)
        for key, attr in (("created", "created"), ("modified", "modified")):
            if _date(obj.get(key)) and not undated:
                attrs[attr] = _date(obj.get(key))
        if stix_type == "x-mitre-tactic":
            if isinstance(obj.get("x_mitre_shortname"), str):
                attrs["shortname"] = obj["x_mitre_shortname"]
            attrs["order"] = self.order.get(stix_id, len(self.order) + index + 1)
        for ref in _items(obj, "external_references"):
            if (isinstance(ref, dict) and ref.get("source_name") in (ATTACK_SOURCE, ATTACK_XREF_SOURCE)
                    and ref.get("external_id")):
                attrs["attack_ref"] = {"id": str(ref.get("external_id")), "url": str(ref.get("url", ""))}
        if obj.get("revoked") or obj.get("x_mitre_deprecated"):
            attrs["deprecated"] = True
        has_page = custom.pop("has_page", True) is not False
        attrs.update(custom)
        record = ObjectRecord(id=object_id, type=expected, name=self.text(obj, "name", index),
                              attrs=attrs, file=self.file, line=self.where(index), has_page=has_page)
        self.records[stix_id] = record
        self.result.objects.append(record)
        if stix_type == "report":
            self.report_refs(record, obj, index)

    def phase_index(self) -> dict[str, str]:
        """Kill-chain phase name -> tactic ID, by shortname and by the slug of the name."""
        phases: dict[str, str] = {}
        for record in self.records.values():
            if record.type == TACTIC:
                for key in (record.attrs.get("shortname"), shortname(record.name) if record.name else None):
                    if key:
                        phases.setdefault(key, record.id)
        return phases

    def add_phases(self, record: ObjectRecord, obj: dict, index: int, phases: dict[str, str]) -> None:
        for phase in _items(obj, "kill_chain_phases"):
            if not isinstance(phase, dict) or phase.get("kill_chain_name") != KILL_CHAIN:
                continue
            name = phase.get("phase_name")
            tactic = phases.get(name) if isinstance(name, str) else None
            if tactic is None:
                self.find("error", "dangling-phase", index,
                          f"{record.id}: kill-chain phase {name!r} names no tactic in the bundle; "
                          f"the technique's link to it is not added")
                continue
            self.result.links.append(LinkRecord(Ref(id=record.id), Ref(id=tactic), ACHIEVES, {},
                                                self.file, self.where(index)))

    def report_refs(self, record: ObjectRecord, obj: dict, index: int) -> None:
        """A `report` case study names its techniques in `object_refs`; those refs are
        resolved once every object is known (they are links like any other)."""
        for ref in _items(obj, "object_refs"):
            if isinstance(ref, str) and ref.startswith("attack-pattern--"):
                self.pending_refs.append((record.id, ref, index))

    # -- relationships ---------------------------------------------------------------------
    def add_relationships(self, relationships: list[tuple[dict, int]]) -> None:
        self.outside = self.foreign | self.ignored
        seen: dict[str, tuple[dict, int]] = {}
        for rel, index in relationships:
            rel_id = rel["id"]
            if rel_id in seen:
                first, first_index = seen[rel_id]
                where = f"object #{first_index + 1}, line {self.where(first_index)}"
                if first == rel:
                    self.find("warning", "repeated-id", index, f"{rel_id} repeats {where} exactly; the copy adds nothing")
                    continue
                self.find("warning", "repeated-id", index,
                          f"{rel_id} is also used at {where} for a different relationship; both are kept")
            else:
                seen[rel_id] = (rel, index)
            self.add_relationship(rel, index)
        for source, ref, index in self.pending_refs:
            target = self.atlas.get(ref)
            if target is None:
                self.find("error", "dangling-ref", index,
                          f"{source} refers to {ref}, which is not an ATLAS technique in the bundle; link not added")
                continue
            self.result.links.append(LinkRecord(Ref(id=source), Ref(id=target), USES, {}, self.file, self.where(index)))

    def add_relationship(self, rel: dict, index: int) -> None:
        rel_type, src, dst = rel.get("relationship_type"), rel.get("source_ref"), rel.get("target_ref")
        if not all(isinstance(v, str) and v for v in (rel_type, src, dst)):
            self.find("error", "bad-object", index,
                      f"relationship {rel['id']} lacks relationship_type, source_ref or target_ref; skipped")
            return
        if src in self.outside or dst in self.outside:
            self.skipped_links.setdefault(rel_type, []).append(rel["id"])
            return
        ends = []
        for role, ref in (("source", src), ("target", dst)):
            object_id = self.atlas.get(ref)
            if object_id is None:
                other = self.atlas.get(dst if role == "source" else src, dst if role == "source" else src)
                self.find("error", "dangling-ref", index,
                          f"{rel_type} relationship {rel['id']}: its {role} {ref} is not in the bundle "
                          f"(other end: {other}); link not added")
                return
            ends.append(object_id)
        link_type = LINK_TYPE.get(rel_type)
        if link_type is None:
            self.find("warning", "unsupported-relationship", index,
                      f"{rel_type} relationship {ends[0]} → {ends[1]} is not an ATLAS relationship type; not added")
            return
        attrs = self.custom(rel, index, allow=("steps",) if link_type == USES else ())
        if link_type == MITIGATES:
            note = " ".join(self.text(rel, "description", index).split())
            if note:
                attrs["note"] = note
        line = self.where(index)
        if link_type == USES:
            steps = attrs.pop("steps", None)
            steps = steps if isinstance(steps, list) else []
            added = 0
            for step in steps:
                number = step.get("step") if isinstance(step, dict) else None
                if not isinstance(number, int) or isinstance(number, bool):
                    self.find("warning", "bad-property", index,
                              f"uses relationship {rel['id']}: step {step!r} is not {{step: N, tactic: ID}}; ignored")
                    continue
                tactic = step.get("tactic")
                self.result.links.append(LinkRecord(
                    Ref(id=ends[0]), Ref(id=ends[1]), USES,
                    {**attrs, "step": number, "tactic_ref": Ref(id=tactic) if isinstance(tactic, str) else None},
                    self.file, line))
                added += 1
            if added:
                return
            # No usable step: the relationship itself still stands (never lose a link).
        self.result.links.append(LinkRecord(Ref(id=ends[0]), Ref(id=ends[1]), link_type, attrs, self.file, line))

    def report_foreign_links(self) -> None:
        """Relationships that touch objects outside ATLAS (ATT&CK techniques in a combined
        bundle, say) are outside this knowledge base: one summary finding per type."""
        if self.foreign:
            kinds = sorted({self.by_stix[s][0]["type"] for s in self.foreign if s in self.by_stix})
            self.result.findings.append(Finding(
                "warning", "not-atlas", self.file, 1,
                f"{len(self.foreign)} object(s) without an ATLAS ID ({', '.join(kinds)}) are outside ATLAS; skipped"))
        for rel_type, ids in sorted(self.skipped_links.items()):
            self.result.findings.append(Finding(
                "warning", "not-atlas-link", self.file, 1,
                f"{len(ids)} {rel_type} relationship(s) involve objects outside ATLAS and are not added "
                f"(first: {ids[0]})"))
