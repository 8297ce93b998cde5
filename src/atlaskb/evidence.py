"""Measured evidence from the reference defenses, as a mapping (mitigation, technique) -> rows.

`atlaskb defend run` writes `DIR/results.json` (and plots under `DIR/plots/`). This module
is the only reader of that file: it checks the shape and returns an `Evidence` mapping
from each mitigates link to its result rows. The CLI's `show --evidence` and the site take
that mapping; the knowledge base's graph is never changed by reading evidence.

A result that names an edge the graph does not have (for instance evidence measured
against another release) is reported as a finding, not dropped silently and not invented
into a new edge.
"""

from __future__ import annotations

import json
import math
import os
import sys

from atlaskb.errors import SourceError
from atlaskb.model import MITIGATES, Finding

RESULTS_FILE = "results.json"
METRICS = ("robust_accuracy", "attack_success_rate", "identification_accuracy", "accuracy", "queries",
           "auc", "true_positive_rate", "fidelity", "detection_auc", "residual_corruption")
TOP_KEYS = ("mitigation", "backend", "device", "dataset", "provenance", "clean_accuracy", "results")
RESULT_KEYS = ("technique", "attack", "metric", "higher_is_better", "baseline", "defended", "ci95", "params")
# How attack names (snake_case keys in results.json) read in tables and on the site.
_ATTACK_WORDS = {"pgd": "PGD", "apgd": "APGD", "rays": "RayS", "linf": "L∞", "l2": "L2", "simba": "SimBA", "logprob": "log-prob",
                 "nonadaptive": "non-adaptive", "ai": "AI", "llm": "LLM", "api": "API", "rag": "RAG"}


def attack_label(name: str) -> str:
    """`pgd_linf_adaptive` → "PGD L∞ adaptive": the key, readable (a key that is not
    snake_case is returned as it is)."""
    if not name or " " in name or "_" not in name and name.lower() not in _ATTACK_WORDS:
        return name
    words = [_ATTACK_WORDS.get(w.lower(), w) for w in name.split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


_MAX_BYTES = 20 * 1024 * 1024
# A results file we write nests 6 deep (results -> params -> extra -> ... -> interval); a
# deeper one is not ours, and the readers (site, `show`) walk it recursively.
_MAX_DEPTH = 32
_MAX_NUMBER = 2 ** 1023  # past this an int has no float, and every reader converts to one


def results_path(directory: str) -> str:
    return os.path.join(directory, RESULTS_FILE)


def rounded(value, digits: int):
    """`value` with every float rounded to `digits` decimals, all the way down (tuples
    become lists, numpy scalars Python numbers): results.json keeps 6, readable listings 3,
    so figures carry no spurious precision."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    np = sys.modules.get("numpy")  # a numpy scalar implies numpy is loaded; never import it here
    if np is not None and isinstance(value, np.generic):
        return rounded(value.item(), digits)
    return value


def is_quick(results) -> bool:
    """True when a results document (or an `Evidence.meta` entry, which carries its
    provenance) was measured with `--quick`: small budgets and few seeds, so its numbers
    are indicative only and every reader must say so."""
    provenance = results.get("provenance") if isinstance(results, dict) else None
    return bool(isinstance(provenance, dict) and provenance.get("quick"))


def load_results(directory: str) -> dict:
    """Read and check `DIR/results.json`. Raises SourceError naming the file (and the
    line, for JSON syntax errors) when it is missing or not of the documented shape."""
    path = results_path(directory)
    if not os.path.isfile(path):
        raise SourceError(f"{path}: no results here; run `atlaskb defend run ... --out {directory}` first")
    if not os.path.realpath(path).startswith(os.path.realpath(directory) + os.sep):
        raise SourceError(f"{path}: a symbolic link out of the evidence folder; not followed")
    if os.path.getsize(path) > _MAX_BYTES:
        raise SourceError(f"{path}: larger than {_MAX_BYTES // (1024 * 1024)} MB, not a results file")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise SourceError(f"{path}:{e.lineno}: not valid JSON: {e.msg}") from None
    except RecursionError:
        raise SourceError(f"{path}: nested too deeply to be a results file") from None
    except ValueError as e:  # an integer past Python's digit limit, NaN or Infinity
        raise SourceError(f"{path}: not a results file: {e}") from None
    problems = validate(data)
    if problems:
        raise SourceError(f"{path}: not a results file: " + "; ".join(problems[:5]))
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a finite number (JSON has no NaN or Infinity)")


def _text_ok(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (JSON's `\\ud800` gives a lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unsafe_value(data) -> str | None:
    """The first thing in a decoded document that no reader should meet, or None: nesting
    past `_MAX_DEPTH`, a number past float range, a lone surrogate in a key or string.
    Level by level, without recursion, since deep nesting is what it looks for."""
    stack = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        at = (where or "the document")[:80]
        if depth > _MAX_DEPTH:
            return f"{at} nests deeper than {_MAX_DEPTH} levels"
        if isinstance(value, dict):
            for key in reversed(list(value)):
                if not _text_ok(key):
                    return f"{at}: a key holds a lone surrogate ({ascii(key)[:60]})"
                stack.append((value[key], f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((value[i], f"{where}[{i}]", depth + 1) for i in reversed(range(len(value))))
        elif isinstance(value, str) and not _text_ok(value):
            return f"{at} holds a lone surrogate ({ascii(value)[:60]})"
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_NUMBER:
            return f"{at} is a number too large to be a measurement"
    return None


def validate(data) -> list[str]:
    """Problems with a results document, as messages; empty when it matches the schema."""
    unsafe = unsafe_value(data)
    if unsafe:
        return [unsafe]
    if not isinstance(data, dict):
        return ["top level is not an object"]
    problems = [f"missing key {k!r}" for k in TOP_KEYS if k not in data]
    if problems:
        return problems
    if not isinstance(data["mitigation"], str):
        return ["'mitigation' is not an ID string"]
    if not isinstance(data["results"], list):
        return ["'results' is not a list"]
    nm = data.get("not_measured", [])
    if not isinstance(nm, list) or not all(
            isinstance(e, dict) and isinstance(e.get("technique"), str) and isinstance(e.get("reason"), str)
            for e in nm):
        problems.append("'not_measured' must be a list of {'technique': ID, 'reason': text}")
    for i, r in enumerate(data["results"]):
        where = f"results[{i}]"
        if not isinstance(r, dict):
            problems.append(f"{where} is not an object")
            continue
        problems += [f"{where}: missing key {k!r}" for k in RESULT_KEYS if k not in r]
        if "technique" in r and not isinstance(r["technique"], str):
            problems.append(f"{where}: technique is not an ID string")
        if r.get("metric") not in METRICS:
            problems.append(f"{where}: unknown metric {r.get('metric')!r}")
        for side in ("baseline", "defended"):
            v = r.get(side)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
                problems.append(f"{where}: {side} is not a finite number")
        if not _is_ci95(r.get("ci95")):
            problems.append(f"{where}: ci95 must be null or {{'baseline': [lo, hi], 'defended': [lo, hi]}}")
        diff = r.get("difference")
        if diff is not None and not (isinstance(diff, dict) and isinstance(diff.get("mean"), (int, float))
                                     and _is_pair(diff.get("ci95"))):
            problems.append(f"{where}: difference must be {{'mean': number, 'ci95': [lo, hi]}}")
        tm = r.get("threat_model")
        if tm is not None and not (isinstance(tm, dict) and isinstance(tm.get("knowledge"), str)):
            problems.append(f"{where}: threat_model must be an object with knowledge, norm, eps, queries, adaptive")
        plots = r.get("plots", [])
        if not isinstance(plots, list) or any(
            not isinstance(p, str) or os.path.isabs(p) or ".." in p.replace("\\", "/").split("/") for p in plots
        ):
            problems.append(f"{where}: plots must be relative paths inside the results folder")
    return problems


def _is_pair(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)


def _is_ci95(ci) -> bool:
    """A result's interval: absent (one seed), or a [lo, hi] pair (or null) per side."""
    if ci is None:
        return True
    if not isinstance(ci, dict) or set(ci) - {"baseline", "defended"}:
        return False
    return all(
        v is None or (isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v))
        for v in ci.values()
    )


class Evidence(dict):
    """(mitigation, technique) -> list of result rows, read from one or more evidence
    folders. `meta[(m, t)]` holds where each pair's rows came from (backend, device, data
    set, provenance, clean accuracy, and the folder, for plots). Passed to the site and
    `show --evidence`; nothing is written into the knowledge base's graph."""

    def __init__(self):
        super().__init__()
        self.meta: dict = {}
        self.paths: dict = {}  # (m, t) -> results.json path, for messages
        self.not_measured: dict = {}  # (m, t) -> reason, from the files' `not_measured` lists
        self.quick = False  # some folder was measured with --quick (`is_quick`): indicative only


SWEEP_MARKER = ".atlaskb-sweep.json"  # written by `defend sweep` (atlaskb.defenses.sweep)


def evidence_folders(directories) -> list[str]:
    """The evidence folders that `--evidence` arguments name: a `defend run` folder is
    itself; a `defend sweep` folder stands for each of its MITIGATION/ folders that holds a
    results.json (real folders inside it only, never a link out)."""
    if isinstance(directories, (str, os.PathLike)):
        directories = [directories]
    out = []
    for directory in directories:
        directory = os.fspath(directory)
        if os.path.isfile(results_path(directory)) or not os.path.isfile(os.path.join(directory, SWEEP_MARKER)):
            out.append(directory)
            continue
        root = os.path.realpath(directory)
        subs = sorted(e.path for e in os.scandir(directory)
                      if e.is_dir(follow_symlinks=False) and os.path.isfile(results_path(e.path))
                      and os.path.realpath(e.path).startswith(root + os.sep))
        if not subs:
            raise SourceError(f"{directory}: a sweep folder with no results yet; "
                              "let `atlaskb defend sweep` finish (rerun it to resume)")
        out.extend(subs)
    return list(dict.fromkeys(out))


def load_evidence(directories) -> Evidence:
    """Read every folder's results.json into one `Evidence` mapping (a sweep folder counts
    as its mitigations' folders). Two folders with results for the same link are an error
    (which one should a reader believe?)."""
    ev = Evidence()
    for directory in evidence_folders(directories):
        data = load_results(directory)
        path = results_path(directory)
        ev.quick = ev.quick or is_quick(data)
        mitigation = data["mitigation"]
        meta = {k: data[k] for k in ("mitigation", "backend", "device", "dataset", "provenance", "clean_accuracy")}
        meta["directory"] = os.path.abspath(directory)
        for r in data["results"]:
            key = (mitigation, r["technique"])
            if key in ev.meta and ev.meta[key]["directory"] != meta["directory"]:
                raise SourceError(f"{path}: results for {mitigation} → {r['technique']} are also in "
                                  f"{ev.paths[key]}; give each link's evidence once")
            ev.setdefault(key, []).append(dict(r))
            ev.meta[key] = meta
            ev.paths[key] = path
        for entry in data.get("not_measured") or []:
            ev.not_measured.setdefault((mitigation, entry["technique"]), entry["reason"])
    return ev


def missing_links(kb, evidence: Evidence) -> list[Finding]:
    """Findings for evidence whose mitigates link the loaded sources lack (for instance
    evidence measured against another release): reported, never invented into an edge."""
    findings = []
    for (m, t) in sorted(evidence):
        if not kb.graph.has_edge(m, t, key=MITIGATES):
            findings.append(Finding(
                "warning", "evidence-without-edge", evidence.paths.get((m, t), ""), 0,
                f"evidence for {m} → {t} but the loaded sources have no such mitigates link"))
    return findings
