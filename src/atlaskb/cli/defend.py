"""`atlaskb defend`: list the reference defenses and run their measured experiments.

numpy, scikit-learn and matplotlib are imported only inside the commands, so the rest of
the CLI never pays for them.
"""

from __future__ import annotations

import click

from atlaskb.cli import comma_list, pass_app
from atlaskb.cli.paths import OutPath
from atlaskb.cli.output import Table, counted, emit, format_option

_QUICK_NOTE = "quick run: indicative (small budgets and few seeds; run without --quick for evidence)"


@click.group()
def defend():
    """Reference defenses measured against the techniques they mitigate."""


@defend.command("list")
@format_option
@pass_app
def list_(app, fmt):
    """The mitigations with a runnable defense, and the techniques each is measured on."""
    from atlaskb import queries
    from atlaskb.defenses import list_mitigations

    data = list_mitigations(app.kb)
    # One row per measured technique (a list of eleven IDs in one cell is unreadable);
    # the defense's description goes under its table. JSON keeps the documented shape.
    tables = []
    for entry in data:
        # A sub-technique with its parent's name: "Black-Box Transfer" alone is fine, but
        # "Data" or "Model" alone is not.
        rows = [{"mitigation": entry["mitigation"], "technique": t, "name": queries.full_name(app.kb, t)}
                for t in entry["techniques"]]
        name = (app.kb.get(entry["mitigation"]) or {}).get("name", "")
        tables.append(Table([("mitigation", "Mitigation"), ("technique", "Technique"), ("name", "Technique name")], rows,
                            title=f"{entry['mitigation']} {name}".strip(), caption=entry["description"]))
    emit(data, tables, app.fmt(fmt), app.no_color)


@defend.command("run")
@click.argument("mitigation")
@click.option("--technique", "techniques", multiple=True, metavar="ID",
              help="Only this technique (repeatable). Default: every technique the mitigation lists.")
@click.option("--backend", type=click.Choice(["numpy", "torch"]), default="numpy", show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda (torch only).")
@click.option("--quick", is_flag=True, help="Small budgets: all techniques in about a minute.")
@click.option("--seeds", type=click.IntRange(1, 100), default=None,
              help="Independent seeds (default 10, or 3 with --quick); every figure is a mean "
                   "over them with a 95% interval that also counts the test points' sampling error.")
@click.option("--data", "dataset", default="digits", show_default=True, metavar="SPEC",
              help="digits, synthetic[:N], or a .npz file with arrays x and y.")
@click.option("--diversity", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              metavar="FLOAT",
              help="Train the ensemble's members jointly with a negative-correlation term of "
                   "this weight instead of on bootstrap samples (0: independent training).")
@click.option("--out", required=True, type=OutPath(file_okay=False),
              help="Evidence folder: results.json and plots/ (replaced atomically; a non-empty "
                   "folder that atlaskb did not write is refused, never wiped).")
@pass_app
def run(app, mitigation, techniques, backend, device, quick, seeds, dataset, diversity, out):
    """Run MITIGATION's experiments and write DIR/results.json and DIR/plots/."""
    from atlaskb.defenses import runner
    from atlaskb.evidence import is_quick
    from atlaskb.fsutil import shown

    techs = comma_list(techniques)
    request = runner.Request(mitigation, tuple(techs), backend=backend, device=device, quick=quick, seeds=seeds,
                             dataset=dataset, diversity=diversity)
    doc = runner.run(request, out=out, names=_names(app))
    n_seeds = len(doc["provenance"]["seeds"])
    click.echo(f"{counted(len(doc['results']), 'result')} for {doc['mitigation']} "
               f"({doc['backend']} on {doc['device']}, {counted(n_seeds, 'seed')}) "
               f"written to {shown(out)}/results.json")
    if is_quick(doc):
        click.echo(_QUICK_NOTE)


def _names(app) -> dict:
    """Technique names for plot titles from the loaded knowledge base."""
    return {n: d.get("name", "") for n, d in app.kb.graph.nodes(data=True)}


@defend.command("sweep")
@click.argument("mitigations", nargs=-1, metavar="[MITIGATION]...")
@click.option("--technique", "techniques", multiple=True, metavar="ID",
              help="Only these techniques (repeatable), in each mitigation that measures them.")
@click.option("--seeds", type=click.IntRange(1, 100), default=None,
              help="Seeds 0..N-1 (default 10, or 3 with --quick).")
@click.option("--quick", is_flag=True, help="Small budgets (indicative only).")
@click.option("--backend", type=click.Choice(["numpy", "torch"]), default="numpy", show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--data", "dataset", default="digits", show_default=True, metavar="SPEC",
              help="digits, synthetic[:N], or a .npz file with arrays x and y.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: worker processes on this machine; ray: Ray tasks (pip install 'atlaskb[distributed]').")
@click.option("--address", default=None, metavar="ADDR",
              help="A running Ray cluster to join (default: start Ray on this machine).")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Groups computed at once (processes, or Ray CPUs when Ray starts locally).")
@click.option("--out", required=True, type=OutPath(file_okay=False),
              help="Sweep folder: cells/ (one file per finished cell) and MITIGATION/results.json.")
@pass_app
def sweep(app, mitigations, techniques, seeds, quick, backend, device, dataset, executor, address, workers, out):
    """Run MITIGATIONs (default: every one) cell by cell into DIR; rerun to resume.

    A cell is one (mitigation, technique, seed) under one configuration; finished cells
    are kept in DIR/cells/ and reused by a rerun of the same command, so a sweep that dies
    loses only the cells it was computing. Each DIR/MITIGATION/results.json is rebuilt from
    the cells and equals `defend run` with the same seeds.
    """
    import sys

    from atlaskb.defenses import sweep as sweep_mod
    from atlaskb.fsutil import shown

    techs = comma_list(techniques)
    on_tty = sys.stderr.isatty()
    report = sweep_mod.sweep(mitigations, techs, out=out, seeds=seeds, quick=quick, backend=backend,
                             device=device, dataset=dataset, executor=executor, workers=workers,
                             address=address, names=_names(app),
                             log=None if on_tty else (lambda line: click.echo(line, err=True)),
                             progress=on_tty)
    click.echo(f"{counted(report.computed, 'cell')} computed, {report.reused} reused"
               + (f", {len(report.recomputed_bad)} unusable recomputed" if report.recomputed_bad else ""))
    for path in report.written:
        click.echo(f"written to {shown(path)}/results.json")
    if quick:
        click.echo(_QUICK_NOTE)
