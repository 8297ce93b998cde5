"""Coverage of ATLAS techniques by the mitigations an organisation has in place, and what
to deploy next.

How techniques count
--------------------
A technique (parent or sub-technique alike) is *covered* only when a deployed mitigation
has a direct ``mitigates`` link to it. Nothing is inherited in either direction:

* a mitigation of a parent does not cover its sub-techniques: ATLAS states its
  mitigations per sub-technique (Model Hardening lists AML.T0043 *and* each of
  AML.T0043.000-.004), so a missing sub-technique link is a real statement, and
  inheriting would overstate coverage;
* covering every sub-technique does not cover the parent, whose own behaviour (the
  general form of the attack) may still be open.

`covered` and `uncovered` therefore partition *all* techniques of the graph, parents and
sub-techniques, including objects known only from links. `by_tactic` lists each
technique under every tactic it achieves (a sub-technique under its parent's tactics
when it states none: `queries.tactics_of`), so a technique may appear in several tactics
and techniques with no tactic appear in none.

Strength
--------
A profile may give each mitigation a strength in [0, 1] (default 1: fully effective).
A technique's coverage level is ``1 - Π(1 - strength)`` over the deployed mitigations
linked to it; it is *covered* when that is above 0. A mitigation listed with strength 0
is in place but counted as ineffective. Recommendations weigh the residual
``1 - level`` of each technique, so strengthening a weakly covered technique still
counts, in proportion.

Gaps and weights
----------------
Uncovered techniques are ranked by maturity (realized > demonstrated > feasible >
unknown), then by the number of case studies that use them, then by ID. For the
weighted set cover each technique weighs ``maturity factor × (1 + case studies)`` with
factors realized 3, demonstrated 2, feasible 1, unknown 1: a technique seen in the wild
and used in many case studies is the gap to close first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from atlaskb import queries as q
from atlaskb.errors import NotFound, SourceError, UsageError
from atlaskb.linkstatus import CLAIM_ONLY, STATUSES, SUPPORTED, best
from atlaskb.model import MITIGATES, MITIGATION, TECHNIQUE, id_sort_key, is_id

MATURITY_FACTOR = {"realized": 3.0, "demonstrated": 2.0, "feasible": 1.0}
CLAIMED = "claimed"
REQUIRE = (CLAIMED, SUPPORTED)  # what a link needs to count towards coverage
RANKS = ("claims", "effect")  # how `recommend` ranks candidates
_MAX_PROFILE_BYTES = 1024 * 1024


@dataclass
class Profile:
    """The mitigations in place, as a profile file states them (IDs or names, unresolved)."""

    mitigations: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    strength: dict[str, float] = field(default_factory=dict)


# -- profiles --------------------------------------------------------------------------------

def load_profile(path: str) -> Profile:
    """Read a profile: a YAML file with a ``mitigations`` list (or mapping).

    Accepted shapes::

        mitigations:              # list of IDs ...
          - AML.M0003
          - id: AML.M0015         # ... or of {id, note, strength}
            note: WAF rule set 12
            strength: 0.5
        # or a mapping  ID: {note, strength}  (or ID: null), or a bare top-level list.

    Only YAML's safe subset is read (the file is composed, never constructed into Python
    objects). Errors name the file and line: SourceError (exit 2) when the file cannot be
    read or is not YAML, UsageError (exit 2) when its shape is wrong.
    """
    import yaml

    from atlaskb.sources.files import read_small_file

    text = read_small_file(path, _MAX_PROFILE_BYTES, "profile", "a coverage profile")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise SourceError(f"{path}{line}: not valid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise SourceError(f"{path}: not valid YAML: {e}") from None
    except RecursionError:  # the composer recurses once per level of nesting
        raise SourceError(f"{path}: nested too deeply to be a coverage profile") from None
    if root is None:
        raise UsageError(f"{path}: empty profile; expected `mitigations:` with a list of mitigation IDs")
    return _profile_from_node(path, root)


def _where(path: str, node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _scalar(path: str, node, what: str) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise UsageError(f"{_where(path, node)}: {what} must be a plain value, not a list or mapping")
    return str(node.value).strip()


def _profile_from_node(path: str, root) -> Profile:
    """The profile a composed YAML document states; UsageError naming the line otherwise."""
    import yaml

    profile = Profile()
    items = _mitigations_node(path, root)
    if isinstance(items, yaml.ScalarNode):
        if _is_null(items):
            return profile  # `mitigations:` with nothing: nothing deployed
        raise UsageError(f"{_where(path, items)}: `mitigations` must be a list or mapping of mitigation IDs")
    entries = _list_entries(path, items) if isinstance(items, yaml.SequenceNode) else _mapping_entries(path, items)
    for id_node, fields, node in entries:
        _add_entry(path, profile, id_node, fields, node)
    return profile


def _is_null(node) -> bool:
    return node.value.strip() in ("", "~", "null")


def _mitigations_node(path: str, root):
    """The node listing the mitigations: the value of `mitigations:` in a mapping, or the
    document itself (a bare list)."""
    import yaml

    if not isinstance(root, yaml.MappingNode):
        return root
    keys = {_scalar(path, k, "a key"): (k, v) for k, v in root.value}
    unknown = sorted(set(keys) - {"mitigations", "name", "description", "notes"})
    if unknown:
        raise UsageError(f"{_where(path, keys[unknown[0]][0])}: unknown key {unknown[0]!r}; "
                         "a profile has `mitigations:` (and optionally `name:`, `description:`)")
    if "mitigations" not in keys:
        raise UsageError(f"{_where(path, root)}: no `mitigations:` key")
    return keys["mitigations"][1]


def _list_entries(path: str, items) -> list[tuple]:
    """(ID node, {field: node}, node for messages) of each item of a list: an ID, or a
    mapping with `id` and optional fields."""
    import yaml

    entries = []
    for item in items.value:
        if isinstance(item, yaml.MappingNode):
            fields = {_scalar(path, k, "a key"): v for k, v in item.value}
            if "id" not in fields:
                raise UsageError(f"{_where(path, item)}: a mitigation entry needs an `id`")
            entries.append((fields.pop("id"), fields, item))
        else:
            entries.append((item, {}, item))
    return entries


def _mapping_entries(path: str, items) -> list[tuple]:
    """The same from a mapping ID -> {note, strength} or ID -> null."""
    import yaml

    entries = []
    for k, v in items.value:
        if isinstance(v, yaml.MappingNode):
            fields = {_scalar(path, fk, "a key"): fv for fk, fv in v.value}
        elif isinstance(v, yaml.ScalarNode) and _is_null(v):
            fields = {}
        else:
            raise UsageError(f"{_where(path, v)}: expected {{note, strength}} for {k.value}")
        entries.append((k, fields, k))
    return entries


def _add_entry(path: str, profile: Profile, id_node, fields: dict, node) -> None:
    """One mitigation entry into `profile` (an ID is upper-cased; names stay as written)."""
    mid = _scalar(path, id_node, "a mitigation ID")
    if not mid:
        raise UsageError(f"{_where(path, node)}: empty mitigation ID")
    if is_id(mid.upper()):
        mid = mid.upper()
    unknown = sorted(set(fields) - {"note", "strength"})
    if unknown:
        raise UsageError(f"{_where(path, fields[unknown[0]])}: unknown field {unknown[0]!r} "
                         "(a mitigation entry has id, note, strength)")
    if mid not in profile.mitigations:
        profile.mitigations.append(mid)
    if "note" in fields:
        profile.notes[mid] = _scalar(path, fields["note"], "note")
    if "strength" in fields:
        profile.strength[mid] = _strength(path, fields["strength"])


def _strength(path: str, node) -> float:
    raw = _scalar(path, node, "strength")
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{_where(path, node)}: strength must be a number from 0 to 1, not {raw!r}")
    return value


# -- coverage --------------------------------------------------------------------------------

def percent(ratio: float) -> str:
    """A coverage ratio as people read it: `0.4167` -> `42%`."""
    return f"{ratio * 100:.0f}%"


@dataclass
class Deployed:
    """The mitigations in place, resolved to IDs: `ids` in the order first named, each
    once; a profile's `strength` and `notes` keyed by those IDs."""

    ids: list[str]
    strength: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def resolve_deployed(kb, names, strength: dict | None = None, notes: dict | None = None) -> Deployed:
    """Mitigations as a user names them (`queries.resolve`'s rule: an ID in any case, with
    or without `AML.`, or a name) -> their IDs, with `strength` and `notes` (keyed as the
    user named the mitigation) re-keyed by ID. This is the one place a profile's or
    `--have`'s names become IDs: `compute`, `recommend`, the CLI and the site all use it.

    An unknown name in `names` raises NotFound, with suggestions. A strength or note
    keyed by a name that matches nothing is dropped (it belongs to no deployed
    mitigation); when two names of one mitigation carry a value, the later one wins.
    """
    ids: list[str] = []
    for name in names:
        mid = q.resolve(kb, name, MITIGATION)
        if mid not in ids:
            ids.append(mid)
    return Deployed(ids, {m: float(v) for m, v in _by_mitigation_id(kb, strength or {}).items()},
                    _by_mitigation_id(kb, notes or {}))


def _by_mitigation_id(kb, mapping: dict) -> dict:
    out = {}
    for name, value in mapping.items():
        try:
            out[q.resolve(kb, name, MITIGATION)] = value
        except NotFound:
            continue
    return out


def _levels(kb, have: list[str], strengths: dict[str, float], counts=None) -> dict[str, float]:
    """Technique -> coverage level 1 - Π(1 - strength), for techniques some deployed
    mitigation links to (level may be 0 when all of them have strength 0). `counts`,
    when given, says which links (mitigation, technique) count at all."""
    residual: dict[str, float] = {}
    for m in have:
        s = strengths.get(m, 1.0)
        for _, t, k in kb.graph.out_edges(m, keys=True):
            if k == MITIGATES and (counts is None or counts(m, t)):
                residual[t] = residual.get(t, 1.0) * (1.0 - s)
    return {t: 1.0 - r for t, r in residual.items()}


def technique_weight(kb, technique: str) -> float:
    """maturity factor × (1 + number of case studies using it); see module docstring."""
    factor = MATURITY_FACTOR.get(kb.graph.nodes[technique].get("maturity") or "", 1.0)
    return factor * (1 + q.case_study_count(kb, technique))


def compute(kb, have, strength: dict[str, float] | None = None, evidence=None,
            require: str = CLAIMED) -> dict:
    """Coverage of every technique by the mitigations `have` (IDs or names).

    Returns ``{"have", "covered", "uncovered", "level", "by_tactic", "gaps", "totals"}``:
    `covered`/`uncovered` partition all technique IDs (ATLAS order); `level` maps each
    covered technique to its coverage level (1.0 without strengths); `by_tactic` is
    ``{tactic: {"name", "covered", "uncovered", "ratio"}}`` in kill-chain order;
    `gaps` ranks the uncovered (see module docstring). Unknown mitigations raise NotFound.

    With `evidence` (an `atlaskb.linkstatus.LinkStatuses`) the result also has ``require``
    and ``claimed``: ``{technique: {"status", "counted", "mitigations": [{"id",
    "status", "reason"}]}}`` for every technique a deployed mitigation claims, its
    status the best of its links' (`linkstatus.best`); `totals` adds ``claimed`` and a
    count of claimed techniques per status. `require` ``supported`` counts a link
    towards coverage only when its status is ``supported``.
    """
    if require not in REQUIRE:
        raise UsageError(f"require must be one of {', '.join(REQUIRE)}, not {require!r}")
    if require != CLAIMED and evidence is None:
        raise UsageError(f"--require {require} needs evidence: give --evidence DIR")
    deployed = resolve_deployed(kb, have, strength)
    ids, strengths = sorted(deployed.ids, key=id_sort_key), deployed.strength
    counts = None if require == CLAIMED else (lambda m, t: evidence.status(m, t).status == SUPPORTED)
    levels = _levels(kb, ids, strengths, counts)
    techniques = kb.nodes_of_type(TECHNIQUE)
    covered = [t for t in techniques if levels.get(t, 0.0) > 0.0]
    covered_set = set(covered)
    uncovered = [t for t in techniques if t not in covered_set]
    by_tactic: dict[str, dict] = {}
    for tactic in q.tactics(kb):
        by_tactic[tactic] = {"name": kb.graph.nodes[tactic].get("name", ""), "covered": [], "uncovered": []}
    for t in techniques:
        for tactic in q.tactics_of(kb, t):
            if tactic in by_tactic:
                by_tactic[tactic]["covered" if t in covered_set else "uncovered"].append(t)
    for entry in by_tactic.values():
        total = len(entry["covered"]) + len(entry["uncovered"])
        entry["ratio"] = round(len(entry["covered"]) / total, 4) if total else 0.0
    gaps = [{"id": t, "name": kb.graph.nodes[t].get("name", ""),
             "maturity": kb.graph.nodes[t].get("maturity") or None,
             "case_studies": q.case_study_count(kb, t), "weight": technique_weight(kb, t)}
            for t in uncovered]
    gaps.sort(key=lambda g: (-q.maturity_rank(kb, g["id"]), -g["case_studies"], id_sort_key(g["id"])))
    result = {
        "have": ids,
        "covered": covered,
        "uncovered": uncovered,
        "level": {t: round(levels[t], 4) for t in covered},
        "by_tactic": by_tactic,
        "gaps": gaps,
        "totals": {"techniques": len(techniques), "covered": len(covered),
                   "ratio": round(len(covered) / len(techniques), 4) if techniques else 0.0},
    }
    if evidence is not None:
        _add_evidence(kb, result, ids, strengths, evidence, require)
    return result


def claimed_as_list(kb, result: dict) -> dict:
    """`compute`'s answer with evidence as `coverage --format json` gives it: `claimed`
    becomes a list of ``{"id", "name", "status", "counted", "mitigations": [{"id",
    "name", "status", "reason"}]}`` in the same order, and `covered` the claimed
    techniques that count (objects, not IDs). Readers of a list want the names there."""
    name = q.name_of
    claimed = [{"id": t, "name": name(kb, t), "status": c["status"], "counted": c["counted"],
                "mitigations": [{**m, "name": name(kb, m["id"])} for m in c["mitigations"]]}
               for t, c in result["claimed"].items()]
    return {**result, "claimed": claimed, "covered": [c for c in claimed if c["counted"]]}


def _add_evidence(kb, result: dict, ids: list[str], strengths: dict[str, float], evidence, require: str) -> None:
    """The claimed techniques with their links' statuses, and totals per status."""
    claimed_levels = _levels(kb, ids, strengths)
    covered = set(result["covered"])
    claimed: dict[str, dict] = {}
    for t in kb.nodes_of_type(TECHNIQUE):  # ATLAS order
        if claimed_levels.get(t, 0.0) <= 0.0:
            continue
        links = []
        for m in ids:
            if strengths.get(m, 1.0) > 0.0 and kb.graph.has_edge(m, t, key=MITIGATES):
                st = evidence.status(m, t)
                links.append({"id": m, "status": st.status, "reason": st.reason})
        claimed[t] = {"status": best(link["status"] for link in links), "counted": t in covered,
                      "mitigations": links}
    result["require"] = require
    result["claimed"] = claimed
    result["totals"]["claimed"] = len(claimed)
    for s in STATUSES:
        result["totals"][s] = sum(1 for c in claimed.values() if c["status"] == s)


def recommend(kb, have, top: int = 5, strength: dict[str, float] | None = None, evidence=None,
              rank: str = "claims") -> list[dict]:
    """The next mitigations to deploy: greedy weighted set cover over the techniques'
    residual risk (weight × (1 - coverage level)). Each pick is ``{"id", "name", "gain",
    "newly_covered", "techniques"}``: `gain` the weight it removes, `newly_covered` the
    techniques uncovered until now that it claims. Ties go to more newly covered
    techniques, then to ATLAS ID order. Mitigations that would gain nothing are never
    proposed (the list may be shorter).

    `rank` ``claims`` takes ATLAS's word: a new mitigation removes all the residual of
    every technique it links to. `rank` ``effect`` (needs `evidence`) first ranks by
    measured effect: a link removes the share of residual that its headline paired
    difference shows (`LinkStatus.effect`, counted only for ``supported`` links), and
    mitigations with no measured effect left follow, ranked by claims.

    With `evidence` each pick also has ``basis`` (``measured effect`` or ``claims``),
    ``statuses`` ({technique: status} over its links) and ``claims_alone``: true when no
    link by which it gains is ``supported`` or ``measured only in part``.
    """
    if top < 1:
        raise UsageError("--top must be at least 1")
    if rank not in RANKS:
        raise UsageError(f"rank must be one of {', '.join(RANKS)}, not {rank!r}")
    if rank == "effect" and evidence is None:
        raise UsageError("--rank effect needs measurements: give --evidence DIR")
    deployed = resolve_deployed(kb, have, strength)
    ids, strengths = sorted(deployed.ids, key=id_sort_key), deployed.strength
    levels = _levels(kb, ids, strengths)
    residual = {t: technique_weight(kb, t) * (1.0 - levels.get(t, 0.0)) for t in kb.nodes_of_type(TECHNIQUE)}
    uncovered = {t for t in residual if levels.get(t, 0.0) <= 0.0}
    candidates = {m: sorted((t for _, t, k in kb.graph.out_edges(m, keys=True)
                             if k == MITIGATES and t in residual), key=id_sort_key)
                  for m in kb.nodes_of_type(MITIGATION) if m not in ids}
    picks: list[dict] = []
    if rank == "effect":
        def measured(m: str, t: str) -> float:
            st = evidence.status(m, t)
            return min(1.0, max(0.0, st.effect or 0.0)) if st.status == SUPPORTED else 0.0

        _greedy(kb, picks, top, candidates, residual, uncovered, measured, "measured effect")
    _greedy(kb, picks, top, candidates, residual, uncovered, lambda m, t: 1.0, "claims")
    for pick in picks:
        contributing = pick.pop("_contributing")
        if evidence is None:
            pick.pop("basis")
            continue
        pick["statuses"] = {t: evidence.status(pick["id"], t).status for t in pick["techniques"]}
        pick["claims_alone"] = all(pick["statuses"][t] in CLAIM_ONLY for t in contributing)
    return picks


def _greedy(kb, picks: list, top: int, candidates: dict, residual: dict, uncovered: set, share, basis: str) -> None:
    """Add picks until `top`: each time the candidate removing the most residual, where
    link (m, t) removes the share `share(m, t)` of t's residual. Candidates picked leave
    `candidates`; `residual` and `uncovered` are updated in place."""
    while len(picks) < top and candidates:
        best_pick = None
        for m in sorted(candidates, key=id_sort_key):
            gain = sum(residual[t] * share(m, t) for t in candidates[m])
            new = [t for t in candidates[m] if t in uncovered]
            key = (round(gain, 9), len(new))
            if best_pick is None or key > best_pick[0]:
                best_pick = (key, m, gain, new)
        if best_pick is None or best_pick[2] <= 0:
            return
        _, m, gain, new = best_pick
        contributing = [t for t in candidates[m] if residual[t] * share(m, t) > 0]
        picks.append({"id": m, "name": kb.graph.nodes[m].get("name", ""), "gain": round(gain, 4),
                      "newly_covered": new, "techniques": list(candidates[m]), "basis": basis,
                      "_contributing": contributing})
        for t in candidates.pop(m):
            residual[t] *= 1.0 - share(m, t)
            uncovered.discard(t)


__all__ = ["Deployed", "Profile", "load_profile", "resolve_deployed", "compute", "claimed_as_list", "recommend",
           "technique_weight", "MATURITY_FACTOR", "NotFound"]
