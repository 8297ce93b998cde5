"""Reference defenses: runnable mitigations measured against the techniques ATLAS says
they mitigate, so a `mitigates` edge can carry evidence rather than advice.

`REGISTRY` maps a mitigation ID to its experiments module; adding a mitigation means
adding a module under `experiments/` with `MITIGATION`, `DESCRIPTION` and `EXPERIMENTS`
(technique ID -> function of a `SeedContext`) and one line here.
"""

from __future__ import annotations

import importlib

from atlaskb.errors import AtlasError

REGISTRY = {
    "AML.M0006": "atlaskb.defenses.experiments.m0006",
}


class UnknownMitigation(AtlasError):
    exit_code = 1


def get_mitigation(mid: str):
    """The experiments module for a mitigation ID (case-insensitive)."""
    key = (mid or "").strip().upper()
    if key not in REGISTRY:
        raise UnknownMitigation(f"no reference defense for mitigation {mid!r}; "
                                f"available: {', '.join(sorted(REGISTRY))}")
    return importlib.import_module(REGISTRY[key])


def list_mitigations(kb=None) -> list[dict]:
    """`[{"mitigation", "techniques", "description"}]` for every registered defense.

    With a knowledge base, techniques the graph says the mitigation addresses but that
    have no experiment here are listed under "unmeasured" so the gap is visible.
    """
    out = []
    for mid in sorted(REGISTRY):
        mod = get_mitigation(mid)
        row = {"mitigation": mid, "techniques": sorted(mod.EXPERIMENTS), "description": mod.DESCRIPTION}
        if kb is not None:
            from atlaskb import queries

            in_kb = {t["id"] for t in queries.techniques_for(kb, mid)} if mid in kb.graph else set()
            missing = sorted(in_kb - set(mod.EXPERIMENTS))
            if missing:
                row["unmeasured"] = missing
        out.append(row)
    return out
