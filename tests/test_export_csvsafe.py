"""CSV exports of untrusted vaults open in a spreadsheet as text, never as formulas."""

import csv
import io

import pytest

from atlaskb.export.csvsafe import csv_cell
from conftest import REPO, run_cli

PAGE = """---
title: "ACME.M0001: =HYPERLINK(\\"http://example.invalid\\",\\"click\\")"
type: mitigation
---

# ACME.M0001: =HYPERLINK("http://example.invalid","click")

Our own fixture text.

## Metadata

- **Mitigation ID:** ACME.M0001

## Techniques (1)

- [[atlas/techniques/ai-attack-staging/craft-adversarial-data/black-box-transfer|AML.T0043.002: Black-Box Transfer]] — @SUM(1+1)
"""


@pytest.mark.parametrize("text, expected", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-0.25", "-0.25"), ("+3", "+3"), ("AML.M0006", "AML.M0006"), ("", ""),
])
def test_formula_cells_are_quoted_and_numbers_left_alone(text, expected):
    assert csv_cell(text) == expected


def _first_column_values(out, column):
    return [row[column] for row in csv.DictReader(io.StringIO(out))]


def test_hostile_names_and_notes_are_inert_in_every_csv(tmp_path):
    page = tmp_path / "acme.md"
    page.write_text(PAGE, encoding="utf-8")
    code, out, err = run_cli("--source", str(REPO / "data" / "atlas"), "--source", str(page),
                             "mitigations", "AML.T0043.002", "--format", "csv")
    assert code == 0, err
    names = _first_column_values(out, "Name")
    assert "'=HYPERLINK(\"http://example.invalid\",\"click\")" in names
    assert not any(n.startswith(("=", "@")) for n in names)
    code, out, err = run_cli("--source", str(REPO / "data" / "atlas"), "--source", str(page), "export", "csv", "--what", "mitigates")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert not any(cell.startswith(("=", "@")) for row in rows for cell in row)
    assert any(cell == "'@SUM(1+1)" for row in rows for cell in row)
