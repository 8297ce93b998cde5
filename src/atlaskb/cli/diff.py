"""`atlaskb diff --old SOURCE --new SOURCE`: what changed between two loads of ATLAS."""

from __future__ import annotations

import click

from atlaskb.cli import pass_app, warn_load_problems
from atlaskb.cli.output import Table, emit, format_option

_DESCRIPTION_WIDTH = 60


def _load(paths: tuple[str, ...], label: str):
    import atlaskb

    kb = atlaskb.load(*paths)
    warn_load_problems(kb.findings, label)
    return kb


def _change_text(value) -> str:
    """How a field's value before or after a change reads in the diff table. Not
    `cli.output.cell`: an absent value shows as ``-`` (so a field set for the first time
    reads ``-`` → ``demonstrated``), and since one row holds both sides of a change,
    prose is put on one line and cut at _DESCRIPTION_WIDTH characters; lists stay whole."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    if value is None:
        return "-"
    text = " ".join(str(value).split())
    return text if len(text) <= _DESCRIPTION_WIDTH else text[: _DESCRIPTION_WIDTH - 1] + "…"


def _step_tactics_text(steps) -> str:
    """A `uses` link's procedure steps before or after a change, as ``step@tactic`` (``?``
    for a step without one), since the tactics of its steps are what a change of that
    link is about (`atlaskb.diff._step_tactics`)."""
    return ", ".join(f"{s.get('step')}@{s.get('tactic') or '?'}" for s in steps) or "-"


def tables(result: dict) -> list[Table]:
    """The diff as tables people read: one row per object or link change, one per field."""
    objects = Table([("change", "change"), ("id", "id"), ("type", "type"), ("name", "name")],
                    [], title="Objects added and removed")
    for change in ("added", "removed"):
        objects.rows += [{"change": change, **o} for o in result[change]]
    fields = Table([("id", "id"), ("name", "name"), ("field", "field"), ("before", "before"), ("after", "after")],
                   [], title="Objects changed")
    for obj in result["changed"]:
        for field, change in obj["changes"].items():
            fields.rows.append({"id": obj["id"], "name": obj["name"], "field": field,
                                "before": _change_text(change["before"]), "after": _change_text(change["after"])})
    links = Table([("change", "change"), ("source", "source"), ("type", "type"), ("target", "target"),
                   ("detail", "detail")], [], title="Links added, removed and changed")
    for change in ("links_added", "links_removed"):
        links.rows += [{"change": change[6:], **l, "detail": ""} for l in result[change]]
    for link in result["links_changed"]:
        for field, change in link["changes"].items():
            show = _step_tactics_text if field == "steps" else _change_text
            links.rows.append({"change": "changed", **link,
                               "detail": f"{field}: {show(change['before'])} → {show(change['after'])}"})
    s = result["summary"]
    links.caption = (f"{s['added']} added, {s['removed']} removed, {s['changed']} changed objects; "
                     f"{s['links_added']} added, {s['links_removed']} removed, {s['links_changed']} changed links")
    return [objects, fields, links]


@click.command()
@click.option("--old", "old", multiple=True, required=True, metavar="SOURCE",
              help="The earlier source (vault, ATLAS.yaml or STIX bundle); repeat to overlay.")
@click.option("--new", "new", multiple=True, required=True, metavar="SOURCE",
              help="The later source; repeat to overlay.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are differences (like diff(1)).")
@format_option
@pass_app
def diff(app, old, new, exit_code, fmt):
    """Objects added, removed and changed (renamed, moved tactic, maturity ...) and links
    added, removed and changed between two sources. Exit 0 unless --exit-code is given."""
    from atlaskb.diff import diff as compute, has_differences

    result = compute(_load(old, "old"), _load(new, "new"))
    data = {"old": list(old), "new": list(new), **result}
    emit(data, tables(result), app.fmt(fmt), no_color=app.no_color)
    if exit_code and has_differences(result):
        raise click.exceptions.Exit(1)
