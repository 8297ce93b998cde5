"""Run a mitigation's experiments over several seeds and write the evidence folder.

Output (`DIR/results.json`, `DIR/plots/<technique>.png|.svg`) is written into a temporary
folder and swapped into place, so an interrupted run never leaves half an evidence set.
Everything except `provenance.timings` is a pure function of (mitigation, techniques,
dataset, config, seeds, backend/device numerics): the same seeds give the same file.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, replace

import numpy as np

from atlaskb.defenses import get_mitigation, plots, results, stats
from atlaskb.defenses.config import default_seeds, mode_config
from atlaskb.defenses.data import get_dataset
from atlaskb.defenses.rows import aggregate
from atlaskb.errors import AtlasError, UsageError
from atlaskb.evidence import rounded
from atlaskb.fsutil import plan_replace, shown

# What the evidence folder's manifest calls it (`fsutil`): a folder is replaced by a new
# run only when its manifest says so, never because it happens to hold a results.json.
KIND = "evidence"
LABEL = "atlaskb defend run"


class UnknownTechnique(AtlasError):
    exit_code = 1


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


def _versions(backend_name: str) -> dict:
    import sklearn

    from atlaskb import __version__

    v = {"python": platform.python_version(), "numpy": np.__version__,
         "scikit-learn": sklearn.__version__, "atlaskb": __version__}
    if backend_name == "torch":
        import torch

        v["torch"] = torch.__version__
    return v


THREADS_ENV = "ATLASKB_THREADS"


def thread_count() -> int:
    """Threads for BLAS and torch while experiments run: 1 unless `ATLASKB_THREADS` says
    otherwise (a whole number >= 1)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{THREADS_ENV} must be a whole number >= 1, got {raw!r}")
    return int(raw)


@contextlib.contextmanager
def pinned_threads(backend_name: str):
    """Limit BLAS and (for the torch backend) torch's own intra-op pool while experiments
    run, restoring both afterwards.

    The networks here are small (at most 128 units, batches of 64), so extra threads cost
    more in hand-offs than they save, and on a shared machine spinning threads are ruinous:
    OpenBLAS made a quick numpy run 3-4x slower (52 s vs 15 s); torch's default pool made
    one torch technique take 191 s against 25 s with one thread beside two busy processes
    (bench/RESULTS.md). `ATLASKB_THREADS` raises the limit for larger models.
    """
    n = thread_count()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        threadpool_limits = None
    torch_prev = None
    if backend_name == "torch":
        import torch

        torch_prev = torch.get_num_threads()
        torch.set_num_threads(n)
    try:
        if threadpool_limits is None:
            yield n
        else:
            with threadpool_limits(limits=n, user_api="blas"):
                yield n
    finally:
        if torch_prev is not None:
            import torch

            torch.set_num_threads(torch_prev)


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


@dataclass(frozen=True)
class RunSetup:
    """What one run measures: the mitigation's module, its chosen techniques, the seeds,
    and the engine, data set and configuration they run on. `defend run` and every cell
    of `defend sweep` build it the same way, so both give the same numbers."""

    mod: object
    chosen: list
    seed_list: list
    backend: object
    dataset: object
    cfg: object
    quick: bool


@dataclass(frozen=True)
class Request:
    """What to measure, as plain data (a sweep sends it to worker processes): the
    mitigation, its techniques (default: every one it measures), the seeds, and the engine,
    data set and configuration. `seeds` counts seeds 0..N-1 (default 10, or 3 with `quick`:
    indicative only); `seed_list` names them outright. `config` replaces the mitigation's
    own (tests use tiny budgets); `diversity` (when not None) overrides the config's
    `diversity` field where it has one, so provenance and config hash record it."""

    mitigation: str
    techniques: tuple = ()
    backend: str = "numpy"
    device: str = "auto"
    quick: bool = False
    seeds: int | None = None
    seed_list: tuple | None = None
    dataset: str = "digits"
    config: object = None
    diversity: float | None = None


def prepare(request: Request) -> RunSetup:
    """Check the request and build its `RunSetup`: an unknown mitigation, technique,
    seed count or --diversity is an error before any training."""
    from atlaskb.engine import get_backend

    mod = get_mitigation(request.mitigation)
    chosen = select_techniques(mod, request.techniques)
    seed_list = request.seed_list
    if seed_list is None:
        seeds = default_seeds(request.quick) if request.seeds is None else request.seeds
        if seeds < 1:
            raise AtlasError("--seeds must be at least 1")
        seed_list = list(range(seeds))
    if not seed_list:
        raise AtlasError("at least one seed is needed")
    be = get_backend(request.backend, request.device)
    ds = get_dataset(request.dataset)
    cfg = request.config or mode_config(mod, request.quick)
    diversity = request.diversity
    if diversity is not None:
        if not (diversity >= 0 and math.isfinite(diversity)):
            raise AtlasError(f"--diversity must be a finite number >= 0, got {diversity}")
        if not hasattr(cfg, "diversity"):
            if diversity:
                raise AtlasError(f"{mod.MITIGATION} has no --diversity setting")
        else:
            cfg = replace(cfg, diversity=float(diversity))
    return RunSetup(mod, chosen, list(seed_list), be, ds, cfg, bool(request.quick))


def run_seed(setup: RunSetup, seed: int, techniques=None, clean: bool = True, on_step=None):
    """One seed's experiments in one shared context (trained models are trained once):
    ({technique: [per-seed row, ...]}, clean accuracy or None, {technique: seconds}).
    `techniques` defaults to all chosen; `on_step(technique, done)` reports progress."""
    from atlaskb.defenses.context import SeedContext

    ctx = SeedContext(setup.backend, setup.dataset, setup.cfg, seed)
    per_tech, timings = {}, {}
    for t in setup.chosen if techniques is None else techniques:
        if on_step:
            on_step(t, False)
        t0 = time.perf_counter()
        per_tech[t] = setup.mod.EXPERIMENTS[t](ctx)
        timings[t] = time.perf_counter() - t0
        if on_step:
            on_step(t, True)
    return per_tech, (setup.mod.clean_accuracy(ctx) if clean else None), timings


def assemble(setup: RunSetup, per_tech: dict, clean: dict, timings: dict, total_s: float):
    """Every seed's rows -> (the validated results document, its rows with series).
    `per_tech[t]` and `clean[arm]` hold one entry per seed, in `setup.seed_list` order."""
    mod, be, ds, cfg, chosen = setup.mod, setup.backend, setup.dataset, setup.cfg, setup.chosen
    rows = [r for t in chosen for r in aggregate(t, per_tech[t])]
    doc = {
        "mitigation": mod.MITIGATION, "backend": be.name, "device": be.device, "dataset": ds.name,
        "provenance": {"versions": _versions(be.name), "seeds": list(setup.seed_list),
                       "config_hash": cfg.hash(), "config": cfg.as_dict(), "quick": setup.quick,
                       "techniques": chosen, "threads": thread_count(), "timings": {}},
        "not_measured": [{"technique": t, "reason": r} for t, r in sorted(mod.NOT_MEASURED.items())],
        "clean_accuracy": {"baseline": stats.arm(clean["baseline"])["mean"],
                           "defended": stats.arm(clean["defended"])["mean"]},
        "results": [{k: v for k, v in r.items() if k != "series"} | {"plots": [f"plots/{r['technique']}.png",
                                                                              f"plots/{r['technique']}.svg"]}
                    for r in rows],
    }
    doc = rounded(doc, 6)  # results.json: readable, no spurious precision
    _check_measured(doc, ds.name)
    doc["provenance"]["timings"] = {"total_s": round(total_s, 3),
                                    "per_technique_s": {t: round(timings.get(t, 0.0), 3) for t in chosen},
                                    "note": "a technique's time includes shared work it was first to need"}
    results.validate(doc)
    return doc, rows


def run(request: Request, *, out: str | None = None, progress: bool | None = None,
        names: dict | None = None) -> dict:
    """Run the request and (if `out`) write the evidence folder; returns the results
    document. `progress` shows a bar (default: on a terminal); `names` are technique names
    for plot titles (default: from the bundled knowledge base)."""
    setup = prepare(request)
    if out is not None:
        check_out_dir(out)  # before minutes of training, not after ('' is refused, not skipped)
    t_start = time.perf_counter()
    timings = {t: 0.0 for t in setup.chosen}
    per_tech = {t: [] for t in setup.chosen}
    clean = {"baseline": [], "defended": []}
    with pinned_threads(setup.backend.name), \
            _Progress(len(setup.seed_list) * len(setup.chosen), progress) as bar:
        for seed in setup.seed_list:
            def step(t, done, seed=seed):
                bar.step(f"seed {seed} {t}", advance=int(done))

            rows, ca, secs = run_seed(setup, seed, on_step=step)
            for t in setup.chosen:
                per_tech[t].append(rows[t])
                timings[t] += secs[t]
            clean["baseline"].append(ca["baseline"])
            clean["defended"].append(ca["defended"])
    doc, rows = assemble(setup, per_tech, clean, timings, time.perf_counter() - t_start)
    if out is not None:
        write(doc, rows, setup.chosen, out, names)
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
                fig = plots.figure(t, names.get(t, ""), rounded(sub, 6))
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
