"""`atlaskb release`: MITRE's published ATLAS releases, downloaded into the user's cache
(`atlaskb.releases` says how and why), for `--source atlas:VERSION` and `diff`."""

from __future__ import annotations

import click

from atlaskb.cli.output import Table, emit, format_option


@click.group()
def release():
    """MITRE's published ATLAS releases (ATLAS.yaml), kept in the user's cache."""


@release.command("get")
@click.argument("version", metavar="VERSION|latest")
@click.option("--base-url", metavar="URL",
              help="Where releases live (default: MITRE's atlas-data on GitHub, or $ATLASKB_RELEASE_URL); "
                   "the file read is URL/v<VERSION>/dist/ATLAS.yaml (URL/main/... for latest).")
@click.option("--sha256", metavar="HEX", help="Refuse the download unless its SHA-256 is this.")
@click.option("--force", is_flag=True, help="Download again even if a verified copy is cached.")
def get(version, base_url, sha256, force):
    """Download MITRE's ATLAS.yaml for VERSION (e.g. 5.4.0) or the latest one. Prints the
    cached file's path; afterwards `--source atlas:VERSION` reads it."""
    from atlaskb import releases
    from atlaskb.fsutil import shown

    path, found, digest, downloaded = releases.get(version, base_url=base_url, sha256=sha256, force=force)
    what = "downloaded" if downloaded else "already downloaded (checksum verified)"
    click.echo(f"ATLAS {found} {what}: sha256 {digest}; use it as --source atlas:{found}", err=True)
    click.echo(shown(path))


@release.command("list")
@format_option
@click.pass_obj
def list_(app, fmt):
    """The releases downloaded so far, with their files and checksums."""
    from atlaskb.releases import inventory

    rows = inventory()
    emit(rows, Table([("version", "Version"), ("source", "Use as"), ("state", "Checksum"), ("path", "File")], rows,
                     caption=None if rows else "none yet: `atlaskb release get latest`"),
         app.fmt(fmt), app.no_color)
