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


def validate(doc: dict) -> dict:
    """Raise ResultsError on anything that does not match the documented shape.

    The shape every reader relies on is checked by `atlaskb.evidence.validate` (one
    schema, one home); the writer adds what it alone guarantees: full provenance, a
    non-empty list, plots named, and an interval on each side that contains its mean.
    """
    problems = evidence.validate(doc)
    if problems:
        raise ResultsError("; ".join(problems))
    prov = doc["provenance"]
    for k in ("versions", "seeds", "config_hash", "timings"):
        if k not in prov:
            raise ResultsError(f"provenance lacks {k!r}")
    for k in ("baseline", "defended"):
        _num(doc["clean_accuracy"].get(k), f"clean_accuracy.{k}")
    if not doc["results"]:
        raise ResultsError("results must be a non-empty list")
    for i, r in enumerate(doc["results"]):
        where = f"results[{i}]"
        if "plots" not in r:
            raise ResultsError(f"{where}: missing ['plots']")
        if not isinstance(r["higher_is_better"], bool):
            raise ResultsError(f"{where}: higher_is_better must be true or false")
        for k in ("baseline", "defended"):
            _num(r[k], f"{where}.{k}")
            ci = (r["ci95"] or {}).get(k)
            if not (isinstance(ci, list) and len(ci) == 2):
                raise ResultsError(f"{where}.ci95.{k}: expected [lo, hi]")
            for v in ci:
                _num(v, f"{where}.ci95.{k}")
            if not ci[0] - 1e-9 <= r[k] <= ci[1] + 1e-9:
                raise ResultsError(f"{where}.ci95.{k}: interval {ci} does not contain the mean {r[k]}")
    return doc


def dumps(doc: dict) -> str:
    """Canonical text (sorted keys, fixed indentation) so identical results are identical bytes."""
    return json.dumps(validate(doc), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

