"""`atlaskb lint`: the loader's findings plus the whole-graph checks of `atlaskb.lint`."""

from __future__ import annotations

import click

from atlaskb.cli import pass_app
from atlaskb.cli.output import counted, dump_json


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default=None,
              help="text: one finding a line (default); json: an array of {level, code, file, line, message}.")
@pass_app
def lint(app, fmt):
    """Check the sources: broken links, slug/ID mismatches, duplicate IDs, one-sided
    relationships, wrong (N) counts, missing metadata, sub-technique cycles, bad pages.
    Exit 1 when there are errors."""
    import atlaskb
    from atlaskb.lint import error_count, has_errors, lint as run_lint

    # Not `app.kb`: that one also prints a summary line of the load's errors, which the
    # findings below list one by one.
    kb = atlaskb.load(*app.sources)
    findings = run_lint(kb)
    fmt = app.fmt(fmt, "text")
    if fmt == "json":
        click.echo(dump_json([f.as_dict() for f in findings], sort_keys=False))
    else:
        for f in findings:
            click.echo(str(f))
        errors = error_count(findings)
        click.echo(f"{counted(len(kb), 'object')}, {counted(kb.graph.number_of_edges(), 'link')}; "
                   f"{counted(errors, 'error')}, {counted(len(findings) - errors, 'warning')}", err=True)
    if has_errors(findings):
        raise click.exceptions.Exit(1)
