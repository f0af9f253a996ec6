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
        self.outbox = Gauge(
            "notifier_outbox_size",
            "Messages waiting in the outbox, per channel",
            ["channel"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "notifier_ready",
            "1 when tables are recovered and the worker is assigned",
            registry=self.registry,
        )
