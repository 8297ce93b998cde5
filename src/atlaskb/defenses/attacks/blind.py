"""Attacks that need no access to the system under test (knowledge "none"): a transfer
attack crafted on the attacker's own surrogate (AML.T0043.002), hand edits
(AML.T0043.003), and a backdoor trigger stamped on inputs (AML.T0043.004, and the
supply-chain techniques). They send one input each: one query, spent when it is used.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.attacks import Attack


class Transfer(Attack):
    """Run `inner` (a white-box attack) against `surrogate`, the attacker's own system,
    under the same budget but white-box knowledge of the surrogate; send the result."""

    knowledge = ("none", "labels", "scores", "white-box")
    name = "transfer"

    def __init__(self, surrogate, inner):
        self.surrogate, self.inner = surrogate, inner

    def params(self):
        return {"inner": self.inner.name, **self.inner.params()}

    def run(self, access, x, y, tm, rng, criterion):
        out = self.inner(self.surrogate, x, y, tm.with_(knowledge="white-box", queries=0), rng, criterion)
        return out.x_adv, np.ones(len(x), np.int64)


class Edit(Attack):
    """A fixed change to each input, `edit(x, rng) -> x'` (a hand edit, a trigger)."""

    knowledge = ("none", "labels", "scores", "white-box")

    def __init__(self, edit, name: str):
        self.edit, self.name = edit, name

    def params(self):
        return {"edit": self.name}

    def run(self, access, x, y, tm, rng, criterion):
        return np.clip(self.edit(x, rng), 0.0, 1.0).astype(x.dtype), np.ones(len(x), np.int64)
