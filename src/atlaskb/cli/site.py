"""`atlaskb site build`: render the loaded knowledge base as a static site."""

from __future__ import annotations

import click

from atlaskb.cli import comma_list, pass_app
from atlaskb.cli.coverage import deployed_options
from atlaskb.cli.paths import OutPath, SafePath
from atlaskb.errors import AtlasError, UsageError


@click.group()
def site():
    """Build the static site (matrix, object pages, coverage, evidence, search)."""


@site.command("build")
@click.option("--out", "out", default="site", show_default=True, type=OutPath(file_okay=False),
              help="Folder to write; replaced atomically, so a failed build keeps the old site.")
@deployed_options(have_help="Mitigations you have (IDs or names, comma-separated or repeated): colour the matrix "
                            "by coverage and add the coverage page.",
                  profile_help="A defense profile file (see `atlaskb coverage`), instead of --have.")
@click.option("--evidence", "evidence_dir", type=SafePath(file_okay=False), multiple=True,
              help="Folder written by `atlaskb defend run`: show its measured results and plots.")
@click.option("--templates", "templates_dir", type=SafePath(file_okay=False, exists=True),
              help="Your template folder: its files replace ours of the same name (ours stay reachable as "
                   "`default:NAME`), its static/ files replace our static files. See docs/site.md.")
@pass_app
def build(app, out, have, profile_path, evidence_dir, templates_dir):
    """Write the site to OUT; open OUT/index.html in a browser (no server needed)."""
    from atlaskb.coverage import resolve_deployed
    from atlaskb.fsutil import shown
    from atlaskb.site import build_site

    if have and profile_path:
        raise UsageError("give either --have or --profile, not both")
    kb = app.kb
    have_ids = resolve_deployed(kb, comma_list(have)).ids if have else None
    profile = _load_profile(profile_path) if profile_path else None
    try:
        result = build_site(kb, out, have=have_ids, profile=profile, evidence_dir=list(evidence_dir) or None,
                            templates=templates_dir)
    except OSError as e:
        # The build writes into a hidden temporary sibling (".NAME.tmp-..."); naming that
        # folder would only puzzle the reader, who asked for OUT.
        where = e.filename if isinstance(e.filename, str) and ".tmp-" not in e.filename else None
        raise AtlasError(f"cannot write the site to {shown(out)}: {e.strerror or e}"
                         + (f" ({shown(where)})" if where else "")) from e
    extras = []
    if result.coverage:
        extras.append("coverage page")
    if result.evidence_edges:
        extras.append(f"evidence for {result.evidence_edges} link{'s' if result.evidence_edges != 1 else ''}")
    if result.problems:
        extras.append(f"{result.problems} source problem{'s' if result.problems != 1 else ''} shown")
    suffix = f"; {', '.join(extras)}" if extras else ""
    click.echo(f"Site written to {shown(out.rstrip('/'))}/index.html ({result.pages} pages, {result.seconds:.2f} s{suffix})")
    for warning in result.warnings:
        click.echo(f"atlaskb: warning: {warning}", err=True)


def _load_profile(path: str):
    from atlaskb.coverage import load_profile

    try:
        return load_profile(path)
    except AtlasError:
        raise
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read the profile {path}: {e}") from e
