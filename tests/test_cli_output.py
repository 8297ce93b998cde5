"""`atlaskb.cli.output`: the global --format and rich tables on a terminal."""

from __future__ import annotations

from conftest import run_cli


# -- the global --format ------------------------------------------------------------------------

def test_global_format_is_checked():
    code, out, err = run_cli("--format", "xml", "lint")
    assert code == 2 and "xml" in err and out == ""


def test_global_format_text_means_table_for_queries():
    code, out, err = run_cli("--format", "text", "tactics")
    assert code == 0, err
    assert "AML.TA0002" in out and not out.lstrip().startswith("[")


# -- rich tables on a terminal: names from the sources are text, never markup ----------------

def test_markup_in_a_name_is_printed_on_a_terminal_not_interpreted(tmp_path, monkeypatch):
    from atlaskb.cli import output

    (tmp_path / "t.md").write_text(
        '---\ntitle: "ACME.T0001: Evil [/bold] [red]name"\n---\n# ACME.T0001: Evil [/bold] [red]name\n\n'
        "## Metadata\n\n- **Maturity:** realized\n", encoding="utf-8")
    (tmp_path / "a.md").write_text(
        '---\ntitle: "ACME.TA0001: [/] Tactic"\n---\n# ACME.TA0001: [/] Tactic\n\n'
        "## Techniques (1)\n\n- [[t|ACME.T0001]] — x\n", encoding="utf-8")
    monkeypatch.setattr(output, "_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    for args in (("show", "ACME.T0001"), ("matrix",)):
        code, out, err = run_cli("--no-color", "--source", str(tmp_path), *args)
        assert code == 0, err
    code, out, err = run_cli("--no-color", "--source", str(tmp_path), "show", "ACME.T0001")
    assert "Evil [/bold] [red]name" in out
