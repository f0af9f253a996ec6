"""Prometheus metrics of one notifier process (own registry: several apps may share a test)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.events = Counter(
            "notifier_input_events_total",
            "Input events handled, by type",
            ["type"],
            registry=self.registry,
        )
        self.messages = Counter(
            "notifier_messages_total",
            "Dispatch outcomes (sent, retry, failed, dead, deferred, suppressed) per channel",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "notifier_dead_letters_total",
            "Records written to the dead-letter topic",
            ["source"],
            registry=self.registry,
        )
        self.provider_requests = Counter(
            "notifier_provider_requests_total",
            "Requests to a provider, each attempt: accepted, rejected (for a reason of the "
            "message: permanent) or error (the provider failed: transient)",
            ["channel", "provider", "result"],
            registry=self.registry,
        )
        self.quiet_overdue = Gauge(
            "notifier_quiet_hours_overdue_seconds",
            "Seconds since the sending window opened for the oldest message deferred by quiet "
            "hours that is still queued (0: none is past its window)",
            ["channel"],
            registry=self.registry,
        )
        self.in_hand = Gauge(
            "notifier_in_hand",
            "Messages and wake-ups handed to providers whose outcome the stream has not applied",
            registry=self.registry,
        )
        self.partitions = Gauge(
            "notifier_partitions_dispatching",
            "Partitions this worker owns and dispatches",
            registry=self.registry,
        )
        self.refused = Counter(
            "notifier_http_refused_total",
            "Requests refused with 401: callbacks not signed by the provider, participant "
            "views without an admin key (a rising count on a callback route after a secret "
            "rotation means the provider and the notifier disagree on the secret)",
            ["route"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "notifier_ready",
            "1 when tables are recovered and no rebalance is under way",
            registry=self.registry,
        )

    def start_at_zero(self, providers: dict[str, str], dead_letter_sources: list[str]) -> None:
        """Create every series a rule reads with `increase()`, which cannot see a first value.

        `providers`: channel -> provider of each configured adapter."""
        for channel, provider in providers.items():
            for result in ("accepted", "rejected", "error"):
                self.provider_requests.labels(channel, provider, result)
            self.quiet_overdue.labels(channel).set(0)
        for source in dead_letter_sources:
            self.dead_letters.labels(source)
