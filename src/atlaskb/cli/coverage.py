"""`coverage` and `recommend`: what the deployed mitigations cover, and what to add next.

The arithmetic lives in `atlaskb.coverage` (shared with the site); this module only reads
the options and lays the answer out.
"""

from __future__ import annotations

import click

from atlaskb.cli import pass_app
from atlaskb.cli.paths import SafePath
from atlaskb.cli.output import Table, emit, format_option
from atlaskb.cli.query import query_kb

have_option = click.option(
    "--have", "have", multiple=True, metavar="M1,M2,...",
    help="Deployed mitigations (IDs or names), comma-separated or repeated. `--have ''` means none.",
)
profile_option = click.option(
    "--profile", "profile_path", type=SafePath(dir_okay=False),
    help="YAML profile listing the deployed mitigations (with optional note and strength).",
)


def deployed(have: tuple[str, ...], profile_path: str | None) -> tuple[list[str], dict, dict]:
    """The mitigations in place from --have and/or --profile: (ids, notes, strengths)."""
    if not have and not profile_path:
        raise click.UsageError("say what is deployed: --have M1,M2,... or --profile FILE (`--have ''` for none)")
    items: list[str] = []
    for chunk in have:
        items += [x.strip() for x in chunk.split(",") if x.strip()]
    notes: dict[str, str] = {}
    strength: dict[str, float] = {}
    if profile_path:
        from atlaskb.coverage import load_profile

        profile = load_profile(profile_path)
        items += profile.mitigations
        notes, strength = profile.notes, profile.strength
    return items, notes, strength


def _by_id(kb, mapping: dict) -> dict:
    """{mitigation as written: value} -> {resolved ID: value} (unresolvable keys dropped:
    `compute` has already reported them)."""
    from atlaskb import queries as q
    from atlaskb.errors import NotFound
    from atlaskb.model import MITIGATION

    out = {}
    for key, value in mapping.items():
        try:
            out[q.resolve(kb, key, MITIGATION)] = value
        except NotFound:
            continue
    return out


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.0f}%"


@click.command()
@have_option
@profile_option
@click.option("--gaps", "gap_count", type=click.IntRange(min=0), default=15, show_default=True,
              help="How many ranked gaps the table shows (JSON always has all).")
@format_option
@pass_app
def coverage(app, have, profile_path, gap_count, fmt):
    """Which techniques the deployed mitigations cover, per tactic, and the uncovered ones
    ranked by maturity (realized > demonstrated > feasible) and case-study use.

    A technique counts as covered only through a direct link from a deployed mitigation
    (a parent's mitigation does not cover its sub-techniques, nor the reverse).
    JSON: {have, covered, uncovered, level, by_tactic, gaps, totals}.
    """
    from atlaskb.coverage import compute

    items, notes, strength = deployed(have, profile_path)
    kb = query_kb(app)
    result = compute(kb, items, strength)
    fmt = app.fmt(fmt)
    # The profile keys notes and strengths as it names the mitigation (an ID, a short ID,
    # a name): key them by the resolved ID, as `compute` did, for the table.
    notes, strength = _by_id(kb, notes), _by_id(kb, strength)
    names = {m: kb.graph.nodes[m].get("name", "") for m in result["have"]}
    have_rows = [{"id": m, "name": names[m], "strength": strength.get(m, 1.0), "note": notes.get(m, "")}
                 for m in result["have"]]
    tactic_rows = [{"id": t, "name": e["name"], "covered": len(e["covered"]),
                    "total": len(e["covered"]) + len(e["uncovered"]), "ratio": _pct(e["ratio"])}
                   for t, e in result["by_tactic"].items()]
    gaps = result["gaps"] if fmt == "csv" else result["gaps"][:gap_count]
    totals = result["totals"]
    summary = f"{totals['covered']} of {totals['techniques']} techniques covered ({_pct(totals['ratio'])})"
    tables = [
        Table([("id", "ID"), ("name", "Name"), ("strength", "Strength"), ("note", "Note")], have_rows,
              title="Deployed mitigations"),
        Table([("id", "Tactic"), ("name", "Name"), ("covered", "Covered"), ("total", "Techniques"),
               ("ratio", "Ratio")], tactic_rows, title="Coverage by tactic", caption=summary),
        Table([("id", "ID"), ("name", "Name"), ("maturity", "Maturity"), ("case_studies", "Case studies"),
               ("weight", "Weight")], gaps,
              title="Uncovered techniques, highest risk first"
              + (f" (top {len(gaps)} of {len(result['gaps'])})" if len(gaps) < len(result["gaps"]) else "")),
    ]
    emit(result, tables, fmt, app.no_color)


@click.command()
@have_option
@profile_option
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many mitigations to propose.")
@format_option
@pass_app
def recommend(app, have, profile_path, top, fmt):
    """The next mitigations that close the most weighted gap (greedy weighted set cover),
    each with the techniques it would newly cover.

    A technique weighs maturity factor (realized 3, demonstrated 2, feasible 1) × (1 +
    case studies using it). JSON: an array of {id, name, gain, newly_covered, techniques}.
    """
    from atlaskb.coverage import recommend as run_recommend

    items, _, strength = deployed(have, profile_path)
    kb = query_kb(app)
    picks = run_recommend(kb, items, top=top, strength=strength)
    rows = [{**p, "rank": i + 1, "count": len(p["newly_covered"])} for i, p in enumerate(picks)]
    caption = None if picks else "nothing to add: every technique that some mitigation addresses is covered"
    emit(picks, Table([("rank", "#"), ("id", "ID"), ("name", "Name"), ("gain", "Gain"), ("count", "New"),
                       ("newly_covered", "Newly covered techniques")], rows, caption=caption),
         app.fmt(fmt), app.no_color)
