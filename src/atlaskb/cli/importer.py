"""`atlaskb import FORMAT FILE --out DIR`: a markdown vault written from an ATLAS.yaml
release or a STIX bundle (`atlaskb.export.vault_writer`)."""

from __future__ import annotations

import os

import click

from atlaskb.cli.paths import OutPath, SafePath
from atlaskb.errors import SourceError, UsageError

_out_option = click.option("--out", "out", required=True, type=OutPath(file_okay=False),
                           help="Vault folder to write: new, empty, or one written before (replaced atomically).")


@click.group("import")
def import_():
    """Write a vault from another format."""


@import_.command("atlas-yaml")
@click.argument("file", type=SafePath(dir_okay=False))
@_out_option
@click.option("--facts-only", is_flag=True, help="Only facts (IDs, names, dates, maturity, categories, relationships): no MITRE prose.")
@click.option("--summaries", "summaries", type=SafePath(exists=True), multiple=True,
              help="YAML file or folder of {ID: summary} used as descriptions with --facts-only.")
def import_atlas_yaml(file, out, facts_only, summaries):
    """Turn an ATLAS.yaml release into a markdown vault."""
    from atlaskb.export.vault_writer import read_summaries
    from atlaskb.lint import has_errors

    kb = _load(file, "atlas-yaml", "an ATLAS.yaml release (no top-level `matrices:`)", out)
    if has_errors(kb.findings) and len(kb) == 0:
        raise SourceError(f"{file}: nothing could be read")
    texts = read_summaries(summaries) if summaries else {}
    _write_vault(kb, out, facts_only=facts_only, summaries=texts)


@import_.command("stix")
@click.argument("file", type=SafePath(dir_okay=False))
@_out_option
@click.option("--facts-only", is_flag=True, help="Only facts (IDs, names, dates, relationships): no descriptions or notes.")
def import_stix(file, out, facts_only):
    """Turn a STIX 2.1 bundle of ATLAS into a markdown vault. Problems in the bundle
    (repeated IDs, dangling references ...) are printed; the rest is imported."""
    kb = _load(file, "stix", 'a STIX bundle (a JSON object with "type": "bundle")', out)
    if len(kb) == 0:
        raise SourceError(f"{file}: no ATLAS objects could be read")
    _write_vault(kb, out, facts_only=facts_only)


def _load(file: str, kind: str, what: str, out: str):
    """`file` loaded through `atlaskb.load` (so the cache and the loader's rules are the
    same as for every other command), once it is known to be a `kind` file and `out` may
    be replaced; the loader's findings are printed on stderr."""
    import atlaskb
    from atlaskb.export.vault_writer import check_vault_out
    from atlaskb.sources import detect_kind

    if not os.path.isfile(file):
        raise SourceError(f"no such file: {file}")
    if detect_kind(file) != kind:
        raise UsageError(f"{file} is not {what}")
    check_vault_out(out)
    # `atlas:NAME` names a downloaded release to `load`; here FILE is always a file.
    kb = atlaskb.load(os.path.join(".", file) if file[:6].lower() == "atlas:" else file)
    for f in kb.findings:
        click.echo(str(f), err=True)
    return kb


def _write_vault(kb, out: str, **options) -> None:
    from atlaskb.errors import AtlasError
    from atlaskb.export.vault_writer import write_vault
    from atlaskb.fsutil import shown

    try:
        count = write_vault(kb, out, **options)
    except OSError as e:
        # not the hidden temporary sibling's name: the reader asked for OUT
        raise AtlasError(f"cannot write the vault to {shown(out)}: {e.strerror or e}") from None
    click.echo(f"wrote {count} pages to {shown(out)}", err=True)
