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
        self.ready = Gauge(
            "notifier_ready",
            "1 when tables are recovered and no rebalance is under way",
            registry=self.registry,
        )
