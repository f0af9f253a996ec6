"""The worker's own metrics that the alert rules read (deploy/prometheus/alerts.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.reporting.processing import Record, handle_batch
from services.reporting.state import TableState
from services.reporting.telemetry import Telemetry
from tests.reporting import factory as f

AT = datetime(2023, 12, 16, 3, 0, tzinfo=UTC)
TOPIC = "bebas.notifications"


def samples(telemetry: Telemetry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = generate_latest(telemetry.registry).decode()
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def _fed(events: list[Any], count: Callable[[Telemetry, Any], None]) -> Telemetry:
    """Telemetry after two batches of `events` (the second repeating the first event), each
    batch's counters given to `count`, as the worker does."""
    records = [
        Record(TOPIC, 0, offset, b"P", f.raw(f.envelope(data, f"P{offset}")))
        for offset, data in enumerate(events)
    ]
    duplicate = Record(TOPIC, 0, 9, b"P", records[0].value)
    telemetry = Telemetry()
    state = TableState({}, capacity=100)
    for batch in ([*records[:2]], [*records[2:], duplicate]):
        outcome = handle_batch(batch, state)
        state.write(outcome)
        count(telemetry, outcome.counters.values())
    return telemetry


def campaign(name: str, channel: str, status: str) -> tuple[tuple[str, str], ...]:
    return (("campaign", name), ("channel", channel), ("status", status))


def test_campaign_messages_count_each_outcome_once_and_start_every_status_at_zero() -> None:
    events = [
        f.sent("P1", AT),
        f.sent("P2", AT),
        f.delivered("P1", AT),
        f.sent("P3", AT, channel="email", campaign=None),
    ]
    telemetry = _fed(events, Telemetry.messages)

    assert samples(telemetry, "reporting_campaign_messages_total") == {
        campaign("KLEWER23", "sms", "sent"): 2.0,
        campaign("KLEWER23", "sms", "delivered"): 1.0,
        campaign("KLEWER23", "sms", "failed"): 0.0,
        campaign("KLEWER23", "sms", "deferred"): 0.0,
        # no campaign: "-", as in the figures
        campaign("-", "email", "sent"): 1.0,
        campaign("-", "email", "delivered"): 0.0,
        campaign("-", "email", "failed"): 0.0,
        campaign("-", "email", "deferred"): 0.0,
    }


def test_messages_sent_count_once_per_channel_and_provider() -> None:
    events = [
        f.sent("P1", AT, provider="gw-1"),
        f.sent("P2", AT, provider="gw-2"),
        f.delivered("P1", AT),
        f.sent("P3", AT, provider="gw-2"),
        f.sent("P4", AT, channel="email", provider="smtp"),
    ]
    telemetry = _fed(events, Telemetry.providers)

    assert samples(telemetry, "reporting_messages_sent_by_provider_total") == {
        (("channel", "sms"), ("provider", "gw-1")): 1.0,  # its redelivery counted once
        (("channel", "sms"), ("provider", "gw-2")): 2.0,
        (("channel", "email"), ("provider", "smtp")): 1.0,
    }


def test_campaign_lapses_count_once_and_start_both_changes_at_zero() -> None:
    lapse_at = datetime(2024, 4, 8, 2, 0, tzinfo=UTC)
    events = [
        f.lapsed("P1", lapse_at),
        f.lapsed("P2", lapse_at),
        f.reactivated("P1", lapse_at.replace(day=20), lapsed_at=lapse_at),
        f.lapsed("P3", lapse_at, campaign="PASAR24"),
        f.sent("P1", AT),  # other families are not lapses
    ]
    telemetry = _fed(events, Telemetry.lapses)

    assert samples(telemetry, "reporting_campaign_lapses_total") == {
        (("campaign", "KLEWER23"), ("change", "lapsed")): 2.0,
        (("campaign", "KLEWER23"), ("change", "reactivated")): 1.0,
        (("campaign", "PASAR24"), ("change", "lapsed")): 1.0,
        (("campaign", "PASAR24"), ("change", "reactivated")): 0.0,
    }


def test_messages_dropped_by_the_frequency_cap_count_once_per_campaign_and_reason() -> None:
    events = [
        f.suppressed("P1", AT),  # repeated in the second batch: a duplicate, counted once
        f.suppressed("P2", AT, channel="email"),
        f.suppressed("P3", AT, campaign="PASAR24"),
        f.sent("P1", AT),  # other families are not suppressions
    ]
    telemetry = _fed(events, Telemetry.suppressed)

    def labels(name: str, channel: str) -> tuple[tuple[str, str], ...]:
        return (("campaign", name), ("channel", channel), ("reason", "frequency_cap"))

    assert samples(telemetry, "reporting_campaign_suppressed_total") == {
        labels("KLEWER23", "sms"): 1.0,
        labels("KLEWER23", "email"): 1.0,
        labels("PASAR24", "sms"): 1.0,
    }


def test_a_source_topic_is_on_metrics_at_zero_before_its_first_batch() -> None:
    telemetry = Telemetry()
    telemetry.source(TOPIC)
    for name in ("reporting_dead_letters_total", "reporting_events_processed_total"):
        assert samples(telemetry, name) == {(("topic", TOPIC),): 0.0}
    telemetry.record(TOPIC, processed=3, counted=1, duplicates=0, dead=2, errors=0)
    assert samples(telemetry, "reporting_dead_letters_total") == {(("topic", TOPIC),): 2.0}


def test_ready_gauge_follows_the_worker() -> None:
    telemetry = Telemetry()
    ready = [False]
    telemetry.watch_readiness(lambda: ready[0])
    assert samples(telemetry, "reporting_ready") == {(): 0.0}
    ready[0] = True
    assert samples(telemetry, "reporting_ready") == {(): 1.0}
