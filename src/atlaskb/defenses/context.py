"""One seed's shared state for a mitigation's experiments, knowing nothing about any one
mitigation.

A `SeedContext` holds the seed's data split (the defender's training split, the
attacker's own disjoint split, the test points every arm is scored on), named random
streams, and a cache of shared work by name: trained models, attack runs. Techniques
overlap (a worst case over sub-techniques reuses every sub-technique's attack), so each
expensive piece is computed once per seed, on first use, from its own named stream: the
numbers do not depend on which techniques were asked for or in what order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from atlaskb.defenses import data, seeding


class SeedContext:
    def __init__(self, backend, ds: data.Dataset, cfg, seed: int):
        self.backend, self.ds, self.cfg, self.seed = backend, ds, cfg, int(seed)
        self.split = data.split(ds, self.rng("split"))
        tr, att, te = self.split.train, self.split.attacker, self.split.test
        n_test = int(getattr(cfg, "n_test", 0) or 0)
        if n_test and n_test < len(te):
            te = np.sort(self.rng("test-subset").choice(te, size=n_test, replace=False))
        self.test_ids = te  # indices into the data set: arms scored on the same ids pair up
        self.x_train, self.y_train = ds.x[tr], ds.y[tr]
        self.x_att, self.y_att = ds.x[att], ds.y[att]
        self.x_test, self.y_test = ds.x[te], ds.y[te]
        self.image = ds.image_shape
        self.n_classes = ds.n_classes
        self._cache: dict[str, Any] = {}

    def rng(self, *names) -> np.random.Generator:
        """The stream named `names` for this seed (same names, same numbers, any order)."""
        return seeding.rng(self.seed, *names)

    def cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """`compute()` once per seed under `name`; later calls return the same object."""
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def __contains__(self, name: str) -> bool:
        return name in self._cache
