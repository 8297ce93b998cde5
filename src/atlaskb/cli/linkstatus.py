"""`--evidence DIR` for the commands that report links: read the folders once, warn about
rows for links the sources lack, and hand back an `atlaskb.linkstatus.LinkStatuses`."""

from __future__ import annotations

import click

from atlaskb.cli.paths import SafePath

evidence_option = click.option(
    "--evidence", "evidence_dirs", multiple=True, metavar="DIR", type=SafePath(file_okay=False),
    help="Folder with results.json from `atlaskb defend run` (repeatable): give each mitigation link its "
         "evidence status (supported, not supported, contradicted, measured only in part, "
         "not measured here, unmeasured).",
)


def read_evidence(kb, directories):
    """The evidence of `directories` (None when none were given); problems with a folder
    raise SourceError naming the file, rows for unknown links are warned about."""
    if not directories:
        return None
    from atlaskb.linkstatus import read

    evidence = read(kb, directories)
    for finding in evidence.findings:
        click.echo(f"atlaskb: {finding}", err=True)
    return evidence


def status_text(status: str, reason: str) -> str:
    """A link's status for a table cell: `not measured here` keeps its reason."""
    return f"{status} ({reason})" if status == "not measured here" and reason else status
