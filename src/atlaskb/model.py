"""The vocabulary every other module speaks: object types, IDs, records and findings.

Sources turn files into `ObjectRecord`s and `LinkRecord`s; the KnowledgeBase turns those
into a graph. Keeping these plain dataclasses (no graph, no I/O) lets loaders, the CLI,
the site and the defenses share one meaning of "a technique" or "a finding".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

TACTIC = "tactic"
TECHNIQUE = "technique"
MITIGATION = "mitigation"
CASE_STUDY = "case-study"
OBJECT_TYPES = (TACTIC, TECHNIQUE, MITIGATION, CASE_STUDY)

MITIGATES = "mitigates"  # mitigation -> technique, attrs: note
SUBTECHNIQUE_OF = "subtechnique-of"  # sub-technique -> parent technique
ACHIEVES = "achieves"  # technique -> tactic
USES = "uses"  # case study -> technique, attrs: step, tactic
EDGE_TYPES = (MITIGATES, SUBTECHNIQUE_OF, ACHIEVES, USES)
# The object types each edge type joins, (source, target): the builder rejects a link
# whose ends disagree, lint checks pages on both sides, a vault section's links point at
# the type on the other side.
EDGE_ENDS = {
    MITIGATES: (MITIGATION, TECHNIQUE),
    SUBTECHNIQUE_OF: (TECHNIQUE, TECHNIQUE),
    ACHIEVES: (TECHNIQUE, TACTIC),
    USES: (CASE_STUDY, TECHNIQUE),
}

MATURITY_ORDER = {"realized": 3, "demonstrated": 2, "feasible": 1}

# An ATLAS-shaped ID: a prefix (AML, or an organisation's own such as ACME), a kind
# (TA tactic, T technique, M mitigation, CS case study), four digits, and for
# sub-techniques a three-digit suffix. ASCII only: `\d` would also take fullwidth or
# Arabic-Indic digits, so `AML.T０００１` would be a second, different "AML.T0001".
ID_RE = re.compile(r"\b([A-Z][A-Z0-9]{1,9})\.(TA|CS|T|M)([0-9]{4})(?:\.([0-9]{3}))?\b")
_ID_FULL_RE = re.compile(r"^" + ID_RE.pattern[2:-2] + r"$")
_KIND_TO_TYPE = {"TA": TACTIC, "T": TECHNIQUE, "M": MITIGATION, "CS": CASE_STUDY}


def is_id(text: str) -> bool:
    """True when `text` is exactly one ATLAS-shaped ID (e.g. ``AML.T0043.002``)."""
    return bool(_ID_FULL_RE.match(text))


def id_candidates(text: str) -> tuple[str, str, str]:
    """The IDs a typed `text` may mean, in the order to try them: as written, in upper
    case, and in upper case with the `AML.` prefix people leave out (`t0043.002` ->
    `AML.T0043.002`). Surrounding spaces are dropped."""
    written = text.strip()
    upper = written.upper()
    return written, upper, f"AML.{upper}"


def id_hint(text: str) -> str:
    """For a message about `text` that is not an ID: ``" (written with non-ASCII
    characters; the ASCII form is AML.T0001)"`` when Unicode normalisation (NFKC) would
    make it one, else "". Such IDs are refused rather than silently normalised: the
    author should see that the page names something other than what it seems to."""
    if text.isascii() or len(text) > 200:
        return ""
    found = find_id(unicodedata.normalize("NFKC", text))
    return f" (written with non-ASCII characters; the ASCII form is {found})" if found else ""


def find_id(text: str) -> str | None:
    """The first ATLAS-shaped ID inside `text`, or None."""
    m = ID_RE.search(text)
    return m.group(0) if m else None


def type_of_id(object_id: str) -> str | None:
    """The object type an ID's shape implies, or None for text that is not an ID."""
    m = _ID_FULL_RE.match(object_id)
    return _KIND_TO_TYPE[m.group(2)] if m else None


def parent_of_id(object_id: str) -> str | None:
    """``AML.T0043.002`` -> ``AML.T0043``; None for IDs without a sub-technique suffix."""
    m = _ID_FULL_RE.match(object_id)
    if not m or m.group(4) is None:
        return None
    return object_id.rsplit(".", 1)[0]


def id_sort_key(object_id: str) -> tuple:
    """Orders IDs the way ATLAS lists them: by prefix, kind, number, then sub-number.

    Plain string order would put ``AML.T0043.002`` and ``AML.T0043`` fine but mixes
    kinds and organisations; this key keeps ``AML`` first and numbers numeric.
    """
    m = _ID_FULL_RE.match(object_id)
    if not m:
        return (2, object_id, "", 0, -1)
    prefix, kind, num, sub = m.groups()
    return (0 if prefix == "AML" else 1, prefix, kind, int(num), int(sub) if sub else -1)


@dataclass
class Finding:
    """One problem seen in the input. Loaders collect these; only the CLI picks exit codes."""

    level: str  # "error" | "warning"
    code: str
    file: str
    line: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level}: [{self.code}] {self.message}"


@dataclass
class Ref:
    """How a source names the other end of a link before anything is resolved.

    A vault link carries up to three clues (the ID in its label, its path, the name in its
    label); the KnowledgeBase resolves them in that order of trust.
    """

    id: str | None = None
    path: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        return self.id or self.path or self.name or "?"


@dataclass
class ObjectRecord:
    """One object as one source states it. `has_page` is False when known only from links."""

    id: str
    type: str
    name: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    file: str = ""
    line: int = 0
    has_page: bool = True
    page_path: str | None = None  # vault-relative path without extension, for link resolution


@dataclass
class LinkRecord:
    """One relationship as one source states it, e.g. a mitigation page listing a technique.

    `declared_by` says which side's page stated it (used by lint to find one-sided links).
    """

    source: Ref
    target: Ref
    type: str
    attrs: dict[str, Any] = field(default_factory=dict)
    file: str = ""
    line: int = 0
    declared_by: str = ""  # the object type whose page stated it, or "" for data files


@dataclass
class SourceResult:
    """What one source yielded: its records and the findings met while reading it."""

    path: str
    kind: str  # "vault" | "page" | "atlas-yaml" | "stix"
    objects: list[ObjectRecord] = field(default_factory=list)
    links: list[LinkRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
