"""One renderer for every query command's `--format table|json|csv|yaml`.

A command builds two things: the *data* (plain dicts and lists: what `json` and `yaml`
print, the machine contract) and one or more `Table`s (what people read: `table` and
`csv`). Keeping them apart lets the JSON carry nested detail while the table stays flat.

* `table` on a terminal: rich tables (colour unless `--no-color` or NO_COLOR).
* `table` when stdout is not a terminal: plain aligned columns, no ANSI codes, so
  `| grep` and `| column` see clean text.
* `json`: sorted keys, two-space indent, UTF-8; the same input always gives the same bytes.
* `csv`: one header row then data; several tables become one with a leading `section`
  column (the union of columns, in first-seen order).
* `yaml`: the data, `safe_dump`ed with sorted keys.

rich and yaml are imported only on the branch that needs them: a one-shot query piped
into a script must not pay for them at start-up.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import click

FORMATS = ("table", "json", "csv", "yaml")

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default=None,
    help="Output format (default: the global --format, else table).",
)


@dataclass
class Table:
    """A flat table: `columns` are (key, header) pairs looked up in each row dict."""

    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]
    title: str | None = None
    # Free text printed under the table (a summary line); table format only.
    caption: str | None = None


class KeepOrder(dict):
    """A mapping whose keys are printed in their own order (by_tactic: kill-chain order),
    not sorted like every other mapping's."""


def _canonical(data: Any) -> Any:
    """`data` with every mapping's keys sorted except KeepOrder's, and sequences as lists,
    ready to dump without further sorting."""
    if isinstance(data, KeepOrder):
        return {str(k): _canonical(v) for k, v in data.items()}
    if isinstance(data, dict):
        return {str(k): _canonical(data[k]) for k in sorted(data, key=str)}
    if isinstance(data, (list, tuple, set, frozenset)):
        items = sorted(data) if isinstance(data, (set, frozenset)) else data
        return [_canonical(v) for v in items]
    return data


def dump_json(data: Any, sort_keys: bool = True) -> str:
    """Deterministic JSON: sorted keys (KeepOrder's in their order; none sorted when the
    caller's order is the contract), fixed indent, non-ASCII kept readable. NaN and
    Infinity are refused, not written: they are not JSON, and a file holding them cannot
    be read back by most parsers."""
    try:
        return json.dumps(_canonical(data) if sort_keys else data, indent=2, ensure_ascii=False, default=str,
                          allow_nan=False)
    except ValueError as e:
        from atlaskb.errors import AtlasError

        raise AtlasError(f"cannot write JSON: {e} (NaN and Infinity are not JSON); nothing written") from None


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """`1 result`, `2 results`: a count with its noun in the right number."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def cell(value: Any) -> str:
    """How one value reads in a query command's table or CSV cell, for people: absent is
    empty, booleans yes/no, numbers to three decimals, lists and mappings on one line.
    Two outputs write values their own way, for the reasons their docstrings give:
    `atlaskb diff` (`cli.diff._change_text`) and `export csv` (`export.tables._csv_value`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items())
    return str(value)


def emit(data: Any, tables: list[Table] | Table, fmt: str, no_color: bool = False) -> None:
    """Print `data` (json/yaml) or `tables` (table/csv) to stdout in format `fmt`."""
    if isinstance(tables, Table):
        tables = [tables]
    if fmt == "json":
        click.echo(dump_json(data))
    elif fmt == "yaml":
        import yaml  # only here: yaml costs start-up time the other formats need not pay

        click.echo(yaml.safe_dump(_canonical(data), sort_keys=False, allow_unicode=True,
                                  default_flow_style=False), nl=False)
    elif fmt == "csv":
        click.echo(to_csv(tables), nl=False)
    elif fmt == "table":
        if _is_tty():
            _rich_tables(tables, no_color)
        else:
            click.echo(to_plain(tables), nl=False)
    else:  # guarded by click.Choice; kept for library callers
        from atlaskb.errors import UsageError

        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def to_csv(tables: list[Table]) -> str:
    """CSV with ``\\n`` line ends (as `export csv`), cells made inert for spreadsheets;
    see the module docstring for several tables."""
    import csv
    import io

    from atlaskb.export.csvsafe import csv_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if len(tables) == 1:
        t = tables[0]
        writer.writerow([h for _, h in t.columns])
        for row in t.rows:
            writer.writerow([csv_cell(cell(row.get(k))) for k, _ in t.columns])
        return buf.getvalue()
    columns: list[tuple[str, str]] = []
    for t in tables:
        for col in t.columns:
            if col[0] not in [c[0] for c in columns]:
                columns.append(col)
    writer.writerow(["section"] + [h for _, h in columns])
    for t in tables:
        for row in t.rows:
            writer.writerow([csv_cell(t.title or "")] + [csv_cell(cell(row.get(k))) for k, _ in columns])
    return buf.getvalue()


def to_plain(tables: list[Table]) -> str:
    """Aligned columns separated by two spaces; the last column is not padded."""
    out: list[str] = []
    for i, t in enumerate(tables):
        if i:
            out.append("")
        if t.title:
            out.append(f"{t.title}")
        if not t.rows:
            out.append("(none)")
        else:
            columns = _shown_columns(t)
            headers = [h for _, h in columns]
            body = [[_one_line(cell(r.get(k))) for k, _ in columns] for r in t.rows]
            widths = [max(len(x) for x in col) for col in zip(headers, *body)]
            for line in [headers, ["-" * w for w in widths]] + body:
                text = "  ".join(v.ljust(w) for v, w in zip(line[:-1], widths[:-1]))
                out.append((text + ("  " if len(line) > 1 else "") + line[-1]).rstrip())
        if t.caption:
            out.append(t.caption)
    return "\n".join(out) + "\n"


# Columns a reader does not miss when every row leaves them empty (the bundled vault has
# no per-link notes: MITRE's note text is not ours to ship). CSV keeps them, for scripts.
_OPTIONAL_COLUMNS = ("note", "via")


def _shown_columns(t: Table) -> list[tuple[str, str]]:
    """The table's columns less optional ones that are empty in every row."""
    return [(k, h) for k, h in t.columns
            if k not in _OPTIONAL_COLUMNS or any(cell(r.get(k)) for r in t.rows)]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _rich_tables(tables: list[Table], no_color: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable

    # Called only once we know stdout is a terminal, so rich need not guess again; with
    # --no-color (or NO_COLOR) no escape code at all is written, bold and italic included.
    console = Console(color_system=None if no_color else "auto", force_terminal=True,
                      highlight=False, soft_wrap=False)
    for i, t in enumerate(tables):
        if i:
            console.print()
        if not t.rows:
            if t.title:
                console.print(t.title, style=None if no_color else "bold", markup=False)
            console.print("(none)", markup=False)
        else:
            # Titles and headers carry names from the sources: escaped, never read as markup.
            table = RichTable(title=_escape(t.title) if t.title else None, title_justify="left", box=box.SIMPLE_HEAD,
                              header_style=None if no_color else "bold cyan", show_edge=False)
            columns = _shown_columns(t)
            for key, header in columns:
                # IDs never wrap; prose columns take the remaining width.
                table.add_column(_escape(header), no_wrap=key in ("id", "tactic", "technique", "mitigation"),
                                 overflow="fold")
            for r in t.rows:
                table.add_row(*[_escape(cell(r.get(k))) for k, _ in columns])
            console.print(table)
        if t.caption:
            console.print(t.caption, markup=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
