"""Sweep executors side by side: one worker, two local workers, and Ray, on the same cells.

Goals (issue "Evidence sweeps"): the AML.M0006 full sweep over 10 seeds with
`--executor local --workers 2` at least 1.7x faster than one worker on 2 cores, and
`--executor ray` within 1.3x of local. `--quick` (the default here: minutes, not hours)
runs the same comparison on quick budgets; `--full` runs the goal's own configuration.
Each arm starts from an empty sweep folder, so every cell is computed; wall-clock time
includes process (or Ray) start-up, which a user pays too.
"""

from __future__ import annotations

import sys
import tempfile
import time

from atlaskb.defenses import sweep


def _time(**kwargs) -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        report = sweep.sweep(["AML.M0006"], out=f"{d}/s", **kwargs)
        assert report.reused == 0
        return time.perf_counter() - t0


def main(argv=None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    full = "--full" in argv
    common = {"quick": not full, "seeds": 10 if full else 4}
    one = _time(workers=1, **common)
    two = _time(workers=2, **common)
    out = {"mode": "full" if full else "quick", "seeds": common["seeds"], "one_worker_s": round(one, 1),
           "two_workers_s": round(two, 1), "speedup_two_workers": round(one / two, 2)}
    try:
        import ray  # noqa: F401
    except ImportError:
        out["ray"] = "not installed"
    else:
        r = _time(workers=2, executor="ray", **common)
        out["ray_two_workers_s"] = round(r, 1)
        out["ray_over_local"] = round(r / two, 2)
    for k, v in out.items():
        print(f"{k}: {v}")
    return out


if __name__ == "__main__":
    main()
