"""Query commands: show, mitigations, techniques, tactics, matrix, search, case-studies, path.

Every command takes its answer as plain data from the library (`atlaskb.queries`,
`atlaskb.describe`), the same data the Python API gives, and hands it with the tables
people read to `cli.output.emit`, so the four formats agree. What is left here is
argument handling and presentation.

Commands that take IDs also take several at once, and `-` (or `--stdin`) reads IDs from
standard input one per line: a script asking a hundred questions pays the interpreter's
start-up and the load once, not a hundred times.

An unknown ID or name is reported on stderr with "did you mean ..."; the command still
answers the IDs it could resolve, then exits 1.
"""

from __future__ import annotations

import sys

import click

from atlaskb import queries as q
from atlaskb.cli import pass_app
from atlaskb.cli.linkstatus import evidence_option, read_evidence, status_text
from atlaskb.cli.output import Table, cell, counted, emit, format_option
from atlaskb.describe import attach_evidence, describe, with_link_status
from atlaskb.errors import AtlasError, NotFound
from atlaskb.model import CASE_STUDY, MITIGATION, TACTIC, TECHNIQUE

_TYPE_COMMAND = {TECHNIQUE: "mitigations", MITIGATION: "techniques", TACTIC: "show", CASE_STUDY: "show"}

stdin_option = click.option("--stdin", "use_stdin", is_flag=True,
                            help="Also read IDs or names from standard input, one per line (same as `-`).")


# -- shared helpers ----------------------------------------------------------------------

def complete_ids(obj_type: str | None):
    """Shell completion of IDs (with the name as help) for an argument of `obj_type`.
    Reads the same sources as the command would; never fails (no completion instead)."""

    def complete(ctx, param, incomplete):
        try:
            from click.shell_completion import CompletionItem

            import atlaskb

            kb = atlaskb.load(*(ctx.find_root().params.get("sources") or ()))
            ids = kb.nodes_of_type(obj_type) if obj_type else sorted(kb.graph.nodes)
            prefix = incomplete.upper()
            return [CompletionItem(n, help=kb.graph.nodes[n].get("name") or None)
                    for n in ids if n.upper().startswith(prefix)]
        except Exception:  # noqa: BLE001 - a completion must never print a traceback
            return []

    return complete


def read_queries(args: tuple[str, ...], use_stdin: bool) -> list[str]:
    """The IDs asked for: arguments in order, `-` (or --stdin) replaced by stdin's lines.
    Blank lines and lines starting with `#` are skipped; repeats are asked once."""
    out: list[str] = []
    wants_stdin = use_stdin or "-" in args
    for a in args:
        if a == "-":
            continue
        if not a.strip():
            raise click.UsageError("an empty ID or name was given; give an ATLAS ID or (part of) a name")
        out.append(a)
    if wants_stdin:
        for line in sys.stdin:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    seen: set[str] = set()
    unique = []
    for item in out:
        if item not in seen:
            seen.add(item)
            unique.append(item)
    if not unique:
        raise click.UsageError("give at least one ID or name (or `-` to read them from stdin)")
    return unique


def resolve_as(kb, query: str, obj_type: str | None) -> str:
    """`queries.resolve`, with a precise message when the ID exists but is of another
    type (`mitigations AML.M0003` asks a technique question of a mitigation)."""
    try:
        return q.resolve(kb, query, obj_type)
    except NotFound as e:
        if e.actual_type and e.wanted_type:
            other, actual = e.object_id, e.actual_type
            hint = _TYPE_COMMAND.get(actual, "show")
            raise AtlasError(f"{other} is a {actual}, not a {obj_type}; try `atlaskb {hint} {other}`") from None
        raise


def resolve_many(kb, queries: list[str], obj_type: str | None) -> tuple[list[str], list[AtlasError]]:
    """Resolve each query; unknown ones become errors (reported later) instead of stopping
    the batch. Keeps the order asked, dropping repeats after resolution."""
    ids: list[str] = []
    errors: list[AtlasError] = []
    for query in queries:
        try:
            found = resolve_as(kb, query, obj_type)
        except AtlasError as e:
            errors.append(e)
            continue
        if found not in ids:
            ids.append(found)
    return ids, errors


def finish(errors: list[AtlasError]) -> None:
    """Report the queries that failed; exit 1 if any did."""
    for e in errors:
        click.echo(f"atlaskb: {e}", err=True)
    if errors:
        raise click.exceptions.Exit(1)


# -- show --------------------------------------------------------------------------------

# Shown apart from the field table (name and description) or not at all.
_HIDDEN_FIELDS = {"type", "name", "description", "procedure", "order"}


def evidence_table_rows(measured: list[tuple[str, str, dict]]) -> list[dict]:
    """The measured rows (`describe.attach_evidence`) as the evidence table's rows: the
    attack by its label, each side's 95% interval and the paired change's as text."""
    from atlaskb.evidence import attack_label  # only with --evidence

    return [{"mitigation": m, "technique": t, "attack": attack_label(str(r.get("attack") or "")),
             "metric": r.get("metric"),
             "baseline": r.get("baseline"), "defended": r.get("defended"), "ci95": r.get("ci95"),
             "baseline_ci": _interval(r.get("ci95"), "baseline"),
             "defended_ci": _interval(r.get("ci95"), "defended"),
             "better": "higher" if r.get("higher_is_better") else "lower",
             "difference": _interval({"d": (r.get("difference") or {}).get("ci95")}, "d"),
             "verdict": r.get("verdict", "")} for m, t, r in measured]


def _interval(ci95, side: str) -> str:
    """`[lo, hi]` for one side of a result's 95% interval, or "" when it has none."""
    bounds = ci95.get(side) if isinstance(ci95, dict) else None
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        return ""
    return f"[{cell(bounds[0])}, {cell(bounds[1])}]"


def show_tables(obj: dict, evidence_rows: list[dict] | None, evidence_title: str = "Measured evidence") -> list[Table]:
    """A described object (`describe.describe`) as the tables `show` prints: its fields,
    then one table per kind of relationship, then the evidence rows when given."""
    fields = [{"field": "id", "value": obj["id"]}, {"field": "type", "value": obj.get("type")},
              {"field": "name", "value": obj.get("name")}]
    for key in sorted(obj):
        value = obj[key]
        if key in _HIDDEN_FIELDS or key == "id" or isinstance(value, (list, dict)) or value in (None, ""):
            if key in ("category", "lifecycle") and value:
                fields.append({"field": key, "value": value})
            continue
        fields.append({"field": key, "value": value})
    if obj.get("description"):
        fields.append({"field": "description", "value": obj["description"]})
    tables = [Table([("field", "Field"), ("value", "Value")], fields, title=f"{obj['id']}  {obj.get('name', '')}")]
    if obj.get("parent"):
        tables.append(Table([("id", "ID"), ("name", "Name")], [obj["parent"]], title="Parent technique"))
    if obj.get("subtechniques"):
        tables.append(Table([("id", "ID"), ("name", "Name")], obj["subtechniques"], title="Sub-techniques"))
    if "tactics" in obj and obj.get("type") == TECHNIQUE:
        tables.append(Table([("id", "ID"), ("name", "Name")], obj["tactics"], title="Tactics"))
    if "mitigations" in obj:
        cols = [("id", "ID"), ("name", "Name")] + _status_column(obj["mitigations"]) + [("note", "Note")]
        tables.append(Table(cols, _with_status_text(obj["mitigations"]), title="Mitigations"))
    if "case_studies" in obj:
        rows = [{**c, "steps": _steps_text(c["steps"])} for c in obj["case_studies"]]
        tables.append(Table([("id", "ID"), ("name", "Name"), ("steps", "Steps")], rows, title="Case studies"))
    if "techniques" in obj:
        if obj.get("type") == MITIGATION:
            cols = [("id", "ID"), ("name", "Name"), ("tactics", "Tactics")] + _status_column(obj["techniques"]) + [
                ("note", "Note")]
        elif obj.get("type") == CASE_STUDY:
            cols = [("steps", "Steps"), ("id", "ID"), ("name", "Name")]
        else:
            cols = [("id", "ID"), ("name", "Name")]
        rows = [{**t, "steps": _steps_text(t.get("steps", []))} for t in _with_status_text(obj["techniques"])]
        tables.append(Table(cols, rows, title="Techniques"))
    if evidence_rows is not None:
        tables.append(Table([("mitigation", "Mitigation"), ("technique", "Technique"), ("attack", "Attack"),
                             ("metric", "Metric"), ("better", "Better"), ("baseline", "Baseline"),
                             ("baseline_ci", "95% CI"), ("defended", "Defended"), ("defended_ci", "95% CI"),
                             ("difference", "Paired change 95% CI"), ("verdict", "Verdict")],
                            evidence_rows, title=evidence_title))
    return tables


def _status_column(entries: list[dict]) -> list[tuple[str, str]]:
    """The evidence column, when `--evidence` gave the entries a status."""
    return [("status_text", "Evidence")] if any("status" in e for e in entries) else []


def _with_status_text(entries: list[dict]) -> list[dict]:
    """Entries with a status get its cell text (`status_text`) for the evidence column."""
    return [{**e, "status_text": status_text(e["status"], e.get("reason", ""))} if "status" in e else e
            for e in entries]


def _steps_text(steps: list[dict]) -> str:
    """Procedure steps for a table cell: `7 (AML.TA0001), 9`."""
    return ", ".join(f"{s.get('step')}" + (f" ({s['tactic']})" if s.get("tactic") else "") for s in steps)


@click.command()
@click.argument("objects", nargs=-1, metavar="ID|NAME...", shell_complete=complete_ids(None))
@stdin_option
@evidence_option
@click.option("--provenance", is_flag=True,
              help="Also say where the object was read: file, line, and whether it has a page of its own.")
@format_option
@pass_app
def show(app, objects, use_stdin, evidence_dirs, provenance, fmt):
    """One object (ID, name or partial name) with its relationships.

    JSON: an object for one query, an array for several (or with `-`/--stdin); where
    it was read (file, line, has_page) only with --provenance. With
    --evidence, each mitigation of a technique (each technique of a mitigation) has the
    link's `status` and `reason`, and `evidence`: the measured rows.
    """
    queries = read_queries(objects, use_stdin)
    kb = app.kb
    statuses = read_evidence(kb, evidence_dirs)  # reports rows for links the sources lack
    title = "Measured evidence (quick run: indicative)" if statuses is not None and statuses.quick else ""
    ids, errors = resolve_many(kb, queries, None)
    objs, tables = [], []
    for object_id in ids:
        obj = describe(kb, object_id, provenance)
        rows = evidence_table_rows(attach_evidence(kb, obj, statuses.rows, statuses)) if statuses is not None else None
        objs.append(obj)
        tables.extend(show_tables(obj, rows, title or "Measured evidence"))
    if objs:
        # By what was asked, not by what was left after repeats were dropped: `show X X`
        # (or `show X x`) is a batch of two, and a script gets the array it expects.
        batch = len(objects) > 1 or use_stdin or "-" in objects
        emit(objs if batch else objs[0], tables, app.fmt(fmt), app.no_color)
    finish(errors)


# -- mitigations / techniques --------------------------------------------------------------

@click.command()
@click.argument("techniques", nargs=-1, metavar="TECHNIQUE...", shell_complete=complete_ids(TECHNIQUE))
@stdin_option
@click.option("--rollup", is_flag=True,
              help="Also count mitigations stated for the technique's parent or its sub-techniques (column `via`).")
@evidence_option
@format_option
@pass_app
def mitigations(app, techniques, use_stdin, rollup, evidence_dirs, fmt):
    """The mitigations that address a technique, with their notes.

    Several techniques (or `-` for stdin) give one list with a `technique` column.
    JSON: an array of {technique, id, name, note, via}; `via` is null for a direct link.
    With --evidence each also has the link's evidence `status` and `reason` (for a
    rolled-up row, the status of the link to `via`).
    """
    queries = read_queries(techniques, use_stdin)
    kb = app.kb
    evidence = read_evidence(kb, evidence_dirs)
    ids, errors = resolve_many(kb, queries, TECHNIQUE)
    rows = []
    for t in ids:
        found = q.mitigations_for(kb, t, rollup=rollup)
        if evidence is not None:
            found = with_link_status(found, t, evidence)
        rows += [{"technique": t, **m} for m in found]
    if ids:
        cols = [("id", "ID"), ("name", "Name")] + ([("via", "Via")] if rollup else []) + _status_column(rows) + [
            ("note", "Note")]
        if len(ids) > 1:
            cols.insert(0, ("technique", "Technique"))
        title = None if len(ids) > 1 else f"Mitigations of {ids[0]} {q.name_of(kb, ids[0])}"
        emit(rows, Table(cols, _with_status_text(rows), title=title, caption=counted(len(rows), "mitigation link")),
             app.fmt(fmt), app.no_color)
    finish(errors)


@click.command()
@click.argument("mitigation_ids", nargs=-1, metavar="MITIGATION...", shell_complete=complete_ids(MITIGATION))
@stdin_option
@format_option
@pass_app
def techniques(app, mitigation_ids, use_stdin, fmt):
    """What a mitigation covers, grouped by tactic (kill-chain order).

    JSON: an array of {mitigation, id, name, note, tactics}, one per technique, ordered by
    its first tactic then ID. A table lists a technique under each tactic it serves.
    """
    queries = read_queries(mitigation_ids, use_stdin)
    kb = app.kb
    ids, errors = resolve_many(kb, queries, MITIGATION)
    rows, tables = [], []
    for m in ids:
        found = [{"mitigation": m, **t} for t in q.techniques_by_kill_chain(kb, m)]
        rows += found
        for tac, group in q.group_by_tactic(kb, found).items():
            title = f"{tac} {q.name_of(kb, tac)}" if tac else "(no tactic)"
            if len(ids) > 1:
                title = f"{m} · {title}"
            tables.append(Table([("id", "ID"), ("name", "Name"), ("note", "Note")], group, title=title))
    if ids:
        if not tables:
            tables.append(Table([("id", "ID"), ("name", "Name"), ("note", "Note")], [], title="Techniques"))
        if len(ids) == 1:
            tables[-1].caption = f"{len(rows)} technique(s) covered by {ids[0]} {q.name_of(kb, ids[0])}"
        emit(rows, tables, app.fmt(fmt), app.no_color)
    finish(errors)


# -- tactics / matrix ------------------------------------------------------------------------

@click.command()
@format_option
@pass_app
def tactics(app, fmt):
    """The tactics in kill-chain order, with how many techniques achieve each."""
    kb = app.kb
    rows = q.tactic_counts(kb)
    emit(rows, Table([("id", "ID"), ("name", "Name"), ("techniques", "Techniques"),
                      ("subtechniques", "Sub-techniques")], rows), app.fmt(fmt), app.no_color)


@click.command()
@click.option("--sub", "with_subs", is_flag=True, help="Include sub-techniques under their parents.")
@click.option("--ids", "ids_only", is_flag=True, help="Techniques by ID only (narrower).")
@click.option("--width", type=click.IntRange(min=40), default=None,
              help="Lay the blocks out for this many columns (default: the terminal's width).")
@format_option
@pass_app
def matrix(app, with_subs, ids_only, width, fmt):
    """The tactic × technique matrix, in kill-chain order: one block per tactic, its
    techniques in as many columns as the width allows (one a line when piped, so that
    `grep` sees whole entries).

    JSON: an array of tactics, each {id, name, techniques: [{id, name, parent}]}.
    CSV: one row per (tactic, technique).
    """
    kb = app.kb
    data = q.matrix(kb, include_subtechniques=with_subs)
    fmt = app.fmt(fmt)
    if fmt == "table":
        from atlaskb.cli.output import _is_tty

        columns = width or (_terminal_width() if _is_tty() else None)
        click.echo(matrix_text(data, columns, ids_only), nl=False)
        return
    rows = [{"tactic": col["id"], "tactic_name": col["name"], "id": e["id"], "name": e["name"], "parent": e["parent"]}
            for col in data for e in col["techniques"]]
    emit(data, Table([("tactic", "Tactic"), ("tactic_name", "Tactic name"), ("id", "ID"), ("name", "Name"),
                      ("parent", "Parent")], rows), fmt, app.no_color)


def _terminal_width() -> int:
    import shutil

    return max(40, min(shutil.get_terminal_size((100, 24)).columns, 240))


def matrix_text(data: list[dict], width: int | None, ids_only: bool = False) -> str:
    """The matrix as text blocks, one per tactic. With a `width`, a block's entries fill
    as many columns (top to bottom, then left to right) as fit, and no line is longer;
    an entry is cut (with …) only when one alone would not fit. Without one, one entry a
    line. Sub-techniques are indented under their parent."""
    out: list[str] = []
    for col in data:
        count = len(col["techniques"])
        out.append(f"{col['name'] or col['id']} ({col['id']}): {counted(count, 'technique')}")
        labels = [("  " if e["parent"] else "") + (e["id"] if ids_only else f"{e['id']}  {e['name'] or ''}".rstrip())
                  for e in col["techniques"]]
        out.extend(_columns(labels, width))
        out.append("")
    return "\n".join(out)


def _columns(labels: list[str], width: int | None, indent: int = 2, gap: int = 3) -> list[str]:
    if not labels:
        return []
    if width is None:
        return [" " * indent + label for label in labels]
    room = width - indent
    cell = min(max(len(label) for label in labels), room)
    per_line = max(1, (room + gap) // (cell + gap))
    height = -(-len(labels) // per_line)
    fitted = [label if len(label) <= cell else label[: cell - 1] + "…" for label in labels]
    lines = []
    for r in range(height):
        parts = [fitted[c * height + r] for c in range(per_line) if c * height + r < len(fitted)]
        lines.append(" " * indent + (" " * gap).join(p.ljust(cell) for p in parts).rstrip())
    return lines


# -- search / case studies / path -------------------------------------------------------------

@click.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--type", "obj_type", type=click.Choice([TACTIC, TECHNIQUE, MITIGATION, CASE_STUDY]),
              help="Only objects of this type.")
@format_option
@pass_app
def search(app, text, obj_type, fmt):
    """Objects whose ID, name or description hold every word of TEXT, as typed or in
    another form (poisoning finds Poison Training Data); a sub-technique's name counts
    with its parent's (prompt injection finds LLM Prompt Injection: Direct).

    Ranked: ID matches, then name matches, then description matches. Exit 1 when
    nothing matches. JSON: an array of {id, name, type}.
    """
    if not " ".join(text).split():
        raise click.UsageError("give at least one word to search for")
    kb = app.kb
    found = q.search(kb, " ".join(text), obj_type)
    rows = [{"id": n, "name": q.name_of(kb, n), "type": kb.graph.nodes[n].get("type")} for n in found]
    if not rows:
        raise AtlasError(f"nothing matches {' '.join(text)!r}")
    named = [{**r, "name": q.full_name(kb, r["id"])} for r in rows]  # "Direct" alone says nothing
    emit(rows, Table([("id", "ID"), ("type", "Type"), ("name", "Name")], named,
                     caption=counted(len(rows), "match", "matches")), app.fmt(fmt), app.no_color)


@click.command("case-studies")
@click.argument("techniques", nargs=-1, metavar="[TECHNIQUE...]", shell_complete=complete_ids(TECHNIQUE))
@stdin_option
@format_option
@pass_app
def case_studies(app, techniques, use_stdin, fmt):
    """Case studies that use a technique, with the procedure steps (and tactic) using it.
    With no technique: every case study.

    JSON: an array of {technique, id, name, steps: [{step, tactic}]}.
    """
    kb = app.kb
    if not techniques and not use_stdin:
        rows = q.case_studies(kb)
        emit(rows, Table([("id", "ID"), ("name", "Name"), ("incident_date", "Date"), ("target", "Target")], rows),
             app.fmt(fmt), app.no_color)
        return
    ids, errors = resolve_many(kb, read_queries(techniques, use_stdin), TECHNIQUE)
    rows = []
    for t in ids:
        rows += [{"technique": t, **c} for c in q.case_studies_for(kb, t)]
    if ids:
        table_rows = [{**r, "steps": _steps_text(r["steps"])} for r in rows]
        cols = [("id", "ID"), ("name", "Name"), ("steps", "Steps")]
        if len(ids) > 1:
            cols.insert(0, ("technique", "Technique"))
        emit(rows, Table(cols, table_rows, caption=f"{len(rows)} case stud{'y' if len(rows) == 1 else 'ies'}"),
             app.fmt(fmt), app.no_color)
    finish(errors)


@click.command()
@click.argument("a", metavar="A", shell_complete=complete_ids(None))
@click.argument("b", metavar="B", shell_complete=complete_ids(None))
@format_option
@pass_app
def path(app, a, b, fmt):
    """The shortest chain of relationships between two objects (direction ignored).

    Each hop names the link type and whether it points forward (A→B) or backward.
    Exit 1 when the two are not connected. JSON: {from, to, length, path: [...]}.
    """
    kb = app.kb
    src, dst = resolve_as(kb, a, None), resolve_as(kb, b, None)
    found = q.path_hops(kb, src, dst)
    if found is None:
        raise AtlasError(f"no path between {src} and {dst}")
    hops = [{"id": h["id"], "name": h["name"], "type": h["type"], "link": _links_text(h["links"]) if i else None}
            for i, h in enumerate(found)]
    data = {"from": src, "to": dst, "length": len(hops) - 1, "path": hops}
    rows = [{**h, "step": i} for i, h in enumerate(hops)]
    emit(data, Table([("step", "#"), ("link", "Link from previous"), ("id", "ID"), ("type", "Type"), ("name", "Name")],
                     rows, title=f"{src} → {dst}: {counted(len(hops) - 1, 'link')}"), app.fmt(fmt), app.no_color)


def _links_text(links: list[tuple[str, str]]) -> str:
    """The links joining two hops of a path, a backward one marked ``(reverse)``."""
    return ", ".join(f"{t}" if d == "forward" else f"{t} (reverse)" for t, d in links)
