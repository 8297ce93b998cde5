"""What a parse-cache hit costs to prove: the cache key of a source with every file's
SHA-256 (what `atlaskb.cache` does) against stamps alone (mtime and size, which miss a
same-size edit whose mtime was put back), for the bundled vault and a synthetic
10,000-page vault; and the depth check every cache read makes.

Run: python bench/bench_cache.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import atlaskb  # noqa: E402
from atlaskb import cache  # noqa: E402
from synthetic_vault import make_vault  # noqa: E402


def timed(fn, repeat: int) -> list:
    """[median, best] wall time in ms over `repeat` runs after one warm-up: on a shared
    machine the best run is the cost, the median what a user may see."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return [round(statistics.median(runs), 2), round(min(runs), 2)]


def _key_ms(root: str, content: bool, repeat: int) -> list:
    return timed(lambda: cache._stamp(root, content=content), repeat=repeat)


def main(argv=None) -> dict:
    figures: dict = {}
    bundled = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "atlas")
    figures["bundled_stamp_ms"] = _key_ms(bundled, False, 30)
    figures["bundled_stamp_and_sha256_ms"] = _key_ms(bundled, True, 30)
    data = cache.to_data(atlaskb.load(bundled), "k")
    text = json.dumps(data)
    figures["bundled_depth_check_ms"] = timed(lambda: cache._depth_at_most(data, cache._MAX_DEPTH), 30)
    figures["bundled_cache_json_decode_ms"] = timed(lambda: json.loads(text), 30)
    with tempfile.TemporaryDirectory() as tmp:
        make_vault(tmp, 10_000)
        figures["synthetic_10k_stamp_ms"] = _key_ms(tmp, False, 5)
        figures["synthetic_10k_stamp_and_sha256_ms"] = _key_ms(tmp, True, 5)
    for k, (median, best) in figures.items():
        print(f"  {k}: median {median}, best {best}")
    return figures


if __name__ == "__main__":
    main()
