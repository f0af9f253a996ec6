"""Metric rules: one event in, the counter increments it causes out.

Days are *event time* in the branch's own time zone (WIB/WITA/WIT): a late event counts on the
day it happened, and 23:30 WIB on the 1st is 00:30 WITA on the 2nd.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.events import (
    CampaignCreatedV1,
    ContributionPaidV1,
    ContributionPartiallyPaidV1,
    EventData,
    NotificationDeferredV1,
    NotificationDeliveredV1,
    NotificationFacts,
    NotificationFailedV1,
    NotificationSentV1,
    NotificationSuppressedV1,
    ParticipantLapsedV1,
    ParticipantOptedOutV1,
    ParticipantReactivatedV1,
    ParticipantRegisteredV1,
)
from services.reporting.domain.metrics import (
    AMOUNTS,
    CAMPAIGNS,
    ENROLMENTS,
    FAILURES,
    LAPSES,
    MESSAGES,
    NONE,
    OPT_OUTS,
    PAYERS,
    PAYMENTS,
    SENT_BY_PROVIDER,
    SUPPRESSIONS,
    Increment,
    clean,
)

#: Indonesia keeps no daylight saving time, so fixed offsets are exact and cheaper than tzdata.
_FIXED = {
    "Asia/Jakarta": timezone(timedelta(hours=7), "WIB"),
    "Asia/Makassar": timezone(timedelta(hours=8), "WITA"),
    "Asia/Jayapura": timezone(timedelta(hours=9), "WIT"),
}


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    return _FIXED.get(name) or ZoneInfo(name)


def local_day(at: datetime, zone: str) -> str:
    """The ISO date of `at` on the branch's wall clock."""
    return at.astimezone(_zone(zone)).date().isoformat()


def _campaign(code: str | None) -> str:
    return code or NONE


def registered(data: ParticipantRegisteredV1) -> list[Increment]:
    day = local_day(data.registered_at, data.branch_timezone)
    dims = (
        _campaign(data.campaign_code),
        data.branch_code,
        data.segment,
        data.source.value,
        clean(data.officer_id),
        day,
    )
    return [Increment(ENROLMENTS, dims)]


def notification(status: str, data: NotificationFacts, at: datetime) -> list[Increment]:
    day = local_day(at, data.branch_timezone)
    campaign = _campaign(data.campaign_code)
    dims = (campaign, data.branch_code, data.kind.value, data.channel.value, status, day)
    increments = [Increment(MESSAGES, dims)]
    if isinstance(data, NotificationFailedV1):
        reason = (campaign, data.branch_code, data.channel.value, clean(data.reason), day)
        increments.append(Increment(FAILURES, reason))
    if isinstance(data, NotificationSentV1):
        sender = (campaign, data.branch_code, data.channel.value, clean(data.provider, 40), day)
        increments.append(Increment(SENT_BY_PROVIDER, sender))
    return increments


def suppressed(data: NotificationSuppressedV1) -> list[Increment]:
    """A message not sent, for good: not one of the message outcomes (it never reached a
    provider), counted by reason on its own."""
    day = local_day(data.suppressed_at, data.branch_timezone)
    dims = (
        _campaign(data.campaign_code),
        data.branch_code,
        data.kind.value,
        data.channel.value,
        clean(data.reason),
        day,
    )
    return [Increment(SUPPRESSIONS, dims)]


def paid(
    data: ContributionPaidV1 | ContributionPartiallyPaidV1, first_payment: bool
) -> list[Increment]:
    """A payment counts and adds its amount; the participant's first one also makes a payer.

    Every event is money one payment brought to one period: `contribution.paid` (the period
    is now paid in full) or `contribution.partially_paid` (it still owes some). Both count
    as a payment of the period and add the rupiah received, so `amount` is what was
    collected and a period paid in two parts shows two payments. Only a period paid in full
    makes a payer (the caller decides `first_payment` on contribution.paid alone), so the
    conversion rate counts people whose cover started, not people who paid something.
    """
    day = local_day(data.paid_at, data.branch_timezone)
    campaign = _campaign(data.campaign_code)
    dims = (campaign, data.branch_code, data.period, day)
    increments = [Increment(PAYMENTS, dims), Increment(AMOUNTS, dims, data.amount)]
    if first_payment:
        increments.append(Increment(PAYERS, (campaign, data.branch_code, day)))
    return increments


def opted_out(data: ParticipantOptedOutV1) -> list[Increment]:
    day = local_day(data.opted_out_at, data.branch_timezone)
    campaign = _campaign(data.campaign_code)
    return [
        Increment(OPT_OUTS, (campaign, data.branch_code, channel.value, day))
        for channel in dict.fromkeys(data.channels)  # a channel listed twice is one opt-out
    ]


def lapse_change(data: ParticipantLapsedV1 | ParticipantReactivatedV1) -> list[Increment]:
    """A lapse counts on the day reminders stopped, a reactivation on the day of the payment
    that ended it (the notifier's observation; see services/notifier/README.md)."""
    if isinstance(data, ParticipantLapsedV1):
        change, at = "lapsed", data.lapsed_at
    else:
        change, at = "reactivated", data.reactivated_at
    day = local_day(at, data.branch_timezone)
    return [Increment(LAPSES, (_campaign(data.campaign_code), data.branch_code, change, day))]


def campaign_created(data: CampaignCreatedV1) -> list[Increment]:
    return [Increment(CAMPAIGNS, (data.campaign_code, clean(data.name, 200)))]


def increments_for(data: EventData, first_payment: bool = False) -> list[Increment]:
    """Every rule in one place; events that no figure depends on give no increments."""
    if isinstance(data, ParticipantRegisteredV1):
        return registered(data)
    if isinstance(data, NotificationSentV1):
        return notification("sent", data, data.sent_at)
    if isinstance(data, NotificationDeliveredV1):
        return notification("delivered", data, data.delivered_at)
    if isinstance(data, NotificationFailedV1):
        return notification("failed", data, data.failed_at)
    if isinstance(data, NotificationDeferredV1):
        return notification("deferred", data, data.deferred_at)
    if isinstance(data, NotificationSuppressedV1):
        return suppressed(data)
    if isinstance(data, ContributionPaidV1):
        return paid(data, first_payment)
    if isinstance(data, ContributionPartiallyPaidV1):
        return paid(data, first_payment=False)
    if isinstance(data, ParticipantOptedOutV1):
        return opted_out(data)
    if isinstance(data, ParticipantLapsedV1 | ParticipantReactivatedV1):
        return lapse_change(data)
    if isinstance(data, CampaignCreatedV1):
        return campaign_created(data)
    return []
