"""The one write path of a new participant, shared by the API (group commit) and the CSV
import: a participant number, the participant row and its `participant.registered` event."""

from __future__ import annotations

import uuid
from datetime import datetime

from schemas.events import ParticipantRegisteredV4
from schemas.nik import mask_nik
from services.enrollment.adapters.repository import Row
from services.enrollment.adapters.unit_of_work import UnitOfWork
from services.enrollment.domain.access import Principal
from services.enrollment.domain.model import Registration
from services.enrollment.domain.participant_number import participant_number
from services.enrollment.outbox import OutboxWriter


class NewParticipants:
    """Registrations written in one transaction: numbers are taken up front (a rollback gives
    them back), rows collected with `add`, then written together by `write`."""

    def __init__(self, uow: UnitOfWork, outbox: OutboxWriter, now: datetime, count: int) -> None:
        self.uow = uow
        self.outbox = outbox
        self.now = now
        self._serials = iter(uow.participants.allocate_serials(count))
        self.participants: list[Row] = []
        self._events: list[Row] = []

    def add(self, reg: Registration, hashed: str, actor: Principal) -> Row:
        row, event = participant_rows(
            self.outbox, reg, hashed, actor, self.now, participant_number(next(self._serials))
        )
        self.participants.append(row)
        self._events.append(event)
        return row

    def write(self) -> None:
        self.uow.participants.add_many(self.participants)
        self.uow.outbox.add_many(self._events)


def participant_rows(
    outbox: OutboxWriter,
    reg: Registration,
    hashed: str,
    actor: Principal,
    now: datetime,
    number: str,
) -> tuple[Row, Row]:
    """The participant row and the outbox row of its `participant.registered` event."""
    participant_id = str(uuid.uuid4())
    masked = mask_nik(reg.nik.nik)
    row: Row = {
        "id": participant_id,
        "nik_hash": hashed,
        "nik_masked": masked,
        "participant_number": number,
        "full_name": reg.full_name,
        "birth_date": reg.nik.birth_date,
        "sex": reg.nik.sex,
        "province_code": reg.nik.province.code,
        "phone_e164": reg.phone_e164,
        "email": reg.email,
        "segment": reg.segment,
        "branch_code": reg.branch.code,
        "campaign_code": reg.campaign_code,
        "programmes": ",".join(reg.programmes),
        "declared_income": reg.declared_income,
        "monthly_contribution": reg.contribution.total,
        "preferred_channel": reg.preferred_channel,
        "language": reg.language,
        "consent_reminders": reg.consent_reminders,
        "consent_whatsapp": reg.consent_whatsapp,
        "source": reg.source,
        "community": reg.community,
        "officer_id": actor.key_id,
        "opted_out_channels": "",
        "registered_at": now,
    }
    data = ParticipantRegisteredV4(
        participant_id=participant_id,
        participant_number=number,
        full_name=reg.full_name,
        nik_hash=hashed,
        nik_masked=masked,
        birth_date=reg.nik.birth_date,
        sex=reg.nik.sex,
        phone_e164=reg.phone_e164,
        email=reg.email,
        segment=reg.segment,
        branch_code=reg.branch.code,
        branch_timezone=reg.branch.timezone,
        campaign_code=reg.campaign_code,
        officer_id=actor.key_id,
        programmes=list(reg.programmes),
        declared_income=reg.declared_income,
        monthly_contribution=reg.contribution.total,
        preferred_channel=reg.preferred_channel,
        language=reg.language,
        consent_reminders=reg.consent_reminders,
        source=reg.source,
        registered_at=now,
        community=reg.community,
        consent_whatsapp=reg.consent_whatsapp,
    )
    return row, outbox.row(data, participant_id, now)
