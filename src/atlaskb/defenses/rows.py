"""The per-seed result row an experiment returns, and how rows of all seeds become the
rows of results.json (means, intervals, the paired difference and its verdict).

An experiment is `fn(ctx) -> [row(...), ...]`, the same rows in the same order every seed.
"""

from __future__ import annotations

import math

from atlaskb.defenses import stats
from atlaskb.defenses.threat import ThreatModel

# Metrics and their direction (True: higher is better for the defender).
METRICS = {
    "robust_accuracy": True,
    "accuracy": True,
    "attack_success_rate": False,
    "identification_accuracy": False,
    "queries": True,
    "auc": False,                 # membership inference: area under the attacker's ROC curve
    "true_positive_rate": False,  # an attack's true-positive rate at a fixed false-positive rate
    "fidelity": False,            # a stolen copy's agreement with the victim's labels
    "detection_auc": True,        # a validator's AUC separating tampered from clean models
    "residual_corruption": False,  # share of wrong labels left in a training set after filtering
}
RATES = {"robust_accuracy", "accuracy", "attack_success_rate", "identification_accuracy", "auc",
         "true_positive_rate", "fidelity", "detection_auc", "residual_corruption"}


def row(attack: str, metric: str, baseline, defended, threat_model: ThreatModel, *, hib: bool | None = None,
        params: dict | None = None, extra: dict | None = None, info: dict | None = None,
        series: dict | None = None, caveat: str = "", headline: bool = False) -> dict:
    """One result for one seed. `baseline`/`defended` are `stats.Points` (per-point
    outcomes on this seed's test points); `extra` figures likewise; `series` a curve
    {"x_label", "x", "baseline": [Points...], "defended": [Points...]}; `caveat` one plain
    sentence on what the row does not show; `headline` marks the row that answers the
    link's question (`atlaskb.linkstatus` reads it; without one, a link's first row is)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {sorted(METRICS)}")
    if not isinstance(threat_model, ThreatModel):
        raise TypeError("every row states its threat model (a ThreatModel)")
    return {"attack": attack, "metric": metric, "higher_is_better": METRICS[metric] if hib is None else hib,
            "baseline": baseline, "defended": defended, "threat_model": threat_model,
            "params": params or {}, "extra": extra or {}, "info": info or {}, "series": series,
            "caveat": caveat, "headline": bool(headline)}


def _bounds(metric: str):
    return (0.0, 1.0) if metric in RATES else (0.0, math.inf)


def aggregate(technique: str, per_seed: list[list[dict]]) -> list[dict]:
    """Rows from every seed (same order each seed) -> one results.json row each."""
    out = []
    for rows in zip(*per_seed):
        first = rows[0]
        metric = first["metric"]
        if len({(r["attack"], r["metric"]) for r in rows}) != 1:
            raise ValueError(f"{technique}: seeds returned different rows")
        b = stats.arm([r["baseline"] for r in rows], _bounds(metric))
        d = stats.arm([r["defended"] for r in rows], _bounds(metric))
        diff = stats.difference([r["baseline"] for r in rows], [r["defended"] for r in rows],
                                (-1.0, 1.0) if metric in RATES else None)
        params = dict(first["params"])
        params["per_seed"] = {"baseline": b["per_seed"], "defended": d["per_seed"],
                              "difference": diff["per_seed"]}
        params["test_points"] = {"baseline": b["points"], "defended": d["points"]}
        if first["extra"]:
            params["extra"] = {}
            for k in first["extra"]:
                s = stats.arm([r["extra"][k] for r in rows])
                params["extra"][k] = {"mean": s["mean"], "ci95": s["ci95"], "per_seed": s["per_seed"]}
        if first["info"]:
            params["info"] = [r["info"] for r in rows]
        series = None
        if first["series"]:
            s0 = first["series"]
            series = {"x_label": s0["x_label"], "x": list(s0["x"])}
            for side in ("baseline", "defended"):
                cols = [stats.arm([r["series"][side][i] for r in rows], _bounds(metric))
                        for i in range(len(s0["x"]))]
                series[side] = [c["mean"] for c in cols]
                series[side + "_ci95"] = [c["ci95"] for c in cols]
            params["series"] = series
        tm = first["threat_model"]
        out.append({"technique": technique, "attack": first["attack"], "metric": metric,
                    "higher_is_better": first["higher_is_better"],
                    "baseline": b["mean"], "defended": d["mean"],
                    "ci95": {"baseline": b["ci95"], "defended": d["ci95"]},
                    "difference": {"mean": diff["mean"], "ci95": diff["ci95"]},
                    "verdict": stats.verdict(diff["ci95"], first["higher_is_better"]),
                    "threat_model": tm.as_dict(),
                    "summary": tm.sentence() + (" " + first["caveat"] if first["caveat"] else ""),
                    "params": params, "series": series}
                   | ({"headline": True} if first.get("headline") else {}))
    return out
