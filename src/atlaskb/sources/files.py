"""Reading untrusted files safely: size limits, binary and encoding checks, safe YAML.

Every source reads through here so that a 50 MB page, a PNG renamed `.md`, a Latin-1
file or a YAML alias bomb becomes a `Finding` naming the file and line, never a crash.
"""

from __future__ import annotations

import os
import re
import stat
from typing import Any

import yaml

from atlaskb.model import Finding

MAX_PAGE_BYTES = 2 * 1024 * 1024  # a real ATLAS page is a few KB; 2 MB is generous
MAX_DATA_BYTES = 64 * 1024 * 1024  # ATLAS.yaml / STIX bundles are a few MB
# One text field (a description, a summary, a name, a note). ATLAS 5.6.0's longest is
# about 5,600 characters; a longer one is cut here with a finding, so one huge field
# cannot make every later step (site, search index, exports) slow or large.
MAX_FIELD_CHARS = 64 * 1024
# Aliases to scalars are allowed (they are harmless when small), but a few bytes of
# `*big` repeated would expand to gigabytes in every export: their expanded text is
# counted, and a file whose aliases expand beyond this is refused.
MAX_ALIAS_EXPANSION_CHARS = 1024 * 1024
# Integers longer than this are not numbers any ATLAS field holds; Python refuses to
# convert more than 4,300 digits, and nothing is gained by trying.
MAX_INT_DIGITS = 18

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Tolerant:
    """Constructor behaviour shared by every YAML loader here: a scalar that YAML would
    convert but cannot (an impossible date such as 2023-02-30, a 5,000-digit integer) is
    kept as the text written, and the problem noted in `self.problems` with its line, so
    one bad value costs a finding instead of the whole file."""

    def __init__(self, stream):
        super().__init__(stream)
        self.problems: list[YamlProblem] = []
        self.alias_chars = 0

    def construct_scalar(self, node):
        value = super().construct_scalar(node)
        if isinstance(value, str) and first_unprintable(value) is not None:
            # Double-quoted escapes ("\x1b", "\ud800") make characters no text field may hold.
            self.problems.append(YamlProblem("value holds control characters or lone surrogates; "
                                             "each replaced by U+FFFD", node.start_mark.line + 1))
            value = printable(value)
        return value

    def construct_object(self, node, deep=False):
        if isinstance(node, yaml.ScalarNode) and node in self.constructed_objects:
            # A second visit to a scalar node is an alias to it: count what it expands to.
            self.alias_chars += len(node.value)
            if self.alias_chars > MAX_ALIAS_EXPANSION_CHARS:
                raise yaml.constructor.ConstructorError(
                    None, None, f"YAML aliases expand to over {MAX_ALIAS_EXPANSION_CHARS // 1024} KB of text",
                    node.start_mark)
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, IndexError, TypeError, AttributeError) as e:
            # PyYAML's scalar converters fail in all these ways (`!!int ''` indexes an
            # empty string, `!!timestamp x` reads a failed match): each means "not a T".
            if not isinstance(node, yaml.ScalarNode):
                raise
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            reason = "too many digits" if "digits" in str(e) else str(e)
            self.problems.append(YamlProblem(f"{shown!r} cannot be read as {node.tag.rsplit(':', 1)[-1]} "
                                             f"({reason}); kept as text", node.start_mark.line + 1))
            self.constructed_objects[node] = node.value
            return node.value


class _NoAliasSafeLoader(_Tolerant, yaml.SafeLoader):
    """A SafeLoader that refuses anchors and aliases: they have no use in frontmatter and
    are how a 'billion laughs' document turns a few bytes into an exponential structure."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


class _FrontmatterLoader(_Tolerant, _Loader):
    pass


class _LineLoader(_Tolerant, _Loader):
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


_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
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
        # Split by hand, not with one regex: `key: value   x` with 200,000 spaces made a
        # lazy group plus a trailing-space class backtrack quadratically.
        key, colon, value = line.partition(":")
        if not colon or not _SIMPLE_KEY.fullmatch(key):
            return None
        value = value.strip(" \t")
        if key in out or key.lower() in _YAML_WORDS or not value.isprintable():
            return None
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and '"' not in value[1:-1] and "\\" not in value:
            out[key] = value[1:-1]
        elif value.isascii() and value.isdigit() and len(value) <= MAX_INT_DIGITS and (value == "0" or not value.startswith("0")):
            out[key] = int(value)
        elif _PLAIN_TEXT.match(value) and value.lower() not in _YAML_WORDS and " #" not in value:
            out[key] = value
        else:
            return None
    return out


def _load(text: str, loader_class, problems: list[YamlProblem] | None) -> Any:
    """One document with a safe loader; recoverable problems go to `problems`."""
    try:
        loader = loader_class(text)  # the pure-Python reader already checks characters here
    except yaml.YAMLError as e:
        raise YamlProblem(_describe(e), _yaml_line(e)) from None
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as e:
        raise YamlProblem(_describe(e), _yaml_line(e)) from None
    except RecursionError:
        raise YamlProblem("YAML nested too deeply", 1) from None
    finally:
        loader.dispose()
    if problems is not None:
        problems.extend(loader.problems)
    return data


def load_frontmatter_yaml(text: str, problems: list[YamlProblem] | None = None) -> Any:
    """Parse a page's frontmatter. Raises YamlProblem with a line relative to `text`;
    values kept as text (an impossible date) are added to `problems`.

    Simple `key: value` frontmatter takes a direct path; otherwise the C loader is used
    unless the text could hold an anchor or alias, in which case the pure-Python loader
    that refuses them decides.
    """
    simple = _simple_frontmatter(text)
    if simple is not None:
        return simple
    loader = _NoAliasSafeLoader if ("&" in text or "*" in text) else _FrontmatterLoader
    return _load(text, loader, problems)


def load_data_yaml(text: str, problems: list[YamlProblem] | None = None) -> Any:
    """Parse a data file (ATLAS.yaml) with line numbers, refusing shared (aliased)
    containers and aliases that expand too far; values kept as text go to `problems`."""
    data = _load(text, _LineLoader, problems)
    _refuse_shared_nodes(data)
    return data


def bounded(text: str, limit: int = MAX_FIELD_CHARS) -> tuple[str, bool]:
    """`text` cut to `limit` characters, and whether it was cut (the caller reports it)."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True


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


_SURROGATE = re.compile("[\ud800-\udfff]")
# What no text field should hold: control characters other than tab and line ends (a
# name with ESC can rewrite a terminal; XML cannot carry most of them at all), lone
# surrogates (no UTF-8 output can carry them) and the noncharacters U+FFFE/U+FFFF.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def display_path(path: str) -> str:
    """A path as text that can be printed, written to JSON or put in a page: bytes of a
    file name that are not UTF-8 (which Python carries as lone surrogates) become U+FFFD.
    The real path is still what is opened."""
    try:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", path)


def printable(text: str) -> str:
    """`text` with every character `_UNPRINTABLE` matches replaced by U+FFFD."""
    return _UNPRINTABLE.sub("\ufffd", text) if _UNPRINTABLE.search(text) else text


def first_unprintable(text: str) -> int | None:
    """Where the first such character is, or None."""
    m = _UNPRINTABLE.search(text)
    return m.start() if m else None


def read_regular(path: str, limit: int) -> bytes:
    """Up to `limit` + 1 bytes of a regular file. A FIFO, socket or device named `x.md`
    would block a plain `open` forever or never end: it is opened without blocking and
    refused (OSError) unless it is a regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(limit + 1)
    finally:
        os.close(fd)


def read_small_file(path: str, limit: int, noun: str, kind: str) -> str:
    """The whole of a small user file that is not an ATLAS source (a coverage profile, a
    summaries file) as UTF-8 text with `\\n` line ends, or SourceError naming it:
    missing, a folder, not a regular file (a FIFO would block), over `limit` bytes, or
    not UTF-8. `noun` names such a file ("profile": "no such profile file"), `kind` what
    a too large one is not ("a coverage profile")."""
    from atlaskb.errors import SourceError

    if os.path.isdir(path):
        raise SourceError(f"{path}: is a folder, not a {noun} file")
    try:
        raw = read_regular(path, limit)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such {noun} file") from None
    except OSError as e:
        raise SourceError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(raw) > limit:
        raise SourceError(f"{path}: larger than {limit // (1024 * 1024)} MB; not {kind}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as `open` in text mode reads lines


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
        raw = read_regular(path, limit)
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
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = first_unprintable(text)
    if bad is not None:
        findings.append(Finding("warning", "control-character", display, text.count("\n", 0, bad) + 1,
                                f"text holds control characters (first: U+{ord(text[bad]):04X}); each replaced by U+FFFD"))
        text = printable(text)
    return text
