"""Run settings: every budget in one frozen object per mitigation, so the config hash in
results.json pins them.

A mitigation module subclasses `BaseConfig` with its own fields and declares two
instances, `FULL` (evidence) and `QUICK` (small budgets, indicative only); `mode_config`
picks one. `BaseConfig` holds what every experiment here shares (training budget of a
model, test points, the default L-infinity budget).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

FULL_SEEDS = 10   # default seeds of a full run: paired intervals need them
QUICK_SEEDS = 3   # quick runs are indicative only, and say so


@dataclass(frozen=True)
class BaseConfig:
    epochs: int = 60
    batch: int = 64
    lr: float = 3e-3
    n_test: int = 0                  # 0 = the whole test split
    eps: float = 0.1                 # default L-infinity budget (features in [0, 1])

    def hash(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def as_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=list))


def default_seeds(quick: bool) -> int:
    return QUICK_SEEDS if quick else FULL_SEEDS


def mode_config(mod, quick: bool) -> BaseConfig:
    """A mitigation module's configuration for a quick or a full run: its `QUICK` or
    `FULL`, or `BaseConfig()` for a module that declares neither."""
    return getattr(mod, "QUICK" if quick else "FULL", None) or BaseConfig()
