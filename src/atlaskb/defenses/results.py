"""results.json: the one file that carries the evidence, its writer and its validator.

The validator is strict on purpose: the site and `atlaskb show --evidence` read these
files, and a schema drift should fail here, in our tests, not in a user's browser.
"""

from __future__ import annotations

import json
import math

METRICS = ("robust_accuracy", "attack_success_rate", "identification_accuracy", "accuracy", "queries")
TOP_KEYS = ("mitigation", "backend", "device", "dataset", "provenance", "clean_accuracy", "results")
RESULT_KEYS = ("technique", "attack", "metric", "higher_is_better", "baseline", "defended", "ci95",
               "params", "plots")


class ResultsError(ValueError):
    pass


def _num(v, where):
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        raise ResultsError(f"{where}: expected a finite number, got {v!r}")


def validate(doc: dict) -> dict:
    """Raise ResultsError on anything that does not match the documented shape."""
    if not isinstance(doc, dict):
        raise ResultsError("results.json must hold an object")
    missing = [k for k in TOP_KEYS if k not in doc]
    if missing:
        raise ResultsError(f"missing top-level keys: {missing}")
    prov = doc["provenance"]
    for k in ("versions", "seeds", "config_hash", "timings"):
        if k not in prov:
            raise ResultsError(f"provenance lacks {k!r}")
    for k in ("baseline", "defended"):
        _num(doc["clean_accuracy"].get(k), f"clean_accuracy.{k}")
    if not isinstance(doc["results"], list) or not doc["results"]:
        raise ResultsError("results must be a non-empty list")
    for i, r in enumerate(doc["results"]):
        where = f"results[{i}]"
        missing = [k for k in RESULT_KEYS if k not in r]
        if missing:
            raise ResultsError(f"{where}: missing {missing}")
        if r["metric"] not in METRICS:
            raise ResultsError(f"{where}: metric {r['metric']!r} not one of {METRICS}")
        if not isinstance(r["higher_is_better"], bool):
            raise ResultsError(f"{where}: higher_is_better must be true or false")
        for k in ("baseline", "defended"):
            _num(r[k], f"{where}.{k}")
            ci = r["ci95"].get(k)
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


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return validate(json.load(fh))
