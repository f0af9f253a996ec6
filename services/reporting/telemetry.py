"""Prometheus metrics of the worker and the numbers behind the stream-health panel."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter


@dataclass
class Telemetry:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    window_s: float = 10.0

    def __post_init__(self) -> None:
        labels = ["topic"]
        self.processed = Counter(
            "reporting_events_processed",
            "Records read from a source topic (counted, duplicate or dead-lettered)",
            labels,
            registry=self.registry,
        )
        self.counted = Counter(
            "reporting_events_counted",
            "Events that changed the figures",
            labels,
            registry=self.registry,
        )
        self.duplicates = Counter(
            "reporting_duplicates",
            "Redelivered events skipped by id",
            labels,
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "reporting_dead_letters",
            "Records written to the dead-letter topic (undecodable or invalid)",
            labels,
            registry=self.registry,
        )
        self.errors = Counter(
            "reporting_processing_errors",
            "Records whose processing raised (also dead-lettered)",
            labels,
            registry=self.registry,
        )
        self._totals: dict[str, dict[str, int]] = {}
        #: Wall-clock time of the first and the latest processed batch (for throughput).
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._samples: deque[tuple[float, int]] = deque()

    def record(
        self, topic: str, processed: int, counted: int, duplicates: int, dead: int, errors: int
    ) -> None:
        now = time.time()
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        self.processed.labels(topic).inc(processed)
        self.counted.labels(topic).inc(counted)
        self.duplicates.labels(topic).inc(duplicates)
        self.dead_letters.labels(topic).inc(dead)
        self.errors.labels(topic).inc(errors)
        totals = self._totals.setdefault(
            topic,
            dict.fromkeys(("processed", "counted", "duplicates", "dead_letters", "errors"), 0),
        )
        totals["processed"] += processed
        totals["counted"] += counted
        totals["duplicates"] += duplicates
        totals["dead_letters"] += dead
        totals["errors"] += errors

    def totals(self) -> dict[str, dict[str, int]]:
        return {topic: dict(values) for topic, values in self._totals.items()}

    def events_per_second(self, now: float | None = None) -> float:
        """Records processed per second over the last `window_s` seconds."""
        now = time.monotonic() if now is None else now
        total = sum(t["processed"] for t in self._totals.values())
        self._samples.append((now, total))
        while len(self._samples) > 1 and now - self._samples[0][0] > self.window_s:
            self._samples.popleft()
        first_t, first_total = self._samples[0]
        elapsed = now - first_t
        return round((total - first_total) / elapsed, 1) if elapsed > 0 else 0.0
