"""results.json: the one file that carries the evidence, its writer and its validator.

The validator is strict on purpose: the site and `atlaskb show --evidence` read these
files, and a schema drift should fail here, in our tests, not in a user's browser.
"""

from __future__ import annotations

import json
import math

from atlaskb import evidence
from atlaskb.evidence import METRICS

__all__ = ["METRICS", "ResultsError", "validate", "dumps"]


class ResultsError(ValueError):
    pass


def _num(v, where):
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        raise ResultsError(f"{where}: expected a finite number, got {v!r}")


KNOWLEDGE = ("white-box", "scores", "labels", "none")
VERDICTS = ("better", "worse", "no clear difference")


def validate(doc: dict) -> dict:
    """Raise ResultsError on anything that does not match the documented shape or does
    not add up.

    The shape every reader relies on is checked by `atlaskb.evidence.validate` (one
    schema, one home); the writer adds what it alone guarantees, each a check that a
    wrong writer fails: full provenance; every row's interval contains its mean; a rate
    stays in [0, 1] and its interval has positive width (finitely many test points never
    pin a rate exactly); the difference is defended - baseline and lies in its own
    interval; the verdict is the one that interval gives in the metric's direction; the
    threat model is complete.
    """
    problems = evidence.validate(doc)
    if problems:
        raise ResultsError("; ".join(problems))
    prov = doc["provenance"]
    for k in ("versions", "seeds", "config_hash", "timings", "quick"):
        if k not in prov:
            raise ResultsError(f"provenance lacks {k!r}")
    for k in ("baseline", "defended"):
        _num(doc["clean_accuracy"].get(k), f"clean_accuracy.{k}")
    if not doc["results"]:
        raise ResultsError("results must be a non-empty list")
    for i, r in enumerate(doc["results"]):
        _check_row(r, f"results[{i}]")
    return doc


def _check_row(r: dict, where: str) -> None:
    """One result row: its arms, its paired difference and verdict, its threat model."""
    from atlaskb.defenses.rows import RATES

    for k in ("plots", "difference", "verdict", "threat_model"):
        if k not in r:
            raise ResultsError(f"{where}: missing [{k!r}]")
    if not isinstance(r["higher_is_better"], bool):
        raise ResultsError(f"{where}: higher_is_better must be true or false")
    rate = r["metric"] in RATES
    for k in ("baseline", "defended"):
        _check_arm(r, k, where, rate)
    _check_difference(r, where, rate)
    _check_threat_model(r["threat_model"], where)


def _check_arm(r: dict, k: str, where: str, rate: bool) -> None:
    """An arm's mean lies in its interval; a rate and its interval lie in [0, 1], and the
    interval has positive width (finitely many test points never pin a rate exactly)."""
    _num(r[k], f"{where}.{k}")
    ci = (r["ci95"] or {}).get(k)
    _pair(ci, f"{where}.ci95.{k}")
    if not ci[0] - 1e-9 <= r[k] <= ci[1] + 1e-9:
        raise ResultsError(f"{where}.ci95.{k}: interval {ci} does not contain the mean {r[k]}")
    if rate:
        if not (0.0 <= r[k] <= 1.0 and 0.0 <= ci[0] and ci[1] <= 1.0):
            raise ResultsError(f"{where}.{k}: a rate and its interval must lie in [0, 1]")
        if not ci[1] > ci[0]:
            raise ResultsError(f"{where}.ci95.{k}: zero-width interval {ci} for a rate "
                               "measured on finitely many points")


def _check_difference(r: dict, where: str, rate: bool) -> None:
    """The difference is defended - baseline, lies in its own interval, and the verdict is
    the one that interval gives in the metric's direction."""
    from atlaskb.defenses.stats import verdict

    diff = r["difference"]
    if not isinstance(diff, dict):
        raise ResultsError(f"{where}.difference: expected {{mean, ci95}}")
    _num(diff.get("mean"), f"{where}.difference.mean")
    _pair(diff.get("ci95"), f"{where}.difference.ci95")
    lo, hi = diff["ci95"]
    if abs(diff["mean"] - (r["defended"] - r["baseline"])) > 2e-6:
        raise ResultsError(f"{where}.difference.mean {diff['mean']} is not defended - baseline "
                           f"({r['defended']} - {r['baseline']})")
    if not lo - 1e-9 <= diff["mean"] <= hi + 1e-9:
        raise ResultsError(f"{where}.difference.ci95 {diff['ci95']} does not contain its mean")
    if rate and not hi > lo:
        raise ResultsError(f"{where}.difference.ci95: zero-width interval for a rate")
    expected = verdict([lo, hi], r["higher_is_better"])
    if r["verdict"] != expected:
        raise ResultsError(f"{where}.verdict is {r['verdict']!r} but the paired interval "
                           f"{diff['ci95']} says {expected!r}")


def _check_threat_model(tm, where: str) -> None:
    if not isinstance(tm, dict) or set(tm) != {"knowledge", "norm", "eps", "queries", "adaptive"}:
        raise ResultsError(f"{where}.threat_model: expected knowledge, norm, eps, queries, adaptive")
    if tm["knowledge"] not in KNOWLEDGE or not isinstance(tm["adaptive"], bool):
        raise ResultsError(f"{where}.threat_model: unknown knowledge or adaptive not true/false")
    _num(tm["eps"], f"{where}.threat_model.eps")
    _num(tm["queries"], f"{where}.threat_model.queries")


def _pair(ci, where):
    if not (isinstance(ci, list) and len(ci) == 2):
        raise ResultsError(f"{where}: expected [lo, hi]")
    for v in ci:
        _num(v, where)
    if ci[0] > ci[1]:
        raise ResultsError(f"{where}: lo {ci[0]} is above hi {ci[1]}")


def dumps(doc: dict) -> str:
    """Canonical text (sorted keys, fixed indentation) so identical results are identical bytes."""
    return json.dumps(validate(doc), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

