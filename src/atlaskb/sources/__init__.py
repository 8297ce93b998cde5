"""Input formats and how a path is recognised as one of them (by content, not by name).

`read_source(path)` is the only entry point the KnowledgeBase needs: a folder is a vault;
a file is an ATLAS.yaml release, a STIX bundle or a single vault page, whatever its
extension (the AML.M0006 seed page is a `.txt`).
"""

from __future__ import annotations

import os

from atlaskb.errors import SourceError
from atlaskb.model import SourceResult
from atlaskb.resources import bundled_vault

_SNIFF_BYTES = 4096


def detect_kind(path: str) -> str:
    """'vault', 'atlas-yaml', 'stix' or 'page'. Raises SourceError for a missing path."""
    if os.path.isdir(path):
        return "vault"
    if not os.path.exists(path):
        from atlaskb.sources.files import display_path

        raise SourceError(f"source not found: {display_path(path)}")
    from atlaskb.sources.files import display_path, read_regular

    try:
        head = read_regular(path, _SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError as e:
        raise SourceError(f"cannot read source {display_path(path)}: {e.strerror or e}") from None
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{") and stripped[1:].lstrip(" \t\r\n").startswith(('"', "}")):
        # A JSON object: never a vault page. Whether it is a bundle is read_stix's to say
        # (its `"type": "bundle"` may come after 4 KB of objects when keys are sorted).
        return "stix"
    from atlaskb.sources.atlas_yaml import looks_like_atlas_yaml

    if looks_like_atlas_yaml(head):
        return "atlas-yaml"
    if not stripped.startswith(("---", "#")) and _has_top_level_matrices(path):
        # A release re-dumped with sorted keys (PyYAML's default) puts `case-studies:`
        # first and `matrices:` megabytes later. Pages start with frontmatter or a heading.
        return "atlas-yaml"
    return "page"


def _has_top_level_matrices(path: str) -> bool:
    from atlaskb.sources.files import MAX_DATA_BYTES

    try:
        if os.path.getsize(path) > MAX_DATA_BYTES:
            return False  # read_atlas_yaml would refuse it anyway
        with open(path, "rb") as fh:
            return any(line.startswith(b"matrices:") for line in fh)
    except OSError:
        return False


def read_source(path: str) -> SourceResult:
    """Read one source of any supported kind into records and findings. `atlas:5.4.0`
    names a release downloaded by `atlaskb release get`."""
    if path[:6].lower() == "atlas:":
        from atlaskb.releases import expand

        path = expand(path)
    kind = detect_kind(path)
    if kind == "vault":
        from atlaskb.sources.vault import read_vault

        return read_vault(path)
    if kind == "atlas-yaml":
        from atlaskb.sources.atlas_yaml import read_atlas_yaml

        return read_atlas_yaml(path)
    if kind == "stix":
        from atlaskb.sources.stix import read_stix

        return read_stix(path)
    from atlaskb.sources.vault import read_page

    return read_page(path)


def default_sources() -> list[str]:
    """With no --source, the bundled ATLAS vault."""
    return [bundled_vault()]


__all__ = ["detect_kind", "read_source", "default_sources"]
