"""Builders of valid events for the reporting tests (through the shared envelope codec)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from schemas.envelope import CloudEvent, encode_event, new_event
from schemas.events import (
    CampaignCreatedV1,
    ContributionPaidV1,
    ContributionPaidV3,
    ContributionPartiallyPaidV1,
    EventData,
    NotificationDeferredV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationSentV1,
    NotificationSuppressedV1,
    ParticipantLapsedV1,
    ParticipantOptedOutV1,
    ParticipantReactivatedV1,
    ParticipantRegisteredV2,
)

WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"


def envelope(data: EventData, subject: str, event_id: uuid.UUID | None = None) -> CloudEvent[Any]:
    return new_event(data, source="/tests/reporting", subject=subject, event_id=event_id)


def raw(event: CloudEvent[Any]) -> bytes:
    return encode_event(event)


def registered(
    pid: str,
    at: datetime,
    *,
    campaign: str | None = "KLEWER23",
    branch: str = "SKA",
    tz: str = WIB,
    segment: str = "pedagang",
    source: str = "field",
    officer: str | None = "OFF-1",
) -> ParticipantRegisteredV2:
    return ParticipantRegisteredV2(
        participant_id=pid,
        full_name="Sri Rahayu",
        nik_hash="ab" * 32,
        nik_masked="3372**********01",
        birth_date=date(1979, 5, 17),
        sex="F",
        phone_e164="+6281234567890",
        segment=segment,
        branch_code=branch,
        branch_timezone=tz,
        campaign_code=campaign,
        officer_id=officer,
        programmes=["JKK", "JKM"],
        declared_income=1_000_000,
        monthly_contribution=16_800,
        preferred_channel="sms",
        consent_reminders=True,
        source=source,
        registered_at=at,
    )


def _facts(
    pid: str, kind: str, channel: str, branch: str, tz: str, campaign: str | None
) -> dict[str, Any]:
    return {
        "notification_key": f"{pid}:{kind}:{channel}",
        "participant_id": pid,
        "kind": kind,
        "channel": channel,
        "branch_code": branch,
        "branch_timezone": tz,
        "campaign_code": campaign,
    }


def sent(
    pid: str,
    at: datetime,
    *,
    kind: str = "welcome",
    channel: str = "sms",
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
    provider: str = "test",
) -> NotificationSentV1:
    return NotificationSentV1(
        **_facts(pid, kind, channel, branch, tz, campaign), provider=provider, sent_at=at
    )


def delivered(
    pid: str,
    at: datetime,
    *,
    kind: str = "welcome",
    channel: str = "sms",
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
) -> NotificationDeliveredV1:
    return NotificationDeliveredV1(
        **_facts(pid, kind, channel, branch, tz, campaign), delivered_at=at
    )


def failed(
    pid: str,
    at: datetime,
    reason: str,
    *,
    kind: str = "welcome",
    channel: str = "sms",
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
) -> NotificationFailedV1:
    return NotificationFailedV1(
        **_facts(pid, kind, channel, branch, tz, campaign),
        reason=reason,
        permanent=True,
        failed_at=at,
    )


def deferred(
    pid: str,
    at: datetime,
    *,
    kind: str = "welcome",
    channel: str = "sms",
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
) -> NotificationDeferredV1:
    return NotificationDeferredV1(
        **_facts(pid, kind, channel, branch, tz, campaign), deliver_after=at, deferred_at=at
    )


def suppressed(
    pid: str,
    at: datetime,
    reason: str = "frequency_cap",
    *,
    kind: str = "campaign_announcement",
    channel: str = "sms",
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
) -> NotificationSuppressedV1:
    return NotificationSuppressedV1(
        **_facts(pid, kind, channel, branch, tz, campaign), reason=reason, suppressed_at=at
    )


def paid(
    pid: str,
    at: datetime,
    *,
    amount: int = 16_800,
    period: str = "2023-12",
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
) -> ContributionPaidV1:
    return ContributionPaidV1(
        participant_id=pid,
        payment_id=f"pay-{uuid.uuid4().hex[:8]}",
        period=period,
        amount=amount,
        paid_at=at,
        branch_code=branch,
        branch_timezone=tz,
        campaign_code=campaign,
    )


def paid_v3(pid: str, at: datetime, *, amount: int, cost: int, period: str) -> ContributionPaidV3:
    """The rest of `period`'s cost (`amount` of `cost`), as enrollment now publishes it."""
    return ContributionPaidV3(
        **paid(pid, at, amount=amount, period=period).model_dump(),
        cost=cost,
        payment_amount=amount,
        payment_periods=[period],
    )


def partially_paid(
    pid: str, at: datetime, *, amount: int, cost: int, period: str = "2023-12"
) -> ContributionPartiallyPaidV1:
    return ContributionPartiallyPaidV1(
        participant_id=pid,
        payment_id=f"pay-{uuid.uuid4().hex[:8]}",
        period=period,
        amount=amount,
        paid_total=amount,
        cost=cost,
        owed=cost - amount,
        paid_at=at,
        branch_code="SKA",
        branch_timezone=WIB,
        campaign_code="KLEWER23",
    )


def opted_out(
    pid: str,
    at: datetime,
    channels: list[str],
    *,
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
) -> ParticipantOptedOutV1:
    return ParticipantOptedOutV1(
        participant_id=pid,
        branch_code=branch,
        branch_timezone=tz,
        campaign_code=campaign,
        channels=channels,
        opted_out_at=at,
    )


def campaign(code: str, name: str, at: datetime) -> CampaignCreatedV1:
    return CampaignCreatedV1(campaign_code=code, name=name, starts_on=at.date(), created_at=at)


def lapsed(
    pid: str,
    at: datetime,
    *,
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
) -> ParticipantLapsedV1:
    return ParticipantLapsedV1(
        participant_id=pid,
        branch_code=branch,
        branch_timezone=tz,
        campaign_code=campaign,
        unpaid_periods=["2024-01", "2024-02", "2024-03"],
        amount_owed=50_400,
        lapsed_at=at,
    )


def reactivated(
    pid: str,
    at: datetime,
    *,
    lapsed_at: datetime,
    branch: str = "SKA",
    tz: str = WIB,
    campaign: str | None = "KLEWER23",
) -> ParticipantReactivatedV1:
    return ParticipantReactivatedV1(
        participant_id=pid,
        branch_code=branch,
        branch_timezone=tz,
        campaign_code=campaign,
        period="2024-04",
        lapsed_at=lapsed_at,
        reactivated_at=at,
    )
