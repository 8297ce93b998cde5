"""Evidence sweeps: many mitigations and seeds as resumable cells, run by local worker
processes or by Ray.

The unit of work is a *cell*: one (mitigation, technique, seed) under one configuration.
Cells that share a (mitigation, seed) share trained models, so they are computed together
as a *group* in one `SeedContext`; a group computes only its missing cells (the numbers
of a technique do not depend on which other techniques ran beside it: every piece of
shared work draws from its own named random stream). Each finished cell is written
atomically to

    DIR/cells/<mitigation>/seed-<n>/<technique>.<key>.json

where `<key>` hashes everything its numbers depend on: mitigation, technique, seed,
configuration hash, backend and device, the data set's content, the code of the engine
and the defenses, and the cell format. A
rerun reuses every valid cell whose key matches and never mixes in one written under
another configuration (its key differs, so it is not even read). At the end each
mitigation's `DIR/<mitigation>/results.json` and plots are rebuilt from its cells with
the same code `defend run` uses, so a sweep and a run with the same seeds give the same
numbers whichever executor ran the cells and in whatever order they finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from atlaskb.defenses import runner, stats
from atlaskb.defenses.threat import ThreatModel
from atlaskb.errors import AtlasError, UsageError
from atlaskb.evidence import SWEEP_MARKER as MARKER  # what makes a folder a sweep folder
from atlaskb.fsutil import atomic_write, check_out_path, shown

CELL_FORMAT = 2
CLEAN = "clean-accuracy"         # the per-seed clean accuracies, stored as a cell of their own
MAX_CELL_BYTES = 64 * 1024 * 1024
EXECUTORS = ("local", "ray")


# ---- cells on disk ---------------------------------------------------------------------

def _encode(v):
    """Per-seed rows as JSON: `Points`, threat models and numpy values tagged so that
    decoding gives back the very same numbers (floats round-trip exactly in JSON)."""
    if isinstance(v, stats.Points):  # every field, whatever Points carries (AUCs add `positive`)
        return {"__points__": {f.name: _encode(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    if isinstance(v, ThreatModel):
        return {"__threat__": v.as_dict()}
    if isinstance(v, np.ndarray):
        return {"__array__": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _encode(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    return v


def _decode(v):
    if isinstance(v, dict):
        if "__points__" in v:
            return stats.Points(**{k: _decode(x) for k, x in v["__points__"].items()})
        if "__threat__" in v:
            return ThreatModel(**v["__threat__"])
        if "__array__" in v:
            return np.asarray(v["__array__"], dtype=np.dtype(v["dtype"]))
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


def _dataset_fingerprint(ds) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ds.x).tobytes())
    h.update(np.ascontiguousarray(ds.y).tobytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the code that computes cells (the engine and the defenses): a cell
    computed by other code is not reused, even under the same configuration."""
    import atlaskb.defenses
    import atlaskb.engine

    h = hashlib.sha256()
    for pkg in (atlaskb.engine, atlaskb.defenses):
        root = os.path.dirname(pkg.__file__)
        for folder, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    h.update(os.path.relpath(path, root).encode())
                    with open(path, "rb") as fh:
                        h.update(fh.read())
    return h.hexdigest()[:16]


def cell_key(setup: runner.RunSetup, technique: str, seed: int) -> dict:
    """Everything a cell's numbers depend on."""
    return {"format": CELL_FORMAT, "mitigation": setup.mod.MITIGATION, "technique": technique,
            "seed": int(seed), "config_hash": setup.cfg.hash(), "backend": setup.backend.name,
            "device": setup.backend.device, "dataset": _dataset_fingerprint(setup.dataset),
            "code": code_fingerprint()}


def key_hash(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def cell_path(root: str, key: dict) -> str:
    return os.path.join(root, "cells", key["mitigation"], f"seed-{key['seed']}",
                        f"{key['technique']}.{key_hash(key)}.json")


def write_cell(root: str, key: dict, rows, seconds: float) -> None:
    """Write one cell atomically; `rows` as returned or already encoded (encoding is
    idempotent on encoded data)."""
    doc = {"key": key, "hash": key_hash(key), "seconds": round(seconds, 3), "rows": _encode(rows)}
    atomic_write(cell_path(root, key), json.dumps(doc, sort_keys=True, allow_nan=True))


def read_cell(root: str, key: dict):
    """(rows, seconds) of a valid cell for `key`, None where there is none; a cell that is
    unreadable or not what its name says raises ValueError (it is recomputed, not used)."""
    path = cell_path(root, key)
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    if os.path.getsize(path) > MAX_CELL_BYTES:
        raise ValueError(f"larger than {MAX_CELL_BYTES // (1024 * 1024)} MB")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        if not isinstance(doc, dict) or doc.get("key") != key or doc.get("hash") != key_hash(key):
            raise ValueError("written for another configuration")
        return _decode(doc["rows"]), float(doc.get("seconds") or 0.0)
    except (OSError, UnicodeError, RecursionError, KeyError, TypeError, ValueError) as e:
        raise ValueError(str(e) or type(e).__name__) from None


# ---- the plan ----------------------------------------------------------------------------

@dataclass
class Group:
    """One (mitigation, seed): the techniques (and clean accuracy) still to compute."""

    request: runner.Request
    seed: int
    techniques: list
    clean: bool

    @property
    def label(self) -> str:
        return f"{self.request.mitigation} seed {self.seed}"


@dataclass
class SweepReport:
    computed: int = 0
    reused: int = 0
    recomputed_bad: list = field(default_factory=list)
    written: list = field(default_factory=list)


def compute_group(group: Group) -> dict:
    """Run one group in this process: {technique: (encoded rows, seconds)}, plus the clean
    accuracy under `CLEAN`. A top-level function, so worker processes and Ray can call it."""
    setup = runner.prepare(group.request)
    with runner.pinned_threads(setup.backend.name):
        t0 = time.perf_counter()
        rows, clean, secs = runner.run_seed(setup, group.seed, group.techniques, clean=group.clean)
        out = {t: (_encode(rows[t]), secs[t]) for t in group.techniques}
        if group.clean:
            out[CLEAN] = (_encode(clean), time.perf_counter() - t0 - sum(secs.values()))
    return out


# ---- executors --------------------------------------------------------------------------

def _run_local(groups, workers: int):
    """Yield (group, result) as groups finish: in this process for one worker, else in
    worker processes (spawned: a forked process would inherit thread pools and locks)."""
    if workers <= 1:
        for g in groups:
            yield g, compute_group(g)
        return
    import multiprocessing

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(compute_group, g): g for g in groups}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _run_ray(groups, workers: int, address: str | None):
    """Yield (group, result) as Ray tasks finish. Each task retries on a lost worker, so a
    dead node costs only its group; `address` joins a running cluster, else Ray starts
    locally with `workers` CPUs and stops again afterwards."""
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'atlaskb[distributed]'") from None
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": max(1, workers)}
        try:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
        except Exception as e:  # noqa: BLE001 - Ray raises many types for an unreachable cluster
            raise AtlasError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {e}") from None
    try:
        task = ray.remote(num_cpus=1, max_retries=3, retry_exceptions=False)(compute_group)
        pending = {task.remote(g): g for g in groups}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started:
            ray.shutdown()


# ---- the sweep --------------------------------------------------------------------------

def prepare_out(out: str) -> str:
    """The sweep folder: new, empty, or one a sweep made (its marker file). Anything else is
    refused: a sweep adds cells to its folder and must not scatter them into a user's."""
    root = check_out_path(out)
    if os.path.lexists(root):
        if os.path.islink(root) or not os.path.isdir(root):
            raise UsageError(f"--out {shown(out)} is not a folder")
        if os.listdir(root) and not os.path.isfile(os.path.join(root, MARKER)):
            raise UsageError(f"--out {shown(out)} is a non-empty folder that no sweep wrote "
                             f"(no {MARKER}); choose a new folder")
    try:
        os.makedirs(root, exist_ok=True)
        if not os.path.isfile(os.path.join(root, MARKER)):
            atomic_write(os.path.join(root, MARKER),
                         json.dumps({"written_by": "atlaskb", "kind": "sweep", "format": CELL_FORMAT}) + "\n")
    except OSError as e:
        raise AtlasError(f"cannot write the sweep to {shown(out)}: {e.strerror or e}") from None
    _clean_partial_cells(root)
    return root


def _clean_partial_cells(root: str) -> None:
    """Remove the temporary files an atomic cell write leaves when killed mid-write
    (`.<cell name>.<random>` beside the cells): only inside our own cells folder."""
    cells = os.path.join(root, "cells")
    for folder, dirs, files in os.walk(cells, followlinks=False):
        for name in files:
            if name.startswith(".") and ".json." in name:
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(folder, name))


def plan(mitigations, techniques, *, backend, device, quick, seeds, dataset) -> list[runner.Request]:
    """One request per mitigation; `techniques` narrows each to those it measures (a
    technique that no chosen mitigation measures is an error)."""
    from atlaskb.defenses import registry
    from atlaskb.model import id_sort_key

    names = [m.strip().upper() for m in mitigations] or sorted(registry(), key=id_sort_key)
    wanted = [t.strip().upper() for t in techniques]
    requests, used = [], set()
    for m in dict.fromkeys(names):
        mod = runner.get_mitigation(m)
        mine = [t for t in wanted if t in mod.EXPERIMENTS]
        used.update(mine)
        if wanted and not mine:
            continue
        requests.append(runner.Request(mod.MITIGATION, tuple(mine), backend, device, quick,
                                       seed_list=tuple(seeds), dataset=dataset))
    missing = [t for t in wanted if t not in used]
    if missing:
        raise runner.UnknownTechnique(f"no chosen mitigation measures {', '.join(missing)}")
    return requests


def sweep(mitigations=(), techniques=(), *, out: str, seeds: int | None = None, quick: bool = False,
          backend: str = "numpy", device: str = "auto", dataset: str = "digits", executor: str = "local",
          workers: int = 1, address: str | None = None, names: dict | None = None, log=None,
          progress: bool = False) -> SweepReport:
    """Run (or resume) a sweep into `out` and rebuild each mitigation's results from its
    cells. `log(line)` receives one line per finished group and per unusable cell (for logs:
    a long run that prints nothing looks dead); `progress` shows a bar on the terminal."""
    if executor not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}")
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    from atlaskb.defenses.config import default_seeds

    n_seeds = default_seeds(quick) if seeds is None else seeds
    if n_seeds < 1:
        raise UsageError("--seeds must be at least 1")
    requests = plan(mitigations, techniques, backend=backend, device=device, quick=quick,
                    seeds=list(range(n_seeds)), dataset=dataset)
    setups = {r.mitigation: runner.prepare(r) for r in requests}  # every request checked before any work
    root = prepare_out(out)
    log = log or (lambda line: None)
    report = SweepReport()
    found, groups = _stored_cells(root, requests, setups, report, log)
    run_groups = _run_ray(groups, workers, address) if executor == "ray" else _run_local(groups, workers)
    _compute(root, groups, run_groups, setups, found, report, log, progress)
    for r in requests:
        report.written.append(_rebuild(root, setups[r.mitigation], found, names))
    return report


def _stored_cells(root: str, requests, setups: dict, report: SweepReport, log):
    """The valid cells already in `root` ({(mitigation, technique, seed): (rows, seconds)})
    and the groups still to compute; an unusable cell is logged and recomputed."""
    found: dict[tuple, tuple] = {}
    groups = []
    for r in requests:
        setup = setups[r.mitigation]
        for seed in setup.seed_list:
            todo, need_clean = [], True
            for t in [*setup.chosen, CLEAN]:
                key = cell_key(setup, t, seed)
                try:
                    cell = read_cell(root, key)
                except ValueError as e:
                    report.recomputed_bad.append(cell_path(root, key))
                    log(f"cell {shown(cell_path(root, key))} is unusable ({e}); recomputing")
                    cell = None
                if cell is None:
                    if t == CLEAN:
                        continue
                    todo.append(t)
                else:
                    found[(r.mitigation, t, seed)] = cell
                    report.reused += 1
                    if t == CLEAN:
                        need_clean = False
            if todo or need_clean:
                groups.append(Group(r, seed, todo, need_clean))
    return found, groups


def _compute(root: str, groups: list, run_groups, setups: dict, found: dict, report: SweepReport, log,
             progress: bool) -> None:
    """Write each group's cells as the executor finishes it, and add them to `found`."""
    total = sum(len(g.techniques) + g.clean for g in groups)
    with runner._Progress(total, progress) as bar:
        bar.step(f"{len(groups)} group(s) to compute")
        for group, result in run_groups:
            setup = setups[group.request.mitigation]
            for t, (rows, secs) in result.items():
                write_cell(root, cell_key(setup, t, group.seed), rows, secs)  # already encoded
                found[(group.request.mitigation, t, group.seed)] = (_decode(rows), secs)
                report.computed += 1
            bar.step(f"{group.label} done", advance=len(result))
            log(f"{group.label}: computed {len(result)} cell{'s' * (len(result) != 1)} "
                f"({', '.join(result)})")


def _rebuild(root: str, setup: runner.RunSetup, found: dict, names: dict | None) -> str:
    """A mitigation's results.json and plots from its cells, by `defend run`'s own code;
    returns the folder."""
    m = setup.mod.MITIGATION
    per_tech = {t: [found[(m, t, s)][0] for s in setup.seed_list] for t in setup.chosen}
    timings = {t: sum(found[(m, t, s)][1] for s in setup.seed_list) for t in setup.chosen}
    cleans = [found[(m, CLEAN, s)][0] for s in setup.seed_list]
    clean = {"baseline": [c["baseline"] for c in cleans], "defended": [c["defended"] for c in cleans]}
    doc, rows = runner.assemble(setup, per_tech, clean, timings, sum(timings.values()))
    dest = os.path.join(root, m)
    runner.write(doc, rows, setup.chosen, dest, names)
    return dest
