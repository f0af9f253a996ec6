"""Typed payloads (`data`) of every event type and version.

Rules for evolving a contract (checked by tests/schemas):
- a new version may only *add optional* fields; consumers ignore fields they do not know,
  so a consumer built for v1 reads a v2 event;
- a breaking change is a new event type, never a new version.
Events never carry a raw NIK: only its keyed hash and a masked form (see schemas.nik).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from schemas.vocab import Channel, IndonesianTimeZone, Language, MessageKind, Programme, Sex, Source

ParticipantId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]
NikHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
NikMasked = Annotated[str, StringConstraints(pattern=r"^\d{4}\*{10}\d{2}$")]
Rupiah = Annotated[int, Field(ge=0)]


class EventData(BaseModel):
    """Base of every payload: immutable, and tolerant of fields added by later versions."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- participant.* (topic bebas.participants, key = participant_id) -------------------------


class ParticipantRegisteredV1(EventData):
    participant_id: ParticipantId
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    nik_hash: NikHash
    nik_masked: NikMasked
    birth_date: date
    sex: Sex
    phone_e164: E164
    email: str | None = None
    segment: Code
    branch_code: Code
    branch_timezone: IndonesianTimeZone
    campaign_code: Code | None = None
    officer_id: str | None = None
    programmes: list[Programme]
    declared_income: Rupiah
    monthly_contribution: Rupiah
    preferred_channel: Channel
    language: Language = Language.INDONESIAN
    consent_reminders: bool
    source: Source
    registered_at: AwareDatetime


class ParticipantRegisteredV2(ParticipantRegisteredV1):
    """v2 adds the professional community the worker was reached through (optional)."""

    community: str | None = None


ParticipantNumber = Annotated[str, StringConstraints(pattern=r"^\d{11}$")]


class ParticipantRegisteredV3(ParticipantRegisteredV2):
    """v3 adds the participant number people quote at a counter (11 digits, check digit last).

    Optional for compatibility: events published before numbers existed lack it.
    """

    participant_number: ParticipantNumber | None = None


class ParticipantRegisteredV4(ParticipantRegisteredV3):
    """v4 adds the person's opt-in to WhatsApp, which WhatsApp's rules ask for per channel
    (consent to reminders is not enough). Optional: an older event means no opt-in."""

    consent_whatsapp: bool = False


class ParticipantUpdatedV1(EventData):
    """Only the fields that changed are set; `None` means unchanged."""

    participant_id: ParticipantId
    branch_code: Code
    phone_e164: E164 | None = None
    email: str | None = None
    segment: Code | None = None
    preferred_channel: Channel | None = None
    language: Language | None = None
    consent_reminders: bool | None = None
    programmes: list[Programme] | None = None
    declared_income: Rupiah | None = None
    monthly_contribution: Rupiah | None = None
    updated_at: AwareDatetime


class ParticipantUpdatedV2(ParticipantUpdatedV1):
    """v2 adds what v1 could not say.

    - `branch_timezone`: the time zone of `branch_code`, always set (like `branch_code`), so a
      consumer follows a move to another branch without a lookup;
    - `participant_number`, always set, for messages that quote it;
    - `cleared`: fields removed (today only `email`); in v1 `None` means "unchanged", so a
      removal needs its own word. A v1 consumer ignores it and keeps the old address.
    """

    branch_timezone: IndonesianTimeZone | None = None
    participant_number: ParticipantNumber | None = None
    cleared: list[Literal["email"]] | None = None


class ParticipantUpdatedV3(ParticipantUpdatedV2):
    """v3 adds the WhatsApp opt-in (`None`: unchanged, as for every field of v1)."""

    consent_whatsapp: bool | None = None


class ParticipantOptedOutV1(EventData):
    participant_id: ParticipantId
    branch_code: Code
    branch_timezone: IndonesianTimeZone
    campaign_code: Code | None = None
    channels: list[Channel] = Field(min_length=1)
    reason: Annotated[str, StringConstraints(max_length=200)] = "request"
    opted_out_at: AwareDatetime


# --- participant.opt_out_requested (topic bebas.enrollment.requests, key = participant_id) ----
# A person asked to stop, through a door only they can use (an SMS reply from their number, the
# signed unsubscribe link of an e-mail). Named like `campaign.broadcast_requested`: a fact —
# the request was made — that the owner of the state acts on. Enrollment, the only writer of
# participant state, records it and publishes `participant.opted_out`; nobody else changes
# anything on the request alone. The envelope id is the request id (enrollment applies each
# one once).


class ParticipantOptOutRequestedV1(EventData):
    participant_id: ParticipantId
    channels: list[Channel] = Field(min_length=1)
    via: Literal["sms_reply", "email_link"]
    #: the reply's keyword as the person wrote it, upper-cased (STOP, BERHENTI, UNREG…)
    keyword: Annotated[str, StringConstraints(max_length=20)] | None = None
    requested_at: AwareDatetime


class ContributionPaidV1(EventData):
    participant_id: ParticipantId
    payment_id: ParticipantId
    period: Period
    amount: Rupiah
    paid_at: AwareDatetime
    branch_code: Code
    branch_timezone: IndonesianTimeZone
    campaign_code: Code | None = None


class ContributionPaidV2(ContributionPaidV1):
    """v2 adds the payer's participant number, what receipts and counters show."""

    participant_number: ParticipantNumber | None = None


class ContributionPaidV3(ContributionPaidV2):
    """v3: payments that add up (a payment names one or more periods and may come in parts).

    The meaning of the event is unchanged, so a v1/v2 consumer stays right: `period` is now
    paid in full, and `amount` is what this payment brought to it (the rest of its cost when
    earlier partial payments brought some). A payment that pays several periods in full is
    one event per period, sharing `payment_id`. Money that leaves a period unpaid is
    `contribution.partially_paid`, never this event.
    - `cost`: what `period` cost in all (the monthly contribution in force on its due day);
    - `payment_amount`, `payment_periods`: the whole payment and every period it named.
    """

    cost: Rupiah | None = None
    payment_amount: Rupiah | None = None
    payment_periods: list[Period] | None = None


PositiveRupiah = Annotated[int, Field(gt=0)]


class ContributionPartiallyPaidV1(EventData):
    """A payment brought `amount` to `period` but not all of its cost: the period stays unpaid
    and `owed` is what it still lacks (`paid_total` + `owed` = `cost`). A later payment that
    brings the rest is `contribution.paid` for the period. A payment short of what its
    periods cost fills them oldest first, so it may also pay older periods in full
    (`contribution.paid` each, same `payment_id`)."""

    participant_id: ParticipantId
    participant_number: ParticipantNumber | None = None
    payment_id: ParticipantId
    period: Period
    amount: PositiveRupiah
    paid_total: PositiveRupiah
    cost: PositiveRupiah
    owed: PositiveRupiah
    paid_at: AwareDatetime
    branch_code: Code
    branch_timezone: IndonesianTimeZone
    campaign_code: Code | None = None
    payment_amount: Rupiah | None = None
    payment_periods: list[Period] | None = None


# --- participant.lapsed / participant.reactivated (topic bebas.notifications) ----------------
# The notifier's own observation of a participant's payment history, published where it owns
# the topic: enrollment stays the only writer of participant state and needs no timer.


class ParticipantLapsedV1(EventData):
    """Monthly reminders stopped: `unpaid_periods` went unpaid one after the other."""

    participant_id: ParticipantId
    branch_code: Code
    branch_timezone: IndonesianTimeZone
    campaign_code: Code | None = None
    unpaid_periods: list[Period] = Field(min_length=1)
    amount_owed: Rupiah
    lapsed_at: AwareDatetime


class ParticipantReactivatedV1(EventData):
    """A payment (of `period`) ended the lapse of `lapsed_at`; reminders resume."""

    participant_id: ParticipantId
    branch_code: Code
    branch_timezone: IndonesianTimeZone
    campaign_code: Code | None = None
    period: Period
    lapsed_at: AwareDatetime
    reactivated_at: AwareDatetime


# --- campaign.* (topic bebas.campaigns, key = campaign_code) --------------------------------


class CampaignCreatedV1(EventData):
    campaign_code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    branch_codes: list[Code] = Field(default_factory=list)
    starts_on: date
    ends_on: date | None = None
    created_at: AwareDatetime


class Audience(EventData):
    """Who a broadcast reaches; an empty list means 'any'."""

    branch_codes: list[Code] = Field(default_factory=list)
    segments: list[Code] = Field(default_factory=list)
    campaign_codes: list[Code] = Field(default_factory=list)


class CampaignBroadcastRequestedV1(EventData):
    broadcast_id: ParticipantId
    campaign_code: Code
    message_kind: MessageKind = MessageKind.CAMPAIGN
    audience: Audience
    params: dict[str, str] = Field(default_factory=dict)
    requested_by: str | None = None
    requested_at: AwareDatetime


# --- notification.* (topic bebas.notifications, key = participant_id) -----------------------


class NotificationFacts(EventData):
    """What every notification event says about the message it concerns."""

    notification_key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    participant_id: ParticipantId
    kind: MessageKind
    channel: Channel
    branch_code: Code
    branch_timezone: IndonesianTimeZone
    campaign_code: Code | None = None


class NotificationSentV1(NotificationFacts):
    provider: str
    provider_message_id: str | None = None
    attempt: Annotated[int, Field(ge=1)] = 1
    sent_at: AwareDatetime


class NotificationFailedV1(NotificationFacts):
    reason: Annotated[str, StringConstraints(max_length=500)]
    permanent: bool
    attempt: Annotated[int, Field(ge=1)] = 1
    failed_at: AwareDatetime


class NotificationDeferredV1(NotificationFacts):
    reason: str = Field(
        default="quiet_hours",
        description="why the message waits: quiet_hours (the recipient's night) or "
        "frequency_cap (the person had as many messages as the cap allows)",
    )
    deliver_after: AwareDatetime
    deferred_at: AwareDatetime


class NotificationSuppressedV1(NotificationFacts):
    """A message the notifier decided not to send, for good (today only a campaign message
    over the frequency cap: reason frequency_cap)."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    suppressed_at: AwareDatetime


class NotificationDeliveredV1(NotificationFacts):
    provider_message_id: str | None = None
    delivered_at: AwareDatetime


EVENT_MODELS: dict[str, dict[int, type[EventData]]] = {
    "participant.registered": {
        1: ParticipantRegisteredV1,
        2: ParticipantRegisteredV2,
        3: ParticipantRegisteredV3,
        4: ParticipantRegisteredV4,
    },
    "participant.updated": {
        1: ParticipantUpdatedV1,
        2: ParticipantUpdatedV2,
        3: ParticipantUpdatedV3,
    },
    "participant.opted_out": {1: ParticipantOptedOutV1},
    "participant.opt_out_requested": {1: ParticipantOptOutRequestedV1},
    "contribution.paid": {1: ContributionPaidV1, 2: ContributionPaidV2, 3: ContributionPaidV3},
    "contribution.partially_paid": {1: ContributionPartiallyPaidV1},
    "campaign.created": {1: CampaignCreatedV1},
    "campaign.broadcast_requested": {1: CampaignBroadcastRequestedV1},
    "notification.sent": {1: NotificationSentV1},
    "notification.failed": {1: NotificationFailedV1},
    "notification.deferred": {1: NotificationDeferredV1},
    "notification.delivered": {1: NotificationDeliveredV1},
    "notification.suppressed": {1: NotificationSuppressedV1},
    "participant.lapsed": {1: ParticipantLapsedV1},
    "participant.reactivated": {1: ParticipantReactivatedV1},
}

#: The version producers emit today, per event type.
CURRENT_VERSION: dict[str, int] = {name: max(versions) for name, versions in EVENT_MODELS.items()}

#: Reverse lookup: payload class -> (event type, version).
_TYPE_OF: dict[type[EventData], tuple[str, int]] = {
    model: (name, version)
    for name, versions in EVENT_MODELS.items()
    for version, model in versions.items()
}


def model_for(event_type: str, version: int) -> type[EventData]:
    """The payload model a consumer uses for (type, version).

    A version newer than any this code knows is read with the newest known model: versions
    only add optional fields, so the newest known model is a faithful subset.
    """
    versions = EVENT_MODELS.get(event_type)
    if versions is None:
        raise KeyError(f"unknown event type {event_type!r}")
    if version in versions:
        return versions[version]
    known = [v for v in versions if v <= version]
    if not known:
        raise KeyError(f"{event_type} v{version} is older than any known version")
    return versions[max(known)]


def type_of(data: EventData) -> tuple[str, int]:
    """(event type, version) of a payload instance."""
    return _TYPE_OF[type(data)]


__all__ = [
    "CURRENT_VERSION",
    "EVENT_MODELS",
    "Audience",
    "CampaignBroadcastRequestedV1",
    "CampaignCreatedV1",
    "ContributionPaidV1",
    "ContributionPaidV2",
    "ContributionPaidV3",
    "ContributionPartiallyPaidV1",
    "EventData",
    "NotificationDeferredV1",
    "NotificationDeliveredV1",
    "NotificationFacts",
    "NotificationFailedV1",
    "NotificationSentV1",
    "NotificationSuppressedV1",
    "ParticipantLapsedV1",
    "ParticipantOptOutRequestedV1",
    "ParticipantOptedOutV1",
    "ParticipantReactivatedV1",
    "ParticipantRegisteredV1",
    "ParticipantRegisteredV2",
    "ParticipantRegisteredV3",
    "ParticipantRegisteredV4",
    "ParticipantUpdatedV1",
    "ParticipantUpdatedV2",
    "ParticipantUpdatedV3",
    "model_for",
    "type_of",
]
