"""Prometheus metrics of the worker and the numbers behind the stream-health panel."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.reporting.domain.figures import STATUSES
from services.reporting.domain.metrics import (
    LAPSE_CHANGES,
    LAPSES,
    MESSAGES,
    SENT_BY_PROVIDER,
    SUPPRESSIONS,
    decode_key,
)


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
        self.campaign_messages = Counter(
            "reporting_campaign_messages",
            "Notification outcomes counted by this worker, per campaign, channel and status",
            ["campaign", "channel", "status"],
            registry=self.registry,
        )
        self.campaign_lapses = Counter(
            "reporting_campaign_lapses",
            "Participants' lapses (monthly reminders stopped after unpaid periods) and "
            "reactivations counted by this worker, per campaign",
            ["campaign", "change"],
            registry=self.registry,
        )
        self.campaign_suppressed = Counter(
            "reporting_campaign_suppressed",
            "Messages the notifier decided not to send, for good, counted by this worker, per "
            "campaign, channel and reason (frequency_cap: over the per-person cap)",
            ["campaign", "channel", "reason"],
            registry=self.registry,
        )
        self.provider_sent = Counter(
            "reporting_messages_sent_by_provider",
            "Messages sent counted by this worker, per channel and the provider that took them",
            ["channel", "provider"],
            registry=self.registry,
        )
        self._campaign_channels: set[tuple[str, str]] = set()
        self._lapse_campaigns: set[str] = set()
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

    def source(self, topic: str) -> None:
        """Start a source topic's series at 0: `increase()` misses a series' first value, so
        a first batch that is all dead letters would otherwise never alert."""
        for counter in (
            self.processed,
            self.counted,
            self.duplicates,
            self.dead_letters,
            self.errors,
        ):
            counter.labels(topic)

    def messages(self, counters: Iterable[Tally[str]]) -> None:
        """Per-campaign message outcomes from one batch's counter deltas (for the delivery
        rate alert: a campaign's figures as a rate over time, which the tables do not give)."""
        for dims, amount in _deltas(counters, MESSAGES):
            campaign, _branch, _kind, channel, status, _day = dims
            if (campaign, channel) not in self._campaign_channels:
                # every status starts at 0, so "delivered" exists (and the rate is 0, not
                # absent) while no receipt has come
                self._campaign_channels.add((campaign, channel))
                for other in STATUSES:
                    self.campaign_messages.labels(campaign, channel, other)
            self.campaign_messages.labels(campaign, channel, status).inc(amount)

    def suppressed(self, counters: Iterable[Tally[str]]) -> None:
        """Per-campaign messages not sent for good, by reason, from one batch's deltas."""
        for dims, amount in _deltas(counters, SUPPRESSIONS):
            campaign, _branch, _kind, channel, reason, _day = dims
            self.campaign_suppressed.labels(campaign, channel, reason).inc(amount)

    def providers(self, counters: Iterable[Tally[str]]) -> None:
        """Messages sent per channel and provider from one batch's counter deltas."""
        for dims, amount in _deltas(counters, SENT_BY_PROVIDER):
            _campaign, _branch, channel, provider, _day = dims
            self.provider_sent.labels(channel, provider).inc(amount)

    def lapses(self, counters: Iterable[Tally[str]]) -> None:
        """Per-campaign lapses and reactivations from one batch's counter deltas."""
        for dims, amount in _deltas(counters, LAPSES):
            campaign, _branch, change, _day = dims
            if campaign not in self._lapse_campaigns:
                # both changes start at 0, so "reactivated" exists as soon as a lapse does
                self._lapse_campaigns.add(campaign)
                for other in LAPSE_CHANGES:
                    self.campaign_lapses.labels(campaign, other)
            self.campaign_lapses.labels(campaign, change).inc(amount)

    def watch_readiness(self, ready: Callable[[], bool]) -> None:
        gauge = Gauge(
            "reporting_ready",
            "1 when the worker's tables are recovered and it is assigned, 0 otherwise",
            registry=self.registry,
        )
        gauge.set_function(lambda: 1.0 if ready() else 0.0)

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


def _deltas(counters: Iterable[Tally[str]], family: str) -> Iterator[tuple[tuple[str, ...], int]]:
    """(dims, amount) of every counter delta of one family in a batch's deltas."""
    for deltas in counters:
        for key, amount in deltas.items():
            decoded = decode_key(key)
            if decoded is not None and decoded[1] == family:
                yield decoded[2], amount
