"""The limits the issues set (6, then 12 and 13 where they are stricter), in one place:
`make bench` checks every figure against them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    key: str
    at_least: float | None = None
    at_most: float | None = None

    def met(self, value: float) -> bool:
        if self.at_least is not None and value < self.at_least:
            return False
        return not (self.at_most is not None and value > self.at_most)

    def describe(self) -> str:
        return f"≥ {self.at_least:g}" if self.at_least is not None else f"≤ {self.at_most:g}"


TARGETS = (
    Target("enrollment.ratio", at_least=0.4),
    Target("enrollment.csv_rows_per_s", at_least=10_000),
    Target("reporting.ratio_vs_noop_faust", at_least=0.7),
    Target("reporting.two_worker_speedup", at_least=1.6),
    Target("notifier.ratio", at_least=0.5),
    Target("notifier.ingest_per_s", at_least=3_000),
    Target("notifier.two_worker_speedup", at_least=1.6),
    Target("e2e.p50_ms", at_most=150),
    Target("e2e.p99_ms", at_most=600),
    Target("platform.restart_s", at_most=60),
    Target("notifier.failover_switch_ms", at_most=5_000),
    Target("memory.enrollment_rss_mb", at_most=300),
    Target("memory.notifier_rss_mb", at_most=300),
    Target("memory.reporting_rss_mb", at_most=300),
    Target("memory.notifier_1m_participants_rss_mb", at_most=300),
)
