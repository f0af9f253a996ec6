"""Prometheus metrics of one notifier process (own registry: several apps may share a test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.notifier.domain.breaker import BreakerState

BREAKER_LEVELS = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


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
        self.provider_seconds = Histogram(
            "notifier_provider_request_seconds",
            "How long a request to a provider took, whatever its result",
            ["channel", "provider"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "notifier_provider_breaker_state",
            "The provider's circuit breaker as last seen by a send: 0 closed, 1 half-open (a "
            "probe may go), 2 open (messages go to the next provider)",
            ["channel", "provider"],
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
        self.whatsapp_statuses = Counter(
            "notifier_whatsapp_statuses_total",
            "WhatsApp status webhooks by status (sent, delivered, read, failed): reads are "
            "counted here only, not published as events",
            ["status"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "notifier_ready",
            "1 when tables are recovered and no rebalance is under way",
            registry=self.registry,
        )

    def start_at_zero(
        self, providers: list[tuple[str, str]], dead_letter_sources: list[str]
    ) -> None:
        """Create every series a rule reads with `increase()`, which cannot see a first value.

        `providers`: (channel, provider) of each configured provider."""
        for channel, provider in providers:
            for result in ("accepted", "rejected", "error"):
                self.provider_requests.labels(channel, provider, result)
            self.quiet_overdue.labels(channel).set(0)
            self.breaker_state.labels(channel, provider).set(0)
        for source in dead_letter_sources:
            self.dead_letters.labels(source)

    def request_observer(self, channel: str) -> Callable[[str, str, float], None]:
        """Counts one request to a provider and how long it took."""

        def observe(provider: str, result: str, seconds: float) -> None:
            self.provider_requests.labels(channel, provider, result).inc()
            self.provider_seconds.labels(channel, provider).observe(seconds)

        return observe

    def breaker_observer(self, channel: str, provider: str) -> Callable[[BreakerState], None]:
        gauge = self.breaker_state.labels(channel, provider)

        def changed(state: BreakerState) -> None:
            gauge.set(BREAKER_LEVELS[state])

        return changed
