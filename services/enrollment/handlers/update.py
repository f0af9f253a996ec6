"""Use case: correct a participant's record (and read the trail of every change)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.events import ParticipantUpdatedV3
from services.enrollment.adapters.repository import Row
from services.enrollment.domain.access import Principal
from services.enrollment.domain.correction import (
    Correction,
    CorrectionInput,
    CurrentState,
    validate_correction,
)
from services.enrollment.domain.errors import InvalidInput, NotFound
from services.enrollment.handlers.context import Context, campaign_mismatch
from services.enrollment.views import audit_view, participant_view


class Correct:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def correct(
        self, participant_id: str, raw: CorrectionInput, actor: Principal
    ) -> dict[str, Any]:
        """Apply a correction; answers the participant as it now is.

        Naturally idempotent: sending the same correction again changes nothing, so writes no
        event and no audit entry (no Idempotency-Key needed).
        """
        ctx = self.ctx
        now = ctx.clock.now()
        with ctx.uow() as uow:
            row = ctx.participant_for_write(uow, participant_id, actor)
            moving_to = raw.branch_code
            if moving_to in ctx.reference.branches and moving_to != row["branch_code"]:
                # Officers act in their own branch only: moving someone out is an admin's job.
                actor.require_write(moving_to)
            correction = validate_correction(current_state(row), raw, ctx.reference, ctx.contacts)
            if "branch_code" in correction.changes and row["campaign_code"]:
                code = row["campaign_code"]
                branches = ctx.campaigns.of(uow, code) or frozenset()
                problem = campaign_mismatch(code, branches, correction.branch.code, "branch_code")
                if problem:
                    raise InvalidInput([problem])
            if correction.changes:
                stored = correction.new_values()
                if "programmes" in stored:
                    stored["programmes"] = ",".join(stored["programmes"])
                uow.participants.update(participant_id, stored)
                data = updated_event(row, correction, now)
                event = ctx.outbox.row(data, participant_id, now)
                uow.outbox.add_many([event])
                ctx.audit(uow, participant_id, "correction", correction.changes, actor, event, now)
                row = {**row, **stored}
            ctx.commit(uow)
        return participant_view(row)

    def audit_trail(self, participant_id: str, actor: Principal) -> dict[str, Any]:
        actor.require_admin()
        with self.ctx.uow() as uow:
            if uow.participants.get(participant_id) is None:
                raise NotFound("participant", participant_id)
            rows = uow.audit.for_participant(participant_id)
        return {"participant_id": participant_id, "items": [audit_view(r) for r in rows]}


def updated_event(row: Row, correction: Correction, now: datetime) -> ParticipantUpdatedV3:
    changed = correction.new_values()
    cleared = [name for name, value in changed.items() if value is None]
    fields = {
        name: value
        for name, value in changed.items()
        if value is not None and name in ParticipantUpdatedV3.model_fields
    }
    fields.update(
        participant_id=row["id"],
        branch_code=correction.branch.code,
        branch_timezone=correction.branch.timezone,
        participant_number=row["participant_number"],
        cleared=cleared or None,
        updated_at=now,
    )
    return ParticipantUpdatedV3.model_validate(fields)


def current_state(row: Row) -> CurrentState:
    return CurrentState(
        phone_e164=row["phone_e164"],
        email=row["email"],
        declared_income=row["declared_income"],
        programmes=tuple(row["programmes"].split(",")),
        branch_code=row["branch_code"],
        preferred_channel=row["preferred_channel"],
        language=row["language"],
        consent_reminders=row["consent_reminders"],
        consent_whatsapp=row["consent_whatsapp"],
        monthly_contribution=row["monthly_contribution"],
    )
