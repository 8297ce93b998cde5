"""Named, order-independent random streams.

Every experiment draws from `rng(seed, "name", ...)`, a generator keyed by the seed and a
stable name, so results do not depend on which techniques ran first or were skipped: the
same seed gives the same numbers whether one technique or all eleven are run.
"""

from __future__ import annotations

import zlib

import numpy as np


def rng(seed: int, *names: object) -> np.random.Generator:
    keys = [int(seed)] + [zlib.crc32(str(n).encode("utf-8")) for n in names]
    return np.random.default_rng(keys)
