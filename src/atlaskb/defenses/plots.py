"""One figure per technique (PNG and SVG), byte-identical run to run.

Determinism needs three things: the Agg backend, a fixed `svg.hashsalt` (otherwise SVG
element ids are random), and fixed metadata (otherwise the SVG carries the date).
"""

from __future__ import annotations

import io
import os

import numpy as np

from atlaskb.fsutil import atomic_write

COLORS = {"baseline": "#8c8c8c", "defended": "#1f77b4"}


def _setup():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "atlaskb-defenses", "svg.fonttype": "path",
                         "font.size": 9, "figure.dpi": 100, "path.simplify": True})
    return plt


def _err(mean, ci):
    return [[max(mean - ci[0], 0.0)], [max(ci[1] - mean, 0.0)]]


def figure(technique: str, name: str, rows: list[dict]):
    """Bars (baseline vs defended, 95% interval) per metric; a curve panel when a row
    carries a series (transfer robust accuracy over epsilon)."""
    plt = _setup()
    series = [r for r in rows if r.get("series")]
    bars = [r for r in rows if "curve_point" not in (r.get("params") or {})]  # those are on the curve
    metrics = []
    for r in bars:
        if r["metric"] not in metrics:
            metrics.append(r["metric"])
    n = len(metrics) + len(series)
    widths = [max(4.2, 0.55 * sum(r["metric"] == m for r in bars) + 1.5) for m in metrics] + [4.2] * len(series)
    fig, axes = plt.subplots(1, n, figsize=(max(sum(widths), 5.0), 3.9), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    for ax, metric in zip(axes[0], metrics):
        sub = [r for r in bars if r["metric"] == metric]
        xs = np.arange(len(sub))
        for off, side in ((-0.2, "baseline"), (0.2, "defended")):
            for x, r in zip(xs, sub):
                ax.bar(x + off, r[side], width=0.38, color=COLORS[side],
                       yerr=_err(r[side], r["ci95"][side]), capsize=3,
                       label=side if x == 0 else None)
                if len(sub) <= 6:  # more bars than that: the numbers would overlap
                    ax.annotate(f"{r[side]:.3g}" if metric == "queries" else f"{r[side]:.2f}",
                                (x + off, 0), xytext=(0, 3), textcoords="offset points",
                                ha="center", va="bottom", fontsize=7, color="black")
        ax.set_xticks(xs)
        ax.set_xticklabels([_label(r) for r in sub], rotation=25, ha="right", fontsize=7)
        ax.set_ylabel(metric.replace("_", " ") + ("  (higher is better)" if sub[0]["higher_is_better"]
                                                  else "  (lower is better)"), fontsize=8)
        if metric != "queries":
            ax.set_ylim(0, 1.2)
        else:
            ax.set_ylim(0, max(max(r["ci95"][s][1], r[s]) for r in sub for s in COLORS) * 1.2 + 1)
        ax.legend(fontsize=7, frameon=False, loc="upper center", ncol=2)
    for ax, r in zip(axes[0][len(metrics):], series):
        s = r["series"]
        for side in ("baseline", "defended"):
            ax.plot(s["x"], s[side], marker="o", color=COLORS[side], label=side)
            ax.fill_between(s["x"], [c[0] for c in s[side + "_ci95"]], [c[1] for c in s[side + "_ci95"]],
                            color=COLORS[side], alpha=0.2, linewidth=0)
        ax.set_xlabel(s["x_label"])
        ax.set_ylabel(r["metric"].replace("_", " "))
        ax.set_ylim(0, 1.2)
        ax.legend(fontsize=7, frameon=False, loc="upper center", ncol=2)
    fig.suptitle(f"{technique} {name}: baseline vs defended ({_spread(rows)})", fontsize=9)
    fig.tight_layout()
    return fig


def _label(r: dict) -> str:
    """A bar's name: the attack, and what tells rows of one attack apart (k, baseline)."""
    p = r.get("params") or {}
    extra = []
    if "k" in p:
        extra.append(f"k={p['k']}")
    if isinstance(p.get("baseline"), str) and len(p["baseline"]) <= 24 and p["baseline"] != "strongest":
        extra.append("vs " + p["baseline"].replace("_", " "))
    return r["attack"].replace("_", " ") + (f" ({', '.join(extra)})" if extra else "")


def _spread(rows: list[dict]) -> str:
    """What the bars and bands show: with one seed there is no interval to draw, and the
    title must not promise one."""
    per_seed = (rows[0].get("params") or {}).get("per_seed") if rows else None
    n = len(per_seed["baseline"]) if isinstance(per_seed, dict) and "baseline" in per_seed else None
    if n == 1:
        return "one seed: no interval"
    return f"mean of {n} seeds, 95% CI" if n else "mean, 95% CI over seeds"


def write(fig, folder: str, technique: str) -> list[str]:
    """Save `fig` as `<technique>.png` and `.svg` under `folder`; returns relative paths."""
    plt = _setup()
    out = []
    for ext, meta in (("png", {"Software": "atlaskb"}), ("svg", {"Date": None, "Creator": "atlaskb"})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, metadata=meta)
        atomic_write(os.path.join(folder, f"{technique}.{ext}"), buf.getvalue())
        out.append(f"plots/{technique}.{ext}")
    plt.close(fig)
    return out
