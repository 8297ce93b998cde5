"""Core commands: export, import and lint."""

from __future__ import annotations

import os

import click

from atlaskb.cli import pass_app
from atlaskb.errors import SourceError, UsageError


def dump_json(data) -> str:
    """JSON in the order the exporter built it (see `output.dump_json`)."""
    from atlaskb.cli.output import dump_json as dump

    return dump(data, sort_keys=False)


@click.group()
def export():
    """Write the loaded graph in another format."""


@export.command("json")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@pass_app
def export_json(app, out):
    """The whole graph: {"nodes": [...], "edges": [...]}."""
    from atlaskb.export.graph_json import to_json_data

    text = dump_json(to_json_data(app.kb)) + "\n"
    if out:
        from atlaskb.fsutil import atomic_write

        atomic_write(out, text)
    else:
        click.echo(text, nl=False)


def _write(out: str | None, text: str) -> None:
    """To `out` atomically (a failed run leaves the old file), or to stdout."""
    if out:
        from atlaskb.fsutil import atomic_write

        atomic_write(out, text)
    else:
        click.echo(text, nl=False)


_out_option = click.option("--out", "out", type=click.Path(dir_okay=False),
                           help="Write to this file (atomically) instead of stdout.")


@export.command("navigator")
@click.option("--score", type=click.Choice(["case-studies", "mitigations", "coverage"]), default="case-studies",
              show_default=True, help="What a technique's score counts.")
@click.option("--have", multiple=True, metavar="M1,M2,...",
              help="Deployed mitigations (IDs or names, comma-separated or repeated), for --score coverage.")
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False),
              help="YAML profile of the deployed mitigations (as for `coverage`), for --score coverage.")
@_out_option
@pass_app
def export_navigator(app, score, have, profile_path, out):
    """An ATT&CK Navigator layer (format 4.5, domain atlas-atlas) scoring every technique."""
    from atlaskb.export.navigator import layer

    strength = None
    have_ids: list[str] = []
    if score == "coverage":
        from atlaskb.cli.coverage import deployed

        have_ids, _, strength = deployed(have, profile_path)
    elif have or profile_path:
        raise UsageError("--have and --profile go with --score coverage")
    _write(out, dump_json(layer(app.kb, score, have_ids, strength)) + "\n")


@export.command("stix")
@_out_option
@pass_app
def export_stix(app, out):
    """A STIX 2.1 bundle (deterministic IDs and order) that `--source` and `import stix` read back."""
    from atlaskb.export.stix import to_json

    _write(out, to_json(app.kb))


@export.command("csv")
@click.option("--what", type=click.Choice(["nodes", "edges", "mitigates"]), default="nodes", show_default=True,
              help="nodes: one row per object; edges: one per relationship; mitigates: mitigation-technique pairs.")
@_out_option
@pass_app
def export_csv(app, what, out):
    """A CSV table of the graph."""
    from atlaskb.export.tables import to_csv

    _write(out, to_csv(app.kb, what))


@export.command("graphml")
@_out_option
@pass_app
def export_graphml(app, out):
    """GraphML for graph tools (Gephi, yEd, networkx); list and dict attributes as JSON text."""
    from atlaskb.export.tables import to_graphml

    _write(out, to_graphml(app.kb))


@click.group("import")
def import_():
    """Write a vault from another format."""


@import_.command("atlas-yaml")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Vault folder to write: new, empty, or one written before (replaced atomically).")
@click.option("--facts-only", is_flag=True, help="Only facts (IDs, names, dates, maturity, categories, relationships): no MITRE prose.")
@click.option("--summaries", "summaries", type=click.Path(exists=True), multiple=True,
              help="YAML file or folder of {ID: summary} used as descriptions with --facts-only.")
def import_atlas_yaml(file, out, facts_only, summaries):
    """Turn an ATLAS.yaml release into a markdown vault."""
    from atlaskb.export.vault import write_vault
    from atlaskb.kb import build
    from atlaskb.lint import has_errors
    from atlaskb.sources import detect_kind
    from atlaskb.sources.atlas_yaml import read_atlas_yaml

    if not os.path.isfile(file):
        raise SourceError(f"no such file: {file}")
    if detect_kind(file) != "atlas-yaml":
        raise UsageError(f"{file} is not an ATLAS.yaml release (no top-level `matrices:`)")
    check_vault_out(out)
    result = read_atlas_yaml(file)
    for f in result.findings:
        click.echo(str(f), err=True)
    if has_errors(result.findings) and not result.objects:
        raise SourceError(f"{file}: nothing could be read")
    kb = build([result])
    texts = load_summaries(summaries) if summaries else {}
    count = write_vault(kb, out, facts_only=facts_only, summaries=texts)
    click.echo(f"wrote {count} pages to {out}", err=True)


@import_.command("stix")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Vault folder to write: new, empty, or one written before (replaced atomically).")
@click.option("--facts-only", is_flag=True, help="Only facts (IDs, names, dates, relationships): no descriptions or notes.")
def import_stix(file, out, facts_only):
    """Turn a STIX 2.1 bundle of ATLAS into a markdown vault. Problems in the bundle
    (repeated IDs, dangling references ...) are printed; the rest is imported."""
    from atlaskb.export.vault import write_vault
    from atlaskb.kb import build
    from atlaskb.sources import detect_kind
    from atlaskb.sources.stix import read_stix

    if not os.path.isfile(file):
        raise SourceError(f"no such file: {file}")
    if detect_kind(file) != "stix":
        raise UsageError(f'{file} is not a STIX bundle (a JSON object with "type": "bundle")')
    check_vault_out(out)
    result = read_stix(file)
    kb = build([result])
    for f in kb.findings:
        click.echo(str(f), err=True)
    if not result.objects:
        raise SourceError(f"{file}: no ATLAS objects could be read")
    count = write_vault(kb, out, facts_only=facts_only)
    click.echo(f"wrote {count} pages to {out}", err=True)


# What `write_vault` puts at the top of a vault; a folder holding anything else is not one.
_VAULT_TOP = {"tactics", "techniques", "mitigations", "case-studies"}


def check_vault_out(out: str) -> None:
    """`--out` is replaced as a whole, so it must be new, empty, or a vault written before:
    never a file, and never a folder with other things in it (`--out .` in a project
    would otherwise delete the project)."""
    from atlaskb.fsutil import refuse_to_replace

    def why_not_ours(entries: list[str]) -> str | None:
        foreign = [e for e in entries if e not in _VAULT_TOP]
        return f"the folder holds {foreign[0]!r}, so it is not a vault that atlaskb wrote" if foreign else None

    refuse_to_replace(out, why_not_ours)


def load_summaries(paths) -> dict[str, str]:
    """Read {ID: summary} YAML files (or every .yaml in a folder)."""
    from atlaskb.sources.files import YamlProblem, load_frontmatter_yaml

    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith((".yaml", ".yml")))
        else:
            files.append(p)
    texts: dict[str, str] = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            try:
                data = load_frontmatter_yaml(fh.read())
            except YamlProblem as e:
                raise UsageError(f"{f}:{e.line}: {e}") from None
        if not isinstance(data, dict):
            raise UsageError(f"{f}: expected a mapping of ID to summary")
        texts.update({str(k): str(v) for k, v in data.items()})
    return texts


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default=None,
              help="text: one finding a line (default); json: an array of {level, code, file, line, message}.")
@pass_app
def lint(app, fmt):
    """Check the sources: broken links, slug/ID mismatches, duplicate IDs, one-sided
    relationships, wrong (N) counts, missing metadata, sub-technique cycles, bad pages.
    Exit 1 when there are errors."""
    from atlaskb.kb import build
    from atlaskb.lint import has_errors, lint as run_lint
    from atlaskb.sources import default_sources, read_source

    kb = build([read_source(p) for p in (app.sources or default_sources())])
    findings = run_lint(kb)
    fmt = app.fmt(fmt, "text")
    if fmt == "json":
        click.echo(dump_json([f.as_dict() for f in findings]))
    else:
        for f in findings:
            click.echo(str(f))
        errors = sum(f.level == "error" for f in findings)
        click.echo(f"{len(kb)} objects, {kb.graph.number_of_edges()} links; "
                   f"{errors} error(s), {len(findings) - errors} warning(s)", err=True)
    if has_errors(findings):
        raise click.exceptions.Exit(1)
