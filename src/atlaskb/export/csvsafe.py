"""CSV cells that a spreadsheet will show, never run.

Vault text is untrusted: a name such as ``=HYPERLINK("http://evil", "click")`` becomes a
live formula when a CSV export is opened in a spreadsheet (CSV injection). Cells that
start with a formula character are prefixed with an apostrophe, which spreadsheets hide;
numbers (``-0.25``) are left alone. Both `export csv` and `--format csv` write through
`csv_cell`, so there is one rule.
"""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """`text`, made inert for spreadsheets when it could be read as a formula."""
    if not text or not text.startswith(_FORMULA_START):
        return text
    try:
        float(text)
        return text  # a plain number such as -0.25
    except ValueError:
        return "'" + text
