"""Speed of loading: the bundled vault in process (goal ≤ 150 ms) and synthetic vaults of
1,000 to 10,000 pages (goal ≤ 3 s at 10,000, per-page cost flat).

Parsing is what is measured: the parse cache (atlaskb.cache) is turned off for those
figures and timed separately. Side by side, the peer tool: MITRE's mitreattack-python
loading a STIX bundle of the same release (`atlaskb export stix`), against atlaskb
loading that same bundle, in the same process.

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


def peer_figures(repeat: int) -> dict:
    """atlaskb vs mitreattack-python loading the same STIX bundle; {} when it is absent."""
    try:
        from mitreattack.stix20 import MitreAttackData
    except ImportError:
        print("  (mitreattack-python not installed: `pip install -e .[bench]` for the peer figures)")
        return {}
    from atlaskb.export.stix import to_json

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "atlas-stix.json")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(to_json(atlaskb.load()))
        ours = timed(lambda: atlaskb.load(path), repeat=repeat)
        theirs = timed(lambda: MitreAttackData(stix_filepath=path), repeat=repeat)
    return {"stix_load_atlaskb_ms": round(ours * 1000, 1), "stix_load_mitreattack_ms": round(theirs * 1000, 1),
            "stix_load_ratio": round(theirs / ours, 2)}


def main(argv=None) -> dict:
    figures: dict = {}
    os.environ.pop("ATLASKB_NO_CACHE", None)
    atlaskb.load()
    figures["bundled_vault_cached_load_ms"] = round(timed(lambda: atlaskb.load(), repeat=15) * 1000, 1)
    os.environ["ATLASKB_NO_CACHE"] = "1"  # from here on: parsing, not the cache
    bundled = timed(lambda: atlaskb.load(), repeat=15)
    figures["bundled_vault_load_ms"] = round(bundled * 1000, 1)
    figures.update(peer_figures(repeat=5))
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
    print(f"  bundled vault: {figures['bundled_vault_load_ms']} ms parsed   (goal <= 150 ms); "
          f"{figures['bundled_vault_cached_load_ms']} ms from the cache")
    if "stix_load_ratio" in figures:
        print(f"  STIX bundle of ATLAS: atlaskb {figures['stix_load_atlaskb_ms']} ms, mitreattack-python "
              f"{figures['stix_load_mitreattack_ms']} ms  (atlaskb x{figures['stix_load_ratio']} faster)")
    for pages in (1000, 3000, 10000):
        print(f"  synthetic {pages:>5} pages: {figures[f'synthetic_{pages}_load_s']:.3f} s, "
              f"{figures[f'synthetic_{pages}_us_per_page']} us/page")
    print(f"  per-page cost 10,000 vs 1,000: x{figures['per_page_ratio_10000_vs_1000']}  (flat = 1.0; goal: 10,000 pages <= 3 s)")
    os.environ.pop("ATLASKB_NO_CACHE", None)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
