"""`make bench`: every speed goal, side by side with the peer tools, in one run.

Each bench module exposes `main(argv) -> dict` of figures; this runs them in turn,
prints them, and writes bench/out/results.json. Goals and the latest measured figures
are recorded by hand in bench/RESULTS.md.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

BENCHES = ["bench_load", "bench_cli", "bench_site", "bench_defenses", "bench_cache", "bench_sweep"]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    only = [a for a in argv if not a.startswith("-")]
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()}}
    failed = []
    for name in BENCHES:
        if only and name not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            print(f"skipped: {e}")
            continue
        start = time.perf_counter()
        try:
            results[name] = module.main([a for a in argv if a.startswith("-")])
        except Exception as e:  # noqa: BLE001 - one broken bench must not hide the others
            print(f"FAILED: {type(e).__name__}: {e}")
            failed.append(name)
        print(f"({time.perf_counter() - start:.1f} s)")
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", "results.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2, default=str)
    print("\nfigures written to bench/out/results.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
