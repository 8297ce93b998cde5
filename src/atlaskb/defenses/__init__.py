"""Reference defenses: runnable mitigations measured against the techniques ATLAS says
they mitigate, so a `mitigates` edge can carry evidence rather than advice.

A mitigation is one module under `atlaskb.defenses.mitigations` (discovered, not
registered: adding one touches no other module). See docs/evidence-framework.md.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from atlaskb.errors import AtlasError

MITIGATIONS_PACKAGE = "atlaskb.defenses.mitigations"


class UnknownMitigation(AtlasError):
    exit_code = 1


class BadMitigationModule(AtlasError):
    exit_code = 1


REQUIRED = ("MITIGATION", "DESCRIPTION", "EXPERIMENTS", "NOT_MEASURED")


@lru_cache(maxsize=1)
def registry() -> dict[str, str]:
    """Mitigation ID -> module name, for every module in the mitigations package."""
    pkg = importlib.import_module(MITIGATIONS_PACKAGE)
    out = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        name = f"{MITIGATIONS_PACKAGE}.{info.name}"
        mod = importlib.import_module(name)
        check_module(mod)
        if mod.MITIGATION in out:
            raise BadMitigationModule(f"{name}: {mod.MITIGATION} is already defined by {out[mod.MITIGATION]}")
        out[mod.MITIGATION] = name
    return out


def check_module(mod) -> None:
    """A mitigation module's declarations, checked so a mistake fails loudly in tests."""
    where = mod.__name__
    missing = [k for k in REQUIRED if not hasattr(mod, k)]
    if missing:
        raise BadMitigationModule(f"{where}: missing {', '.join(missing)}")
    both = set(mod.EXPERIMENTS) & set(mod.NOT_MEASURED)
    if both:
        raise BadMitigationModule(f"{where}: {sorted(both)} both measured and not measured")
    for t, reason in mod.NOT_MEASURED.items():
        if not isinstance(reason, str) or not reason.strip():
            raise BadMitigationModule(f"{where}: NOT_MEASURED[{t!r}] needs a reason")
    for t, fn in mod.EXPERIMENTS.items():
        if not callable(fn):
            raise BadMitigationModule(f"{where}: EXPERIMENTS[{t!r}] is not callable")


def get_mitigation(mid: str):
    """The module for a mitigation ID (case-insensitive)."""
    key = (mid or "").strip().upper()
    reg = registry()
    if key not in reg:
        raise UnknownMitigation(f"no reference defense for mitigation {mid!r}; "
                                f"available: {', '.join(sorted(reg))}")
    return importlib.import_module(reg[key])


def list_mitigations(kb=None) -> list[dict]:
    """One entry per mitigation module: `{"mitigation", "techniques" (measured),
    "not_measured": [{"technique", "reason"}], "description"}`.

    With a knowledge base, a technique the graph links to the mitigation that the module
    neither measures nor explains is listed as not measured with that reason, so the gap
    is visible rather than hidden.
    """
    from atlaskb.model import id_sort_key

    out = []
    for mid in sorted(registry()):
        mod = get_mitigation(mid)
        nm = dict(mod.NOT_MEASURED)
        if kb is not None and mid in kb.graph:
            from atlaskb import queries

            for t in queries.techniques_for(kb, mid):
                if t["id"] not in mod.EXPERIMENTS and t["id"] not in nm:
                    nm[t["id"]] = "no experiment here yet (the module does not declare this link)"
        out.append({"mitigation": mid,
                    "techniques": sorted(mod.EXPERIMENTS, key=id_sort_key),
                    "not_measured": [{"technique": t, "reason": nm[t]} for t in sorted(nm, key=id_sort_key)],
                    "description": mod.DESCRIPTION})
    return out
