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
    is_id,
    type_of_id,
)
from atlaskb.sources.files import MAX_DATA_BYTES, YamlProblem, load_data_yaml, read_text


def _date(value: Any) -> str | None:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    return str(value) if value not in (None, "") else None


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


def looks_like_atlas_yaml(head: str) -> bool:
    """Content sniffing: an ATLAS release has a top-level `matrices:` key."""
    return any(line.startswith("matrices:") for line in head.splitlines())


def read_atlas_yaml(path: str, display: str | None = None) -> SourceResult:
    """Read an ATLAS.yaml release into records. Unusable entries become findings."""
    display = display or path
    result = SourceResult(path=path, kind="atlas-yaml")
    text = read_text(path, display, MAX_DATA_BYTES, result.findings)
    if text is None:
        return result
    try:
        data = load_data_yaml(text)
    except YamlProblem as e:
        result.findings.append(Finding("error", "bad-yaml", display, e.line, str(e)))
        return result
    if not isinstance(data, dict) or not isinstance(data.get("matrices"), list):
        result.findings.append(Finding("error", "bad-yaml", display, 1, "not an ATLAS release: no `matrices` list"))
        return result
    result.meta["version"] = str(data.get("version", ""))
    result.meta["name"] = str(data.get("name", ""))
    result.meta["text_origin"] = "mitre-atlas"  # MITRE's own words (see atlaskb.sources.stix.TEXT_ORIGIN)
    add = _Adder(result, display)
    for matrix in data["matrices"]:
        if not isinstance(matrix, dict):
            continue
        for item in matrix.get("tactics") or []:
            add.tactic(item)
        for item in matrix.get("techniques") or []:
            add.technique(item)
        for item in matrix.get("mitigations") or []:
            add.mitigation(item)
    for item in data.get("case-studies") or []:
        add.case_study(item)
    return result


class _Adder:
    """Turns release entries into records; one method per object kind."""

    def __init__(self, result: SourceResult, display: str):
        self.result = result
        self.file = display
        self.order: dict[str, int] = {}

    def _object(self, item: Any, expected: str) -> ObjectRecord | None:
        line = item.get("__line__", 1) if isinstance(item, dict) else 1
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            self.result.findings.append(Finding("error", "bad-entry", self.file, line, f"{expected} entry without an id; skipped"))
            return None
        obj_id = item["id"].strip()
        obj_type = type_of_id(obj_id)
        if obj_type != expected:
            self.result.findings.append(
                Finding("error", "bad-entry", self.file, line, f"{obj_id!r} is not a {expected} ID; skipped"))
            return None
        record = ObjectRecord(id=obj_id, type=expected, name=_text(item.get("name")), file=self.file, line=line)
        # The release lists tactics in kill-chain order; keep it for the matrix.
        self.order[expected] = self.order.get(expected, 0) + 1
        record.attrs["order"] = self.order[expected]
        record.attrs["description"] = _text(item.get("description"))
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
        if item.get("maturity"):
            record.attrs["maturity"] = str(item["maturity"]).strip().lower()
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
        record.attrs["description"] = _text(item.get("summary"))
        record.attrs["incident_date"] = _date(item.get("incident-date"))
        for key, attr in (("target", "target"), ("actor", "actor"), ("reporter", "reporter"),
                          ("case-study-type", "case_study_type"), ("incident-date-granularity", "incident_date_granularity")):
            if item.get(key):
                record.attrs[attr] = _text(item.get(key)) or str(item.get(key))
        refs = [
            {"title": _text(r.get("title")), "url": _text(r.get("url"))}
            for r in item.get("references") or [] if isinstance(r, dict)
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
            procedure.append({"step": step, "technique": entry.get("technique"), "tactic": tactic,
                              "description": _text(entry.get("description"))})
            self._link(record.id, entry.get("technique"), USES, line, step=step,
                       tactic_ref=Ref(id=tactic) if isinstance(tactic, str) else None)
        record.attrs["procedure"] = procedure
