"""`coverage` and `recommend`: what the deployed mitigations cover, and what to add next.

The arithmetic lives in `atlaskb.coverage` (shared with the site); this module only reads
the options and lays the answer out.
"""

from __future__ import annotations

import click

from atlaskb.cli import comma_list, pass_app
from atlaskb.cli.linkstatus import evidence_option, read_evidence, status_text
from atlaskb.cli.paths import SafePath
from atlaskb.cli.output import KeepOrder, Table, emit, format_option
from atlaskb.coverage import claimed_as_list, percent, resolve_deployed

HAVE_HELP = "Deployed mitigations (IDs or names), comma-separated or repeated. `--have ''` means none."
PROFILE_HELP = "YAML profile listing the deployed mitigations (with optional note and strength)."


def deployed_options(have_help: str = HAVE_HELP, profile_help: str = PROFILE_HELP):
    """--have and --profile, the deployed mitigations, declared once for every command
    that takes them (`coverage`, `recommend`, `site build`, `export navigator`); each
    command's help says what they do there. Read them with `deployed` (or
    `cli.comma_list` for --have alone)."""
    def decorate(command):
        command = click.option("--profile", "profile_path", type=SafePath(dir_okay=False), help=profile_help)(command)
        return click.option("--have", "have", multiple=True, metavar="M1,M2,...", help=have_help)(command)
    return decorate


def deployed(have: tuple[str, ...], profile_path: str | None) -> tuple[list[str], dict, dict]:
    """The mitigations in place from --have and/or --profile, as named there (IDs,
    short IDs or names; `coverage.resolve_deployed` makes them IDs): (names, notes,
    strengths), the profile's notes and strengths keyed as it names them."""
    if not have and not profile_path:
        raise click.UsageError("say what is deployed: --have M1,M2,... or --profile FILE (`--have ''` for none)")
    items = comma_list(have)
    notes: dict[str, str] = {}
    strength: dict[str, float] = {}
    if profile_path:
        from atlaskb.coverage import load_profile

        profile = load_profile(profile_path)
        items += profile.mitigations
        notes, strength = profile.notes, profile.strength
    return items, notes, strength


require_option = click.option(
    "--require", type=click.Choice(["claimed", "supported"]), default="claimed", show_default=True,
    help="What a link needs to count towards coverage: ATLAS's claim, or (with --evidence) a measured "
         "`supported` status.",
)


@click.command()
@deployed_options()
@evidence_option
@require_option
@click.option("--gaps", "gap_count", type=click.IntRange(min=0), default=15, show_default=True,
              help="How many ranked gaps the table shows (JSON always has all).")
@format_option
@pass_app
def coverage(app, have, profile_path, evidence_dirs, require, gap_count, fmt):
    """Which techniques the deployed mitigations cover, per tactic, and the uncovered ones
    ranked by maturity (realized > demonstrated > feasible) and case-study use.

    A technique counts as covered only through a direct link from a deployed mitigation
    (a parent's mitigation does not cover its sub-techniques, nor the reverse).
    JSON: {have, covered, uncovered, level, by_tactic, gaps, totals}.

    With --evidence, each technique a deployed mitigation claims gets the evidence
    status of its links: JSON `covered` and `claimed` become lists of {id, name, status,
    counted, mitigations: [{id, name, status, reason}]} (status: the best of its
    links'), and `totals` counts the claimed techniques per status. --require supported
    counts as covered only links whose status is `supported`.
    """
    from atlaskb import queries as q
    from atlaskb.coverage import compute

    items, notes, strength = deployed(have, profile_path)
    kb = app.kb
    evidence = read_evidence(kb, evidence_dirs)
    result = compute(kb, items, strength, evidence=evidence, require=require)
    fmt = app.fmt(fmt)
    # The profile keys notes and strengths as it names the mitigation (an ID, a short ID,
    # a name): key them by the resolved ID, as `compute` did, for the table.
    resolved = resolve_deployed(kb, items, strength, notes)
    notes, strength = resolved.notes, resolved.strength
    names = {m: kb.graph.nodes[m].get("name", "") for m in result["have"]}
    have_rows = [{"id": m, "name": names[m], "strength": strength.get(m, 1.0), "note": notes.get(m, "")}
                 for m in result["have"]]
    tactic_rows = [{"id": t, "name": e["name"], "covered": len(e["covered"]),
                    "total": len(e["covered"]) + len(e["uncovered"]), "ratio": percent(e["ratio"])}
                   for t, e in result["by_tactic"].items()]
    gaps = result["gaps"] if fmt == "csv" else result["gaps"][:gap_count]
    gaps = [{**g, "name": q.full_name(kb, g["id"])} for g in gaps]
    totals = result["totals"]
    by = f" by {require} links" if evidence is not None and require != "claimed" else ""
    summary = f"{totals['covered']} of {totals['techniques']} techniques covered{by} ({percent(totals['ratio'])})"
    if by:
        summary += f"; {totals['claimed']} claimed"
    tables = [
        Table([("id", "ID"), ("name", "Name"), ("strength", "Strength"), ("note", "Note")], have_rows,
              title="Deployed mitigations"),
        Table([("id", "Tactic"), ("name", "Name"), ("covered", "Covered"), ("total", "Techniques"),
               ("ratio", "Ratio")], tactic_rows, title="Coverage by tactic", caption=summary),
    ]
    if evidence is not None:
        result = claimed_as_list(kb, result)
        tables += _status_tables(result, require)
    else:
        tables.append(_covered_table(kb, result, strength))
    result = {**result, "by_tactic": KeepOrder(result["by_tactic"])}  # kill-chain order, not sorted
    tables.append(
        Table([("id", "ID"), ("name", "Name"), ("maturity", "Maturity"), ("case_studies", "Case studies"),
               ("weight", "Weight")], gaps,
              title="Uncovered techniques, highest risk first"
              + (f" (top {len(gaps)} of {len(result['gaps'])})" if len(gaps) < len(result["gaps"]) else "")))
    emit(result, tables, fmt, app.no_color)


def _covered_table(kb, result: dict, strength: dict) -> Table:
    """The covered techniques by name, each with the deployed mitigations stated for it
    (and its coverage level where strengths make it partial)."""
    from atlaskb import queries as q

    have = set(result["have"])
    rows = []
    for t in result["covered"]:
        by = [m["id"] for m in q.mitigations_for(kb, t) if m["id"] in have]
        rows.append({"id": t, "name": q.full_name(kb, t), "level": result["level"].get(t, 1.0), "by": ", ".join(by)})
    cols = [("id", "ID"), ("name", "Name")] + ([("level", "Level")] if strength else []) + [("by", "Covered by")]
    return Table(cols, rows, title=f"Covered techniques ({len(rows)})")


def _status_tables(result: dict, require: str) -> list[Table]:
    from atlaskb.linkstatus import STATUSES

    rows = [{**c, "links": "; ".join(f"{m['id']}: {status_text(m['status'], m['reason'])}" for m in c["mitigations"]),
             "counted": "yes" if c["counted"] else "no"} for c in result["claimed"]]
    cols = [("id", "ID"), ("name", "Name"), ("status", "Status")]
    if require != "claimed":
        cols.append(("counted", "Counted"))
    cols.append(("links", "Mitigations: status"))
    totals = result["totals"]
    total_rows = [{"status": s, "total": totals[s]} for s in STATUSES]
    return [
        Table(cols, rows, title="Claimed techniques and what the evidence says"),
        Table([("status", "Status"), ("total", "Techniques")], total_rows,
              title=f"Evidence status of the {totals['claimed']} claimed techniques"),
    ]


@click.command()
@deployed_options()
@evidence_option
@click.option("--rank", type=click.Choice(["claims", "effect"]), default="claims", show_default=True,
              help="Rank by the weight of the techniques a mitigation claims, or (with --evidence) by its "
                   "measured effect: the headline paired difference of its supported links.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many mitigations to propose.")
@format_option
@pass_app
def recommend(app, have, profile_path, evidence_dirs, rank, top, fmt):
    """The next mitigations that close the most weighted gap (greedy weighted set cover),
    each with the techniques it would newly cover.

    A technique weighs maturity factor (realized 3, demonstrated 2, feasible 1) × (1 +
    case studies using it). JSON: an array of {id, name, gain, newly_covered, techniques}.

    With --evidence each pick also says its basis (`measured effect` or `claims`), the
    status of each of its links, and `claims_alone` when nothing measured supports the
    links it gains by. --rank effect ranks first by measured effect (a supported link
    removes the share of a technique's weight that its headline difference shows), then
    the rest by claims.
    """
    from atlaskb.coverage import recommend as run_recommend

    items, _, strength = deployed(have, profile_path)
    kb = app.kb
    evidence = read_evidence(kb, evidence_dirs)
    picks = run_recommend(kb, items, top=top, strength=strength, evidence=evidence, rank=rank)
    rows = [{**p, "rank": i + 1, "count": len(p["newly_covered"])} for i, p in enumerate(picks)]
    cols = [("rank", "#"), ("id", "ID"), ("name", "Name"), ("gain", "Gain"), ("count", "New")]
    caption = None if picks else "nothing to add: every technique that some mitigation addresses is covered"
    if evidence is not None:
        from atlaskb.linkstatus import STATUSES

        for row in rows:
            row["evidence"] = "claims alone" if row["claims_alone"] else "measured"
            counts = [(s, sum(1 for v in row["statuses"].values() if v == s)) for s in STATUSES]
            row["links"] = ", ".join(f"{n} {s}" for s, n in counts if n)
        cols[3:3] = [("basis", "Ranked by")]
        cols += [("evidence", "Rests on"), ("links", "Links by status")]
        alone = sum(1 for p in picks if p["claims_alone"])
        if picks and alone:
            caption = (f"{alone} of {len(picks)} recommendation{'s' if len(picks) != 1 else ''} "
                       "rest on ATLAS's claims alone: nothing measured supports them")
    fmt = app.fmt(fmt)
    if fmt == "csv":  # one row per pick, as scripts read it; the IDs in one cell
        tables = [Table(cols + [("newly_covered", "Newly covered techniques")], rows)]
    else:
        tables = [Table(cols, rows, caption=caption), _newly_covered_table(kb, rows)]
    emit(picks, tables, fmt, app.no_color)


def _newly_covered_table(kb, rows: list[dict]) -> Table:
    """What each pick would newly cover, one technique a row, by its full name (a list
    of IDs in one cell is unreadable, and "Data" alone says nothing)."""
    from atlaskb import queries as q

    found = [{"rank": r["rank"], "mitigation": r["id"], "id": t, "name": q.full_name(kb, t)}
             for r in rows for t in r["newly_covered"]]
    return Table([("rank", "#"), ("mitigation", "Mitigation"), ("id", "Technique"), ("name", "Name")], found,
                 title="Newly covered techniques")
