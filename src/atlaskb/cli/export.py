"""`atlaskb export FORMAT`: the loaded knowledge base in another format (JSON, Navigator
layers, STIX, CSV, GraphML), to stdout or atomically to --out."""

from __future__ import annotations

import importlib

import click

from atlaskb.cli import pass_app
from atlaskb.cli.coverage import deployed, deployed_options
from atlaskb.cli.linkstatus import evidence_option, read_evidence
from atlaskb.cli.output import dump_json
from atlaskb.cli.paths import OutPath
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
@deployed_options()
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
    case study's layer. --have and --profile (as for `coverage`) go with --score coverage
    or evidence."""
    from atlaskb.export.navigator import layer

    kb = _exportable(app)
    if case_study is not None:
        if have or profile_path or evidence_dirs:
            raise UsageError("--have, --profile and --evidence go with a score, not with --case-study")
        _export_case_studies(kb, case_study, navigator, out)
        return
    strength = None
    have_names: list[str] = []
    evidence = None
    if score == "coverage" or (score == "evidence" and (have or profile_path)):
        have_names, _, strength = deployed(have, profile_path)
    elif have or profile_path:
        raise UsageError("--have and --profile go with --score coverage or evidence")
    if score == "evidence":
        if not evidence_dirs:
            raise UsageError("--score evidence needs --evidence DIR (the --out folder of `atlaskb defend run`)")
        evidence = read_evidence(kb, evidence_dirs)
    elif evidence_dirs:
        raise UsageError("--evidence goes with --score evidence")
    _write(out, dump_json(layer(kb, score, have_names, strength, evidence=evidence, navigator=navigator), sort_keys=False) + "\n")


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


def _writer_command(name: str, writer: str, doc: str, *options):
    """Register `export NAME [OPTIONS] [--out FILE]`, which writes the text that `writer`
    ("module:function", imported only when the command runs) makes of the knowledge base
    and the command's options."""

    def command(app, out, **chosen):
        module_name, function = writer.split(":")
        make = getattr(importlib.import_module(module_name), function)
        _write(out, make(_exportable(app), *chosen.values()))

    command.__doc__ = doc
    command = pass_app(command)
    for option in reversed((*options, _out_option)):  # as if stacked above it, in this order
        command = option(command)
    export.command(name)(command)


_writer_command("stix", "atlaskb.export.stix:to_json",
                "A STIX 2.1 bundle (deterministic IDs and order) that `--source` and `import stix` read back.")
_writer_command("csv", "atlaskb.export.tables:to_csv", "A CSV table of the graph.",
                click.option("--what", type=click.Choice(["nodes", "edges", "mitigates"]), default="nodes",
                             show_default=True,
                             help="nodes: one row per object; edges: one per relationship; "
                                  "mitigates: mitigation-technique pairs."))
_writer_command("graphml", "atlaskb.export.tables:to_graphml",
                "GraphML for graph tools (Gephi, yEd, networkx); list and dict attributes as JSON text.")
