"""Core commands: export, import and lint."""

from __future__ import annotations

import os

import click

from atlaskb.cli import pass_app
from atlaskb.cli.output import counted, dump_json
from atlaskb.cli.paths import OutPath, SafePath
from atlaskb.cli.linkstatus import evidence_option, read_evidence
from atlaskb.errors import SourceError, UsageError


@click.group()
def export():
    """Write the loaded graph in another format."""


@export.command("json")
@click.option("--out", "out", type=OutPath(dir_okay=False), help="Write to this file instead of stdout.")
@pass_app
def export_json(app, out):
    """The whole graph: {"nodes": [...], "edges": [...]}."""
    from atlaskb.export.graph_json import to_json_data

    _write(out, dump_json(to_json_data(_exportable(app)), sort_keys=False) + "\n")


def _exportable(app):
    """The knowledge base to export, refusing one with no objects: sources that yield
    nothing (a missing or broken file) must not overwrite a good export with an empty
    one while the script that ran us carries on."""
    kb = app.kb
    if len(kb.graph) == 0:
        named = ", ".join(app.sources) if app.sources else "the bundled vault"
        raise SourceError(f"{named}: no ATLAS objects to export; nothing written "
                          "(run `atlaskb lint` to see why the sources yield none)")
    return kb


def _write(out: str | None, text: str) -> None:
    """To `out` atomically (a failed run leaves the old file), or to stdout. `''` is
    refused, not taken for stdout."""
    if out is not None:
        from atlaskb.fsutil import write_output_file

        write_output_file(out, text)
    else:
        click.echo(text, nl=False)


_out_option = click.option("--out", "out", type=OutPath(dir_okay=False),
                           help="Write to this file (atomically) instead of stdout.")


@export.command("navigator")
@click.option("--score", type=click.Choice(["case-studies", "mitigations", "coverage", "evidence"]),
              default="case-studies", show_default=True,
              help="What a technique's score counts (evidence: the best evidence status of its links).")
@click.option("--have", multiple=True, metavar="M1,M2,...",
              help="Deployed mitigations (IDs or names, comma-separated or repeated), for --score coverage "
                   "or evidence.")
@click.option("--profile", "profile_path", type=SafePath(dir_okay=False),
              help="YAML profile of the deployed mitigations (as for `coverage`), for --score coverage or evidence.")
@evidence_option
@click.option("--case-study", "case_study", metavar="ID|all",
              help="Instead of a score: MITRE's layer of one case study (the techniques it uses); "
                   "`all` writes one layer per case study into the --out folder.")
@click.option("--navigator", "navigator", type=click.Choice(["atlas", "5"]), default="atlas", show_default=True,
              help="The Navigator the layer is for: atlas (the ATLAS Navigator: layer 4.3, as MITRE's "
                   "ATLAS layers declare) or 5 (ATT&CK Navigator 5: layer 4.5).")
@click.option("--out", "out", type=OutPath(),
              help="Write to this file (atomically) instead of stdout; a folder with --case-study all.")
@pass_app
def export_navigator(app, score, have, profile_path, evidence_dirs, case_study, navigator, out):
    """An ATT&CK Navigator layer (domain atlas-atlas) scoring every technique, or one
    case study's layer."""
    from atlaskb.export.navigator import layer

    kb = _exportable(app)
    if case_study is not None:
        if have or profile_path or evidence_dirs:
            raise UsageError("--have, --profile and --evidence go with a score, not with --case-study")
        _export_case_studies(kb, case_study, navigator, out)
        return
    strength = None
    have_ids: list[str] = []
    evidence = None
    if score == "coverage" or (score == "evidence" and (have or profile_path)):
        from atlaskb.cli.coverage import deployed

        have_ids, _, strength = deployed(have, profile_path)
    elif have or profile_path:
        raise UsageError("--have and --profile go with --score coverage or evidence")
    if score == "evidence":
        if not evidence_dirs:
            raise UsageError("--score evidence needs --evidence DIR (the --out folder of `atlaskb defend run`)")
        evidence = read_evidence(kb, evidence_dirs)
    elif evidence_dirs:
        raise UsageError("--evidence goes with --score evidence")
    _write(out, dump_json(layer(kb, score, have_ids, strength, evidence=evidence, navigator=navigator), sort_keys=False) + "\n")


def _export_case_studies(kb, case_study: str, navigator: str, out: str | None) -> None:
    """One case study's layer to --out (or stdout), or every one (`all`) into the --out folder."""
    from atlaskb import queries
    from atlaskb.export.navigator import case_study_layer, write_case_study_layers
    from atlaskb.model import CASE_STUDY

    if case_study.strip().lower() != "all":
        found = queries.resolve(kb, case_study, CASE_STUDY)
        _write(out, dump_json(case_study_layer(kb, found, navigator), sort_keys=False) + "\n")
        return
    if not out:
        raise UsageError("--case-study all writes one file per case study: give --out FOLDER")
    count = write_case_study_layers(kb, out, navigator)
    from atlaskb.fsutil import shown

    click.echo(f"wrote {count} case-study layers to {shown(out)}", err=True)


@export.command("stix")
@_out_option
@pass_app
def export_stix(app, out):
    """A STIX 2.1 bundle (deterministic IDs and order) that `--source` and `import stix` read back."""
    from atlaskb.export.stix import to_json

    _write(out, to_json(_exportable(app)))


@export.command("csv")
@click.option("--what", type=click.Choice(["nodes", "edges", "mitigates"]), default="nodes", show_default=True,
              help="nodes: one row per object; edges: one per relationship; mitigates: mitigation-technique pairs.")
@_out_option
@pass_app
def export_csv(app, what, out):
    """A CSV table of the graph."""
    from atlaskb.export.tables import to_csv

    _write(out, to_csv(_exportable(app), what))


@export.command("graphml")
@_out_option
@pass_app
def export_graphml(app, out):
    """GraphML for graph tools (Gephi, yEd, networkx); list and dict attributes as JSON text."""
    from atlaskb.export.tables import to_graphml

    _write(out, to_graphml(_exportable(app)))


@click.group("import")
def import_():
    """Write a vault from another format."""


@import_.command("atlas-yaml")
@click.argument("file", type=SafePath(dir_okay=False))
@click.option("--out", "out", required=True, type=OutPath(file_okay=False), help="Vault folder to write: new, empty, or one written before (replaced atomically).")
@click.option("--facts-only", is_flag=True, help="Only facts (IDs, names, dates, maturity, categories, relationships): no MITRE prose.")
@click.option("--summaries", "summaries", type=SafePath(exists=True), multiple=True,
              help="YAML file or folder of {ID: summary} used as descriptions with --facts-only.")
def import_atlas_yaml(file, out, facts_only, summaries):
    """Turn an ATLAS.yaml release into a markdown vault."""
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
    _write_vault(kb, out, facts_only=facts_only, summaries=texts)


@import_.command("stix")
@click.argument("file", type=SafePath(dir_okay=False))
@click.option("--out", "out", required=True, type=OutPath(file_okay=False), help="Vault folder to write: new, empty, or one written before (replaced atomically).")
@click.option("--facts-only", is_flag=True, help="Only facts (IDs, names, dates, relationships): no descriptions or notes.")
def import_stix(file, out, facts_only):
    """Turn a STIX 2.1 bundle of ATLAS into a markdown vault. Problems in the bundle
    (repeated IDs, dangling references ...) are printed; the rest is imported."""
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
    _write_vault(kb, out, facts_only=facts_only)


def _write_vault(kb, out: str, **options) -> None:
    from atlaskb.errors import AtlasError
    from atlaskb.export.vault import write_vault
    from atlaskb.fsutil import shown

    try:
        count = write_vault(kb, out, **options)
    except OSError as e:
        # not the hidden temporary sibling's name: the reader asked for OUT
        raise AtlasError(f"cannot write the vault to {shown(out)}: {e.strerror or e}") from None
    click.echo(f"wrote {count} pages to {shown(out)}", err=True)


def check_vault_out(out: str) -> None:
    """`--out` is replaced as a whole: new, empty, or a vault atlaskb wrote (`fsutil`)."""
    from atlaskb.export.vault import check_vault_out as check

    check(out)


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
        click.echo(dump_json([f.as_dict() for f in findings], sort_keys=False))
    else:
        for f in findings:
            click.echo(str(f))
        errors = sum(f.level == "error" for f in findings)
        click.echo(f"{counted(len(kb), 'object')}, {counted(kb.graph.number_of_edges(), 'link')}; "
                   f"{counted(errors, 'error')}, {counted(len(findings) - errors, 'warning')}", err=True)
    if has_errors(findings):
        raise click.exceptions.Exit(1)
