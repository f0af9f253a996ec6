"""Warm-up, repetitions, medians: one noisy run on two shared cores proves nothing."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    median: float
    runs: list[float]

    def as_dict(self) -> dict[str, object]:
        return {"median": round(self.median, 2), "runs": [round(r, 2) for r in self.runs]}


def repeat(measure: Callable[[], float], *, warmup: int = 1, repetitions: int = 3) -> Sample:
    for _ in range(warmup):
        measure()
    runs = [measure() for _ in range(repetitions)]
    return Sample(statistics.median(runs), runs)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
