"""Attacks, one module each, written against `Classifier` and the Backend interface only.

White-box attacks take the networks they may differentiate through; black-box attacks
take a `Classifier` and use only its answers (scores or labels), counting every query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class QueryOutcome:
    """What a query-based attack achieved per input: the final input, whether it fooled
    the target, and how many queries it spent (capped by the budget)."""

    x_adv: np.ndarray
    success: np.ndarray
    queries: np.ndarray

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.success)) if len(self.success) else float("nan")

    @property
    def mean_queries(self) -> float:
        return float(np.mean(self.queries)) if len(self.queries) else float("nan")
