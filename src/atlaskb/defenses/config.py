"""Run settings: one place for every budget, so the config hash in results.json pins them.

`quick` is sized so all eleven AML.M0006 techniques finish in under two minutes on two CPU
cores with the numpy backend; `full` spends more epochs, steps, queries and test points.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Config:
    epochs: int = 60                 # per ensemble member
    batch: int = 64
    lr: float = 3e-3
    bootstrap: bool = True           # each member trains on its own bootstrap sample
    diversity: float = 0.0           # > 0: members train jointly with a negative-correlation
                                     # term of this weight (engine.train), replacing bootstrap
    n_test: int = 0                  # 0 = the whole test split
    eps: float = 0.1                 # default L-infinity budget (features in [0, 1])
    pgd_steps: int = 40
    transfer_eps: tuple = (0.05, 0.1, 0.15, 0.2, 0.3)
    simba_eps: float = 0.2
    query_budget: int = 1000
    boundary_l2: float = 1.5         # label-only success: adversarial within this L2
    poison_frac: float = 0.05        # poisoned samples, as a fraction of the training split
    poisoned_members: int = 2        # members whose partition the poison reaches
    tool_poison_rate: float = 0.2    # share of each batch a compromised tool poisons
    target_class: int = 0
    shadow_per_family: int = 12      # attacker's fingerprinting library
    probes: int = 24                 # query inputs the fingerprinter sends
    targets_per_family: int = 6      # victims per family scored by the fingerprinter
    fingerprint_epochs: int = 30

    def hash(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def as_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=list))


FULL = Config()
QUICK = replace(FULL, epochs=30, n_test=300, pgd_steps=20, query_budget=300,
                shadow_per_family=6, targets_per_family=3, probes=20, fingerprint_epochs=15)


def get_config(quick: bool) -> Config:
    return QUICK if quick else FULL
