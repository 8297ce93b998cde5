"""Reading untrusted files safely: size limits, binary and encoding checks, safe YAML.

Every source reads through here so that a 50 MB page, a PNG renamed `.md`, a Latin-1
file or a YAML alias bomb becomes a `Finding` naming the file and line, never a crash.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from atlaskb.model import Finding

MAX_PAGE_BYTES = 2 * 1024 * 1024  # a real ATLAS page is a few KB; 2 MB is generous
MAX_DATA_BYTES = 64 * 1024 * 1024  # ATLAS.yaml / STIX bundles are a few MB

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _NoAliasSafeLoader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors and aliases: they have no use in frontmatter and
    are how a 'billion laughs' document turns a few bytes into an exponential structure."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


class _LineLoader(_Loader):
    """Records the 1-based line of every mapping under the key ``__line__`` so objects
    read from ATLAS.yaml keep their provenance."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
)


class YamlProblem(Exception):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def _yaml_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def _describe(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    text = " ".join(p for p in (context, problem) if p) or str(exc).splitlines()[0]
    return f"invalid YAML: {text}"


_SIMPLE_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*):[ \t]*(.*?)[ \t]*$")
_PLAIN_TEXT = re.compile(r"^[A-Za-z][A-Za-z0-9 _.,()/+-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _simple_frontmatter(text: str) -> dict | None:
    """Frontmatter made only of `key: "string"`, `key: plain words` and `key: 123`
    lines (what every real ATLAS page has) parsed directly: YAML gives the same values,
    at a fraction of the cost on a 10,000-page vault. None means "ask the YAML parser"."""
    out: dict[str, Any] = {}
    for line in text.split("\n"):
        if not line.strip():
            continue
        m = _SIMPLE_KEY.match(line)
        if m is None:
            return None
        key, value = m.groups()
        if key in out or key.lower() in _YAML_WORDS or not value.isprintable():
            return None
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and '"' not in value[1:-1] and "\\" not in value:
            out[key] = value[1:-1]
        elif value.isdigit() and (value == "0" or not value.startswith("0")):
            out[key] = int(value)
        elif _PLAIN_TEXT.match(value) and value.lower() not in _YAML_WORDS and " #" not in value:
            out[key] = value
        else:
            return None
    return out


def load_frontmatter_yaml(text: str) -> Any:
    """Parse a page's frontmatter. Raises YamlProblem with a line relative to `text`.

    Simple `key: value` frontmatter takes a direct path; otherwise the C loader is used
    unless the text could hold an anchor or alias, in which case the pure-Python loader
    that refuses them decides.
    """
    simple = _simple_frontmatter(text)
    if simple is not None:
        return simple
    loader = _NoAliasSafeLoader if ("&" in text or "*" in text) else _Loader
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - safe loaders only
    except yaml.YAMLError as e:
        raise YamlProblem(_describe(e), _yaml_line(e)) from None
    except RecursionError:
        raise YamlProblem("YAML nested too deeply", 1) from None


def load_data_yaml(text: str) -> Any:
    """Parse a data file (ATLAS.yaml) with line numbers, refusing shared (aliased) nodes."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeConstructor-based
    except yaml.YAMLError as e:
        raise YamlProblem(_describe(e), _yaml_line(e)) from None
    except RecursionError:
        raise YamlProblem("YAML nested too deeply", 1) from None
    _refuse_shared_nodes(data)
    return data


def _refuse_shared_nodes(data: Any) -> None:
    """Aliases make the same container appear twice; walking such a document (to export it,
    say) can take exponential time. ATLAS data has none, so any is refused."""
    seen: set[int] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)):
            if id(item) in seen:
                line = item.get("__line__", 1) if isinstance(item, dict) else 1
                raise YamlProblem("YAML aliases are not allowed", line)
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, dict) else item)


def read_text(path: str, display: str, limit: int, findings: list[Finding]) -> str | None:
    """Read a file as UTF-8 text, or add a finding and return None when it cannot be used.

    Non-UTF-8 text is still read (undecodable bytes replaced) with a warning naming the
    first bad line, so one stray Latin-1 character does not hide a whole page.
    """
    try:
        size = os.path.getsize(path)
        if size > limit:
            findings.append(
                Finding("error", "too-large", display, 1,
                        f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit; skipped")
            )
            return None
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as e:
        findings.append(Finding("error", "unreadable", display, 1, f"cannot read file: {e.strerror or e}"))
        return None
    if not raw.strip():
        findings.append(Finding("warning", "empty-file", display, 1, "file is empty; skipped"))
        return None
    if b"\x00" in raw[:8192]:
        findings.append(Finding("error", "not-text", display, 1, "file is binary, not text; skipped"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        findings.append(
            Finding("warning", "encoding", display, line,
                    f"not valid UTF-8 (byte 0x{raw[e.start]:02x}); undecodable bytes replaced")
        )
        text = raw.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")
