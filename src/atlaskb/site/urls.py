"""Where each object's page lives in the site, and how pages link to each other.

Every page sits either at the site root (home, search, coverage, problems) or one folder
down (``techniques/AML.T0043.html``, ``evidence/index.html``), so a page links to any other
with a fixed prefix (``""`` or ``"../"``): relative links only, which is what makes the site
work from ``file://`` and from any static host.

IDs come from untrusted vaults and releases, so file names are derived, never trusted:
characters outside ``[A-Za-z0-9._-]`` become ``_``, and names that collide (ignoring case,
for case-insensitive file systems) or that would shadow a folder's ``index.html`` get a
numbered suffix, assigned in ID order so the result is deterministic.
"""

from __future__ import annotations

import re

from atlaskb.model import CASE_STUDY, MITIGATION, TACTIC, TECHNIQUE, id_sort_key

FOLDERS = {TACTIC: "tactics", TECHNIQUE: "techniques", MITIGATION: "mitigations", CASE_STUDY: "case-studies"}
# Objects whose type is unknown (a release's odd entry) still get a page, here.
OTHER_FOLDER = "other"
TYPE_LABELS = {TACTIC: "Tactic", TECHNIQUE: "Technique", MITIGATION: "Mitigation", CASE_STUDY: "Case study"}
TYPE_PLURALS = {TACTIC: "Tactics", TECHNIQUE: "Techniques", MITIGATION: "Mitigations", CASE_STUDY: "Case studies"}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def folder_of(obj_type: str | None) -> str:
    return FOLDERS.get(obj_type or "", OTHER_FOLDER)


def allocate(ids_by_type: dict[str, list[str]]) -> dict[str, str]:
    """Map every object ID to its page path relative to the site root."""
    urls: dict[str, str] = {}
    used_by_folder: dict[str, set[str]] = {}
    for obj_type in sorted(ids_by_type, key=lambda t: (folder_of(t), t or "")):
        folder = folder_of(obj_type)
        used = used_by_folder.setdefault(folder, {"index"})
        for object_id in sorted(ids_by_type[obj_type], key=id_sort_key):
            stem = _UNSAFE.sub("_", object_id).strip(".") or "object"
            candidate, n = stem, 1
            while candidate.lower() in used:
                n += 1
                candidate = f"{stem}-{n}"
            used.add(candidate.lower())
            urls[object_id] = f"{folder}/{candidate}.html"
    return urls


# Where MITRE's ATLAS site (atlas.mitre.org) has a page per object: /tactics/AML.TA0002,
# /techniques/AML.T0043 (sub-techniques alike: /techniques/AML.T0043.000),
# /mitigations/AML.M0000, /studies/AML.CS0000, the links ATLAS.yaml itself uses.
MITRE_SITE = "https://atlas.mitre.org/"
MITRE_FOLDERS = {TACTIC: ("tactics", re.compile(r"AML\.TA\d{4}")),
                 TECHNIQUE: ("techniques", re.compile(r"AML\.T\d{4}(\.\d{3})?")),
                 MITIGATION: ("mitigations", re.compile(r"AML\.M\d{4}")),
                 CASE_STUDY: ("studies", re.compile(r"AML\.CS\d{4}"))}


def mitre_url(object_id: str, obj_type: str | None) -> str | None:
    """The object's page on MITRE's ATLAS site; None for IDs that are not ATLAS's own
    (a vault's ACME.M0001 has no page there)."""
    folder, pattern = MITRE_FOLDERS.get(obj_type or "", (None, None))
    if folder is None or not pattern.fullmatch(object_id):
        return None
    return f"{MITRE_SITE}{folder}/{object_id}"


def root_of(page_path: str) -> str:
    """The prefix that leads from `page_path` back to the site root."""
    return "../" * page_path.count("/")
