"""Speed of the static site build: the bundled ATLAS site (goal ≤ 2 s) and a synthetic
10,000-object vault (goal ≤ 60 s). Times cover rendering and writing the whole site
(atomic swap included) from an already loaded knowledge base, plus the load for scale.

Run: python bench/bench_site.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from synthetic_vault import make_vault  # noqa: E402

import atlaskb  # noqa: E402
from atlaskb.site import build_site  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def _median_build(kb, out: str, repeat: int) -> tuple[float, int]:
    """Median build time over `repeat` runs (after one warm-up) and the page count."""
    result = build_site(kb, out)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = build_site(kb, out)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), result.pages


def _cli_build(out: str, repeat: int) -> float:
    """Median wall time of the whole command as a user runs it: a fresh process that
    loads the bundled vault, compiles the templates and writes the site."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "atlaskb", "site", "build", "--out", out],
                       check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main(argv=None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv
    figures: dict = {}
    # Under bench/out/ (ignored by git), not /tmp: where users build, and this machine's
    # /tmp creates files some 30x slower than the project disk, which would time the
    # machine rather than the renderer.
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        kb = atlaskb.load()
        seconds, pages = _median_build(kb, os.path.join(tmp, "bundled"), repeat=3 if quick else 5)
        figures["bundled_site_build_s"] = round(seconds, 3)
        figures["bundled_site_pages"] = pages
        figures["bundled_site_cli_s"] = round(_cli_build(os.path.join(tmp, "cli"), repeat=3), 3)
        size = 1000 if quick else 10000
        root = os.path.join(tmp, f"v{size}")
        make_vault(root, size)
        start = time.perf_counter()
        big = atlaskb.load(root)
        figures[f"synthetic_{size}_load_s"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        result = build_site(big, os.path.join(tmp, "synthetic"))
        figures[f"synthetic_{size}_site_build_s"] = round(time.perf_counter() - start, 3)
        figures[f"synthetic_{size}_objects"] = len(big)
        figures[f"synthetic_{size}_site_pages"] = result.pages
    print("Site build (in process, from a loaded knowledge base)")
    print(f"  bundled ATLAS: {figures['bundled_site_build_s']:.3f} s for {pages} pages   (goal <= 2 s, median)")
    print(f"  bundled ATLAS, whole `atlaskb site build` command: {figures['bundled_site_cli_s']:.3f} s "
          "(new process: load, compile templates, render, write)")
    print(f"  synthetic {figures[f'synthetic_{size}_objects']} objects: "
          f"{figures[f'synthetic_{size}_site_build_s']:.3f} s for {figures[f'synthetic_{size}_site_pages']} pages "
          f"(+ {figures[f'synthetic_{size}_load_s']:.3f} s load)   (goal <= 60 s at 10,000)")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
