"""Run a mitigation's experiments over several seeds and write the evidence folder.

Output (`DIR/results.json`, `DIR/plots/<technique>.png|.svg`) is written into a temporary
folder and swapped into place, so an interrupted run never leaves half an evidence set.
Everything except `provenance.timings` is a pure function of (mitigation, techniques,
dataset, config, seeds, backend/device numerics): the same seeds give the same file.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace

import numpy as np

from atlaskb.defenses import get_mitigation, plots, results, stats
from atlaskb.defenses.config import get_config
from atlaskb.defenses.data import get_dataset
from atlaskb.errors import AtlasError, UsageError
from atlaskb.fsutil import plan_replace, shown

# What the evidence folder's manifest calls it (`fsutil`): a folder is replaced by a new
# run only when its manifest says so, never because it happens to hold a results.json.
KIND = "evidence"
LABEL = "atlaskb defend run"


class UnknownTechnique(AtlasError):
    exit_code = 1


def _round(v):
    """Floats to 6 decimals, recursively: readable files without spurious precision."""
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    if isinstance(v, np.generic):
        return _round(v.item())
    return v


def _summary(values) -> dict:
    """Mean, interval and per-seed values of an extra figure (all extras are rates)."""
    return {"mean": stats.mean(values), "ci95": _ci(values, "rate"), "per_seed": list(values)}



def select_techniques(mod, requested) -> list[str]:
    """The techniques to run, in ATLAS ID order; unknown ones are an error naming the valid IDs."""
    from atlaskb.model import id_sort_key

    available = sorted(mod.EXPERIMENTS, key=id_sort_key)
    if not requested:
        return available
    chosen = []
    for t in requested:
        key = t.strip().upper()
        if key not in mod.EXPERIMENTS:
            raise UnknownTechnique(f"{mod.MITIGATION} has no experiment for technique {t!r}; "
                                   f"choose from: {', '.join(available)}")
        if key not in chosen:
            chosen.append(key)
    return sorted(chosen, key=id_sort_key)


def _ci(values, metric: str) -> list[float]:
    """The t-interval, clipped to the metric's possible range: a rate's interval past 1
    (or a count's below 0) would claim values that cannot occur."""
    lo, hi = stats.t_interval(values)
    top = math.inf if metric == "queries" else 1.0
    return [min(max(lo, 0.0), top), min(max(hi, 0.0), top)]


def _aggregate(technique: str, per_seed: list[list[dict]]) -> list[dict]:
    """Rows from each seed (same order every seed) -> one result per row with intervals."""
    out = []
    for rows in zip(*per_seed):
        first = rows[0]
        base = [r["baseline"] for r in rows]
        dfd = [r["defended"] for r in rows]
        params = dict(first["params"])
        params["per_seed"] = {"baseline": base, "defended": dfd}
        if first["extra"]:
            params["extra"] = {k: _summary([r["extra"][k] for r in rows]) for k in first["extra"]}
        if first["info"]:
            params["info"] = [r["info"] for r in rows]
        series = None
        if first["series"]:
            s0 = first["series"]
            series = {"x_label": s0["x_label"], "x": list(s0["x"])}
            for side in ("baseline", "defended"):
                cols = list(zip(*[r["series"][side] for r in rows]))
                series[side] = [stats.mean(c) for c in cols]
                series[side + "_ci95"] = [_ci(c, first["metric"]) for c in cols]
            params["series"] = series
        out.append({"technique": technique, "attack": first["attack"], "metric": first["metric"],
                    "higher_is_better": first["higher_is_better"], "baseline": stats.mean(base),
                    "defended": stats.mean(dfd),
                    "ci95": {"baseline": _ci(base, first["metric"]),
                             "defended": _ci(dfd, first["metric"])},
                    "params": params, "series": series})
    return out


def _versions(backend_name: str) -> dict:
    import sklearn

    from atlaskb import __version__

    v = {"python": platform.python_version(), "numpy": np.__version__,
         "scikit-learn": sklearn.__version__, "atlaskb": __version__}
    if backend_name == "torch":
        import torch

        v["torch"] = torch.__version__
    return v


def _single_threaded_blas():
    """Limit BLAS to one thread while experiments run.

    The networks here are small (at most 128 units, batches of 64), so BLAS threads cost
    more in hand-offs than they save; on a busy two-core machine OpenBLAS's spinning
    threads made a quick run 3-4x slower (measured: 52 s vs 15 s wall). GPU work is
    unaffected.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class _Progress:
    """A rich progress bar on a terminal (stderr); silent otherwise (logs, CI, pipes)."""

    def __init__(self, total: int, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task("defend", total=total)

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()

    def step(self, desc: str, advance: int = 0):
        if self.bar:
            self.bar.update(self.task, description=desc, advance=advance)


def run(mitigation: str, techniques=(), *, backend: str = "numpy", device: str = "auto",
        quick: bool = False, seeds: int = 3, out: str | None = None, dataset: str = "digits",
        progress: bool | None = None, config=None, names: dict | None = None,
        diversity: float | None = None) -> dict:
    """Run and (if `out`) write the evidence; returns the results document.

    `diversity` (when not None) overrides the config's negative-correlation weight for the
    ensemble's members; it is part of the config, so provenance and config hash record it.
    """
    from atlaskb.defenses.experiments.context import SeedContext
    from atlaskb.engine import get_backend

    mod = get_mitigation(mitigation)
    chosen = select_techniques(mod, techniques)
    if seeds < 1:
        raise AtlasError("--seeds must be at least 1")
    if out is not None:
        check_out_dir(out)  # before minutes of training, not after ('' is refused, not skipped)
    be = get_backend(backend, device)
    ds = get_dataset(dataset)
    cfg = config or get_config(quick)
    if diversity is not None:
        if not (diversity >= 0 and math.isfinite(diversity)):
            raise AtlasError(f"--diversity must be a finite number >= 0, got {diversity}")
        cfg = replace(cfg, diversity=float(diversity))
    seed_list = list(range(seeds))
    t_start = time.perf_counter()
    timings = {t: 0.0 for t in chosen}
    per_tech = {t: [] for t in chosen}
    clean = {"baseline": [], "defended": []}
    with _single_threaded_blas(), _Progress(len(seed_list) * len(chosen), progress) as bar:
        for seed in seed_list:
            ctx = SeedContext(be, ds, cfg, seed)
            for t in chosen:
                bar.step(f"seed {seed} {t}")
                t0 = time.perf_counter()
                per_tech[t].append(mod.EXPERIMENTS[t](ctx))
                timings[t] += time.perf_counter() - t0
                bar.step(f"seed {seed} {t}", advance=1)
            ca = ctx.clean_accuracy()
            clean["baseline"].append(ca["baseline"])
            clean["defended"].append(ca["defended"])
    rows = [r for t in chosen for r in _aggregate(t, per_tech[t])]
    doc = {
        "mitigation": mod.MITIGATION, "backend": be.name, "device": be.device, "dataset": ds.name,
        "provenance": {"versions": _versions(be.name), "seeds": seed_list, "config_hash": cfg.hash(),
                       "config": cfg.as_dict(), "quick": bool(quick), "techniques": chosen,
                       "timings": {}},
        "clean_accuracy": {"baseline": stats.mean(clean["baseline"]),
                           "defended": stats.mean(clean["defended"])},
        "results": [{k: v for k, v in r.items() if k != "series"} | {"plots": [f"plots/{r['technique']}.png",
                                                                              f"plots/{r['technique']}.svg"]}
                    for r in rows],
    }
    doc = _round(doc)
    _check_measured(doc, ds.name)
    doc["provenance"]["timings"] = {"total_s": round(time.perf_counter() - t_start, 3),
                                    "per_technique_s": {t: round(v, 3) for t, v in timings.items()},
                                    "note": "a technique's time includes shared work it was first to need"}
    results.validate(doc)
    if out is not None:
        write(doc, rows, chosen, out, names)
    return doc


def _check_measured(doc: dict, dataset: str) -> None:
    """A figure that is not a number (an attack left with no input to attack, a class
    missing from the test split) is reported as such, not as a schema failure."""
    for r in doc["results"]:
        values = [r["baseline"], r["defended"], *r["ci95"]["baseline"], *r["ci95"]["defended"]]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise AtlasError(
                f"{r['technique']} ({r['attack']}, {r['metric']}) could not be measured on data set "
                f"{dataset!r}: no test input qualified (too few samples, or a class missing from "
                "the test split); use more data or balance the classes")


def check_out_dir(out: str) -> None:
    """Refuse an --out that cannot hold the evidence, before any training: empty, a file,
    a folder that a new evidence folder may not replace (`fsutil`'s rule: a mistyped
    --out must not wipe someone's files), or a place that cannot be written."""
    plan_replace(out, KIND, LABEL)
    parent = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(parent, exist_ok=True)
        probe = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(out))}.probe-", dir=parent)
        os.rmdir(probe)
    except OSError as e:
        raise UsageError(f"cannot write the evidence to {shown(out)}: {e.strerror or e}") from None


def write(doc: dict, rows: list[dict], chosen: list[str], out: str, names: dict | None = None) -> None:
    from atlaskb.fsutil import atomic_write, output_dir

    names = names if names is not None else _technique_names()
    check_out_dir(out)
    try:
        with output_dir(out, KIND, LABEL) as tmp:
            pdir = os.path.join(tmp, "plots")
            os.makedirs(pdir)
            for t in chosen:
                sub = [r for r in rows if r["technique"] == t]
                fig = plots.figure(t, names.get(t, ""), _round(sub))
                plots.write(fig, pdir, t)
            atomic_write(os.path.join(tmp, "results.json"), results.dumps(doc))
    except OSError as e:
        where = e.filename if isinstance(e.filename, str) and ".tmp-" not in e.filename else None  # not our temp folder
        raise AtlasError(f"cannot write the evidence to {shown(out)}: {e.strerror or e}"
                         + (f" ({shown(where)})" if where else "")) from None


def _technique_names() -> dict:
    """Technique names for plot titles, from the bundled knowledge base when it loads."""
    try:
        import atlaskb

        kb = atlaskb.load()
        return {n: d.get("name", "") for n, d in kb.graph.nodes(data=True)}
    except Exception:  # noqa: BLE001 - a title is not worth failing a run over
        return {}
