"""Sample events for the notifier tests."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from typing import Any

from schemas.events import (
    Audience,
    CampaignBroadcastRequestedV1,
    ContributionPaidV1,
    ContributionPartiallyPaidV1,
    ParticipantOptedOutV1,
    ParticipantRegisteredV4,
)
from schemas.vocab import Channel, IndonesianTimeZone, Language, Programme, Sex, Source


def new_id() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


def phone_for(pid: str) -> str:
    digits = int(hashlib.sha256(pid.encode()).hexdigest(), 16) % 10**9
    return f"+62812{digits:09d}"


def registered(at: datetime, pid: str | None = None, **overrides: Any) -> ParticipantRegisteredV4:
    pid = pid or new_id()
    fields: dict[str, Any] = {
        "participant_id": pid,
        "full_name": "Sri Wahyuni",
        "nik_hash": "0" * 64,
        "nik_masked": "3372**********01",
        "birth_date": date(1985, 8, 17),
        "sex": Sex.FEMALE,
        "phone_e164": phone_for(pid),
        "email": f"{pid}@example.id",
        "segment": "trader",
        "branch_code": "SKT",
        "branch_timezone": IndonesianTimeZone.WIB,
        "campaign_code": "KKBC-KLEWER",
        "programmes": [Programme.JKK, Programme.JKM],
        "declared_income": 1_500_000,
        "monthly_contribution": 16_800,
        "preferred_channel": Channel.SMS,
        "language": Language.INDONESIAN,
        "consent_reminders": True,
        "source": Source.FIELD,
        "registered_at": at,
    }
    fields.update(overrides)
    return ParticipantRegisteredV4(**fields)


def paid(pid: str, period: str, at: datetime) -> ContributionPaidV1:
    return ContributionPaidV1(
        participant_id=pid,
        payment_id=f"pay-{uuid.uuid4().hex[:8]}",
        period=period,
        amount=16_800,
        paid_at=at,
        branch_code="SKT",
        branch_timezone=IndonesianTimeZone.WIB,
    )


def partially_paid(
    pid: str, period: str, at: datetime, amount: int, cost: int = 16_800
) -> ContributionPartiallyPaidV1:
    """A first partial payment of `period`: `amount` of its `cost` brought."""
    return ContributionPartiallyPaidV1(
        participant_id=pid,
        payment_id=f"pay-{uuid.uuid4().hex[:8]}",
        period=period,
        amount=amount,
        paid_total=amount,
        cost=cost,
        owed=cost - amount,
        paid_at=at,
        branch_code="SKT",
        branch_timezone=IndonesianTimeZone.WIB,
    )


def opted_out(pid: str, channels: list[Channel], at: datetime) -> ParticipantOptedOutV1:
    return ParticipantOptedOutV1(
        participant_id=pid,
        branch_code="SKT",
        branch_timezone=IndonesianTimeZone.WIB,
        channels=channels,
        opted_out_at=at,
    )


def broadcast(at: datetime, **audience: list[str]) -> CampaignBroadcastRequestedV1:
    return CampaignBroadcastRequestedV1(
        broadcast_id=f"b-{uuid.uuid4().hex[:8]}",
        campaign_code="KKBC-KLEWER",
        audience=Audience(**audience),
        params={"message": "Pasar Klewer: iuran mulai Rp16.800."},
        requested_at=at,
    )
