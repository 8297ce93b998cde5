"""Speed of loading: the bundled vault in process (goal ≤ 150 ms) and synthetic vaults of
1,000 to 10,000 pages (goal ≤ 3 s at 10,000, per-page cost flat).

Run: python bench/bench_load.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import atlaskb  # noqa: E402
from synthetic_vault import make_vault  # noqa: E402


def timed(fn, repeat: int) -> float:
    """Median wall time in seconds over `repeat` runs (after one warm-up)."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main(argv=None) -> dict:
    figures: dict = {}
    bundled = timed(lambda: atlaskb.load(), repeat=15)
    figures["bundled_vault_load_ms"] = round(bundled * 1000, 1)
    per_page = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pages in (1000, 3000, 10000):
            root = os.path.join(tmp, f"v{pages}")
            make_vault(root, pages)
            kb = atlaskb.load(root)
            seconds = timed(lambda: atlaskb.load(root), repeat=3)
            per_page[pages] = seconds / len(kb)
            figures[f"synthetic_{pages}_load_s"] = round(seconds, 3)
            figures[f"synthetic_{pages}_us_per_page"] = round(per_page[pages] * 1e6, 1)
    figures["per_page_ratio_10000_vs_1000"] = round(per_page[10000] / per_page[1000], 2)
    print("Loading (in process, median)")
    print(f"  bundled vault: {figures['bundled_vault_load_ms']} ms   (goal <= 150 ms)")
    for pages in (1000, 3000, 10000):
        print(f"  synthetic {pages:>5} pages: {figures[f'synthetic_{pages}_load_s']:.3f} s, "
              f"{figures[f'synthetic_{pages}_us_per_page']} us/page")
    print(f"  per-page cost 10,000 vs 1,000: x{figures['per_page_ratio_10000_vs_1000']}  (flat = 1.0; goal: 10,000 pages <= 3 s)")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
