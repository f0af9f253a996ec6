"""Each metric rule on its own: pure functions from one event to counter increments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas.events import EventData
from services.reporting.domain.metrics import (
    AMOUNTS,
    CAMPAIGNS,
    ENROLMENTS,
    FAILURES,
    LAPSES,
    MESSAGES,
    OPT_OUTS,
    PAYERS,
    PAYMENTS,
    SENT_BY_PROVIDER,
    SUPPRESSIONS,
    Increment,
    decode_key,
    encode_key,
)
from services.reporting.domain.rules import increments_for, local_day
from tests.reporting import factory as f

# 16:30 UTC on 15 Dec is 23:30 WIB (15th), 00:30 WITA and 01:30 WIT (16th)
LATE_EVENING_UTC = datetime(2023, 12, 15, 16, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day"),
    [(f.WIB, "2023-12-15"), (f.WITA, "2023-12-16"), (f.WIT, "2023-12-16")],
)
def test_day_is_the_branch_local_day_across_midnight(zone: str, day: str) -> None:
    assert local_day(LATE_EVENING_UTC, zone) == day


def test_local_day_ignores_the_offset_the_timestamp_was_written_with() -> None:
    written_in_wit = LATE_EVENING_UTC.astimezone(timezone(timedelta(hours=9)))
    assert local_day(written_in_wit, f.WIB) == "2023-12-15"


def test_registration_counts_on_its_own_local_day_with_all_dimensions() -> None:
    data = f.registered(
        "P1",
        LATE_EVENING_UTC,
        branch="MKS",
        tz=f.WITA,
        segment="ojek",
        source="import",
        officer="OFF-9",
    )
    assert increments_for(data) == [
        Increment(ENROLMENTS, ("KLEWER23", "MKS", "ojek", "import", "OFF-9", "2023-12-16"))
    ]


def test_registration_without_campaign_or_officer_uses_the_none_marker() -> None:
    data = f.registered("P1", LATE_EVENING_UTC, campaign=None, officer=None, source="web")
    assert increments_for(data) == [
        Increment(ENROLMENTS, ("-", "SKA", "pedagang", "web", "-", "2023-12-15"))
    ]


def test_a_late_event_counts_on_the_day_it_happened_not_when_processed() -> None:
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    (inc,) = increments_for(f.registered("P1", three_days_ago))
    assert inc.dims[-1] == local_day(three_days_ago, f.WIB)
    assert inc.dims[-1] != local_day(datetime.now(UTC), f.WIB)


@pytest.mark.parametrize(
    ("build", "status"),
    [(f.delivered, "delivered"), (f.deferred, "deferred")],  # sent: below
)
def test_each_notification_status_counts_by_kind_channel_and_day(build, status) -> None:  # type: ignore[no-untyped-def]
    data = build("P1", LATE_EVENING_UTC, kind="contribution_due_d7", channel="email", tz=f.WIT)
    assert increments_for(data) == [
        Increment(
            MESSAGES, ("KLEWER23", "SKA", "contribution_due_d7", "email", status, "2023-12-16")
        )
    ]


def test_a_sent_message_also_counts_the_provider_that_took_it() -> None:
    data = f.sent(
        "P1", LATE_EVENING_UTC, kind="contribution_due_d7", channel="sms", tz=f.WIT, provider="gw|2"
    )
    assert increments_for(data) == [
        Increment(
            MESSAGES, ("KLEWER23", "SKA", "contribution_due_d7", "sms", "sent", "2023-12-16")
        ),
        Increment(SENT_BY_PROVIDER, ("KLEWER23", "SKA", "sms", "gw/2", "2023-12-16")),
    ]


def test_a_failure_also_counts_its_reason() -> None:
    data = f.failed("P1", LATE_EVENING_UTC, "nomor | tidak aktif")
    assert increments_for(data) == [
        Increment(MESSAGES, ("KLEWER23", "SKA", "welcome", "sms", "failed", "2023-12-15")),
        # the key separator never reaches a stored key
        Increment(FAILURES, ("KLEWER23", "SKA", "sms", "nomor / tidak aktif", "2023-12-15")),
    ]


def test_a_suppressed_message_counts_by_reason_and_is_no_message_status() -> None:
    data = f.suppressed("P1", LATE_EVENING_UTC, channel="email", tz=f.WIT)
    assert increments_for(data) == [
        Increment(
            SUPPRESSIONS,
            (
                "KLEWER23",
                "SKA",
                "campaign_announcement",
                "email",
                "frequency_cap",
                "2023-12-16",
            ),
        )
    ]


def test_payment_adds_count_and_amount_and_a_payer_only_when_first() -> None:
    data = f.paid("P1", LATE_EVENING_UTC, amount=16_800, period="2023-12", tz=f.WITA)
    dims = ("KLEWER23", "SKA", "2023-12", "2023-12-16")
    assert increments_for(data, first_payment=False) == [
        Increment(PAYMENTS, dims),
        Increment(AMOUNTS, dims, 16_800),
    ]
    assert increments_for(data, first_payment=True)[-1] == Increment(
        PAYERS, ("KLEWER23", "SKA", "2023-12-16")
    )


@pytest.mark.parametrize(
    ("event", "increments"),
    [
        # a partial payment: a payment of its period, its rupiah collected, never a payer
        (
            f.partially_paid("P1", LATE_EVENING_UTC, amount=10_000, cost=16_800),
            [(PAYMENTS, 1), (AMOUNTS, 10_000)],
        ),
        # the rest of it (v3): a payment adding what it brought, not the period's cost
        (
            f.paid_v3("P1", LATE_EVENING_UTC, amount=6_800, cost=16_800, period="2023-12"),
            [(PAYMENTS, 1), (AMOUNTS, 6_800)],
        ),
    ],
    ids=["partially_paid", "paid-v3"],
)
def test_partial_payments_count_and_add_what_was_received(
    event: EventData, increments: list[tuple[str, int]]
) -> None:
    dims = ("KLEWER23", "SKA", "2023-12", "2023-12-15")
    # first_payment is what processing decides; a partial payment never asks for a payer
    got = increments_for(event, first_payment=False)
    assert got == [Increment(family, dims, amount) for family, amount in increments]


def test_opt_out_counts_once_per_channel() -> None:
    data = f.opted_out("P1", LATE_EVENING_UTC, ["sms", "email", "sms"])
    assert increments_for(data) == [
        Increment(OPT_OUTS, ("KLEWER23", "SKA", "sms", "2023-12-15")),
        Increment(OPT_OUTS, ("KLEWER23", "SKA", "email", "2023-12-15")),
    ]


@pytest.mark.parametrize(
    ("build", "change"),
    [
        (lambda at, tz, campaign: f.lapsed("P1", at, tz=tz, campaign=campaign), "lapsed"),
        (
            lambda at, tz, campaign: f.reactivated(
                "P1", at, lapsed_at=at - timedelta(days=30), tz=tz, campaign=campaign
            ),
            "reactivated",
        ),
    ],
)
@pytest.mark.parametrize(
    ("tz", "campaign", "dims"),
    [
        (f.WIB, "KLEWER23", ("KLEWER23", "SKA", "2023-12-15")),  # 23:30 WIB
        (f.WITA, "KLEWER23", ("KLEWER23", "SKA", "2023-12-16")),  # 00:30 WITA, next day
        (f.WIB, None, ("-", "SKA", "2023-12-15")),
    ],
)
def test_a_lapse_and_a_reactivation_count_on_their_local_day(  # type: ignore[no-untyped-def]
    build, change: str, tz: str, campaign: str | None, dims: tuple[str, str, str]
) -> None:
    campaign_code, branch, day = dims
    assert increments_for(build(LATE_EVENING_UTC, tz, campaign)) == [
        Increment(LAPSES, (campaign_code, branch, change, day))
    ]


def test_campaign_created_records_its_name() -> None:
    data = f.campaign("KLEWER23", "Pasar Klewer | Solo", LATE_EVENING_UTC)
    assert increments_for(data) == [Increment(CAMPAIGNS, ("KLEWER23", "Pasar Klewer / Solo"))]


def test_keys_round_trip_and_foreign_keys_are_ignored() -> None:
    dims = ("KLEWER23", "SKA", "pedagang", "field", "OFF-1", "2023-12-15")
    assert decode_key(encode_key(4, ENROLMENTS, dims)) == (4, ENROLMENTS, dims)
    assert decode_key("4|s|000000000001") is None
    assert decode_key("4|~sync") is None
    assert decode_key("4|enr|too|few") is None
