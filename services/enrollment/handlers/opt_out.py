"""Use case: opt a participant out of channels, asked by an officer or by the person."""

from __future__ import annotations

from typing import Any

from schemas.events import ParticipantOptedOutV1
from services.enrollment.adapters.repository import Row
from services.enrollment.adapters.unit_of_work import UnitOfWork
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import DuplicateWrite, FieldProblem, InvalidInput, NotFound
from services.enrollment.domain.model import CHANNELS
from services.enrollment.handlers.context import Context
from services.enrollment.handlers.idempotency import Idempotency


class OptOut:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def opt_out(
        self,
        participant_id: str,
        channels: list[str],
        reason: str,
        actor: Principal,
        idem: Idempotency | None = None,
    ) -> dict[str, Any]:
        """An officer's opt-out, for a participant of a branch the key may write."""
        wanted = set(CHANNELS) if "all" in channels else set(channels)
        unknown = wanted - set(CHANNELS)
        if unknown or not wanted:
            raise InvalidInput(
                [FieldProblem("channels", f"use 'all' or some of {', '.join(CHANNELS)}")]
            )
        ctx = self.ctx
        with ctx.uow() as uow:
            participant = ctx.participant_for_write(uow, participant_id, actor)
            view = self._apply(uow, participant, wanted, reason, actor)
            ctx.remember(uow, actor, idem, view)
            ctx.commit(uow)
        return view

    def apply_request(
        self,
        participant_id: str,
        channels: list[str],
        reason: str,
        person: Principal,
        request: Idempotency,
    ) -> dict[str, Any]:
        """A person's own request (an SMS reply, an unsubscribe link), checked by the door it
        came through: no branch to authorise. Applied once per request id (`request.key`),
        in the transaction that records it; a request seen before answers as it did then."""
        ctx = self.ctx
        replay = ctx.replay(person, request)
        if replay is not None:
            return {**replay.body, "replayed": True}
        try:
            with ctx.uow() as uow:
                participant = uow.participants.get(participant_id, for_update=True)
                if participant is None:
                    raise NotFound("participant", participant_id)
                wanted = set(channels) & set(CHANNELS)
                # the request's id correlates it with the participant.opted_out it causes
                view = self._apply(uow, participant, wanted, reason, person, request.key)
                ctx.remember(uow, person, request, view)
                ctx.commit(uow)
        except DuplicateWrite:  # the same request, applied meanwhile by another reader
            replay = ctx.replay(person, request)
            if replay is None:
                raise
            return {**replay.body, "replayed": True}
        return view

    def _apply(
        self,
        uow: UnitOfWork,
        participant: Row,
        wanted: set[str],
        reason: str,
        actor: Principal,
        correlationid: str | None = None,
    ) -> dict[str, Any]:
        """Add channels to a participant's opt-outs; only a change writes its event and audit
        entry, so opting out twice publishes once."""
        ctx = self.ctx
        now = ctx.clock.now()
        participant_id = participant["id"]
        before = {c for c in participant["opted_out_channels"].split(",") if c}
        new = sorted(wanted - before)
        after = sorted(before | wanted)
        if new:
            uow.participants.update(participant_id, {"opted_out_channels": ",".join(after)})
            branch = ctx.reference.branches[participant["branch_code"]]
            data = ParticipantOptedOutV1(
                participant_id=participant_id,
                branch_code=branch.code,
                branch_timezone=branch.timezone,
                campaign_code=participant["campaign_code"],
                channels=new,
                reason=reason,
                opted_out_at=now,
            )
            event = ctx.outbox.row(data, participant_id, now, correlationid)
            uow.outbox.add_many([event])
            change = {"opted_out_channels": (sorted(before), after)}
            ctx.audit(uow, participant_id, "opt_out", change, actor, event, now)
        return {"participant_id": participant_id, "opted_out_channels": after, "changed": new}
