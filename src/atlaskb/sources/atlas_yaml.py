"""MITRE's ATLAS.yaml releases: the authoritative facts, with line numbers kept.

The release states each relationship once (techniques name their tactics and parent,
mitigations name their techniques, case-study procedure steps name a technique and a
tactic); this module turns each into a LinkRecord with the line it came from.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from atlaskb.model import (
    ACHIEVES,
    CASE_STUDY,
    MITIGATES,
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
    id_hint,
    is_id,
    type_of_id,
)
from atlaskb.sources.files import MAX_DATA_BYTES, YamlProblem, bounded, display_path, load_data_yaml, read_text
from atlaskb.stix_vocabulary import MITRE_TEXT, TEXT_ORIGIN


def _date(value: Any) -> str | None:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    text = _scalar_text(value)
    return text[:40] if text else None  # kept as written (a finding says why, if it was not a date)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _entries(value: Any) -> list:
    """A list-valued field as a list: a lone value (`tactics: AML.TA0001`, a hand-edited
    `category: Technical`) is a list of one, never iterated character by character."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _scalar_text(value: Any) -> str | None:
    """A field meant to hold text: strings as they are, numbers and dates written out,
    anything else (a list, a mapping) None."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float, _dt.date)) and not isinstance(value, bool):
        return str(value)
    return None


def _kind(value: Any) -> str:
    """What a YAML value is, in words for a message."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a mapping" if isinstance(value, dict) else f"a {type(value).__name__}"


def looks_like_atlas_yaml(head: str) -> bool:
    """Content sniffing: an ATLAS release has a top-level `matrices:` key."""
    return any(line.startswith("matrices:") for line in head.splitlines())


def read_atlas_yaml(path: str, display: str | None = None) -> SourceResult:
    """Read an ATLAS.yaml release into records. Unusable entries become findings."""
    display = display or display_path(path)
    result = SourceResult(path=path, kind="atlas-yaml")
    text = read_text(path, display, MAX_DATA_BYTES, result.findings)
    if text is None:
        return result
    problems: list[YamlProblem] = []
    try:
        data = load_data_yaml(text, problems)
    except YamlProblem as e:
        result.findings.append(Finding("error", "bad-yaml", display, e.line, str(e)))
        return result
    for problem in problems:
        result.findings.append(Finding("warning", "bad-value", display, problem.line, str(problem)))
    if not isinstance(data, dict) or not isinstance(data.get("matrices"), list):
        result.findings.append(Finding("error", "bad-yaml", display, 1, "not an ATLAS release: no `matrices` list"))
        return result
    result.meta["version"] = _scalar_text(data.get("version")) or ""
    result.meta["name"] = _scalar_text(data.get("name")) or ""
    result.meta[TEXT_ORIGIN] = MITRE_TEXT  # MITRE's own words
    add = _Adder(result, display)
    for matrix in data["matrices"]:
        if not isinstance(matrix, dict):
            add.problem(1, "a `matrices` entry is not a mapping; ignored")
            continue
        for item in add.listed(matrix, "tactics", "matrix"):
            add.tactic(item)
        for item in add.listed(matrix, "techniques", "matrix"):
            add.technique(item)
        for item in add.listed(matrix, "mitigations", "matrix"):
            add.mitigation(item)
    for item in add.listed(data, "case-studies", "release"):
        add.case_study(item)
    return result


class _Adder:
    """Turns release entries into records; one method per object kind."""

    def __init__(self, result: SourceResult, display: str):
        self.result = result
        self.file = display
        self.order: dict[str, int] = {}

    def problem(self, line: int, message: str, level: str = "error") -> None:
        self.result.findings.append(Finding(level, "bad-entry", self.file, line, message))

    def listed(self, mapping: dict, key: str, owner: str) -> list:
        """`mapping[key]` when it is a list; a missing key is an empty list, and any other
        shape (`tactics: 5`, `mitigations: true`) a finding and an empty list."""
        value = mapping.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(mapping.get("__line__", 1), f"{owner}'s `{key}` is {_kind(value)}, not a list; ignored")
            return []
        return value

    def text(self, item: dict, key: str, record: ObjectRecord) -> str:
        """A text field, cut to the field limit with a finding."""
        value, cut = bounded(_text(item.get(key)))
        if cut:
            self.problem(record.line, f"{record.id}: `{key}` is longer than {len(value):,} characters; cut there",
                         level="warning")
        return value

    def _object(self, item: Any, expected: str) -> ObjectRecord | None:
        line = item.get("__line__", 1) if isinstance(item, dict) else 1
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            self.result.findings.append(Finding("error", "bad-entry", self.file, line, f"{expected} entry without an id; skipped"))
            return None
        obj_id = item["id"].strip()
        obj_type = type_of_id(obj_id)
        if obj_type != expected:
            self.result.findings.append(
                Finding("error", "bad-entry", self.file, line, f"{obj_id[:60]!r} is not a {expected} ID{id_hint(obj_id)}; skipped"))
            return None
        record = ObjectRecord(id=obj_id, type=expected, file=self.file, line=line)
        record.name = self.text(item, "name", record)
        # The release lists tactics in kill-chain order; keep it for the matrix.
        self.order[expected] = self.order.get(expected, 0) + 1
        record.attrs["order"] = self.order[expected]
        record.attrs["description"] = self.text(item, "description", record)
        for key, attr in (("created_date", "created"), ("modified_date", "modified")):
            if item.get(key) is not None:
                record.attrs[attr] = _date(item.get(key))
        ref = item.get("ATT&CK-reference")
        if isinstance(ref, dict):
            record.attrs["attack_ref"] = {"id": str(ref.get("id", "")), "url": str(ref.get("url", ""))}
        self.result.objects.append(record)
        return record

    def _link(self, source: str, target: Any, edge_type: str, line: int, **attrs) -> None:
        if isinstance(target, dict):  # `{id: AML.T0001}` where a bare ID is usual
            line = target.get("__line__", line)
            target = target.get("id")
        if not isinstance(target, str) or not target.strip():
            self.result.findings.append(Finding("error", "broken-link", self.file, line, f"{edge_type} link from {source} has no target ID"))
            return
        if not is_id(target.strip()):
            self.result.findings.append(Finding("error", "broken-link", self.file, line,
                                                f"{edge_type} link from {source}: {target.strip()[:60]!r} is not an ATLAS ID; ignored"))
            return
        self.result.links.append(LinkRecord(Ref(id=source), Ref(id=target.strip()), edge_type, attrs, self.file, line))

    def _labels(self, item: dict, key: str, record: ObjectRecord) -> list[str]:
        """A list of plain labels. ATLAS 5.6.0 has technique entries misplaced inside
        two mitigations' `ml-lifecycle` lists; they are reported, not read as labels, and
        not turned into relationships the release does not state where it should."""
        labels = []
        for entry in _entries(item.get(key)):
            if isinstance(entry, str):
                labels.append(entry.strip())
                continue
            line = entry.get("__line__", record.line) if isinstance(entry, dict) else record.line
            what = f"a reference to {entry.get('id')}" if isinstance(entry, dict) and entry.get("id") else "a non-text entry"
            self.result.findings.append(Finding(
                "warning", "misplaced-entry", self.file, line,
                f"{record.id}: {key} holds {what}; ignored (not a {key} label, not a stated relationship)"))
        return labels

    def tactic(self, item: Any) -> None:
        self._object(item, TACTIC)

    def technique(self, item: Any) -> None:
        record = self._object(item, TECHNIQUE)
        if record is None:
            return
        maturity = _scalar_text(item.get("maturity"))
        if maturity:
            record.attrs["maturity"] = maturity[:40].lower()
        for tactic in _entries(item.get("tactics")):
            self._link(record.id, tactic, ACHIEVES, record.line)
        if item.get("subtechnique-of"):
            self._link(record.id, item["subtechnique-of"], SUBTECHNIQUE_OF, record.line)

    def mitigation(self, item: Any) -> None:
        record = self._object(item, MITIGATION)
        if record is None:
            return
        record.attrs["category"] = self._labels(item, "category", record)
        record.attrs["lifecycle"] = self._labels(item, "ml-lifecycle", record)
        for entry in _entries(item.get("techniques")):
            if isinstance(entry, dict):
                line = entry.get("__line__", record.line)
                note = " ".join(_text(entry.get("use")).split())
                self._link(record.id, entry.get("id"), MITIGATES, line, **({"note": note} if note else {}))
            else:
                self._link(record.id, entry, MITIGATES, record.line)

    def case_study(self, item: Any) -> None:
        record = self._object(item, CASE_STUDY)
        if record is None:
            return
        record.attrs["description"] = self.text(item, "summary", record)
        record.attrs["incident_date"] = _date(item.get("incident-date"))
        for key, attr in (("target", "target"), ("actor", "actor"), ("reporter", "reporter"),
                          ("case-study-type", "case_study_type"), ("incident-date-granularity", "incident_date_granularity")):
            if item.get(key):
                value = _scalar_text(item.get(key))
                if value is None:
                    self.problem(record.line, f"{record.id}: `{key}` is not text; ignored", level="warning")
                else:
                    record.attrs[attr] = bounded(value)[0]
        refs = [
            {"title": bounded(_text(r.get("title")))[0], "url": bounded(_text(r.get("url")))[0]}
            for r in self.listed(item, "references", record.id) if isinstance(r, dict)
        ]
        if refs:
            record.attrs["references"] = refs
        procedure = []
        steps = item.get("procedure")
        if steps is not None and not isinstance(steps, list):
            self.result.findings.append(Finding("error", "bad-entry", self.file, record.line,
                                                f"{record.id}: procedure is not a list of steps; ignored"))
            steps = []
        for step, entry in enumerate(steps or [], start=1):
            if not isinstance(entry, dict):
                self.result.findings.append(Finding("error", "bad-entry", self.file, record.line,
                                                    f"{record.id}: procedure step {step} is not a mapping; ignored"))
                continue
            line = entry.get("__line__", record.line)
            tactic = entry.get("tactic")
            technique = entry.get("technique")
            procedure.append({"step": step, "technique": technique if isinstance(technique, str) else None,
                              "tactic": tactic if isinstance(tactic, str) else None,
                              "description": self.text(entry, "description", record)})
            self._link(record.id, entry.get("technique"), USES, line, step=step,
                       tactic_ref=Ref(id=tactic) if isinstance(tactic, str) else None)
        record.attrs["procedure"] = procedure
