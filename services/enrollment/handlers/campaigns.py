"""Use case: create a campaign (and read one back)."""

from __future__ import annotations

from datetime import date
from typing import Any

from schemas.events import CampaignCreatedV1
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import (
    Conflict,
    DuplicateWrite,
    FieldProblem,
    InvalidInput,
    NotFound,
)
from services.enrollment.handlers.context import Context
from services.enrollment.handlers.idempotency import Idempotency
from services.enrollment.views import campaign_view


class Campaigns:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create(
        self,
        code: str,
        name: str,
        branch_codes: list[str],
        starts_on: date,
        ends_on: date | None,
        actor: Principal,
        idem: Idempotency | None = None,
    ) -> dict[str, Any]:
        actor.require_admin()
        ctx = self.ctx
        problems = [
            FieldProblem("branch_codes", f"unknown branch {b!r}")
            for b in branch_codes
            if b not in ctx.reference.branches
        ]
        if ends_on is not None and ends_on < starts_on:
            problems.append(FieldProblem("ends_on", "is before starts_on"))
        if problems:
            raise InvalidInput(problems)
        now = ctx.clock.now()
        row = {
            "code": code,
            "name": name,
            "branch_codes": ",".join(branch_codes),
            "starts_on": starts_on,
            "ends_on": ends_on,
            "created_at": now,
            "created_by": actor.key_id,
        }
        data = CampaignCreatedV1(
            campaign_code=code,
            name=name,
            branch_codes=branch_codes,
            starts_on=starts_on,
            ends_on=ends_on,
            created_at=now,
        )
        with ctx.uow() as uow:
            if uow.campaigns.get(code):
                raise Conflict(f"campaign {code} already exists")
            uow.campaigns.add(row)
            uow.outbox.add_many([ctx.outbox.row(data, code, now)])
            view = campaign_view(row)
            ctx.remember(uow, actor, idem, view)
            try:
                ctx.commit(uow)
            except DuplicateWrite:
                raise Conflict(f"campaign {code} already exists") from None
        return view

    def get(self, code: str) -> dict[str, Any]:
        with self.ctx.uow() as uow:
            row = uow.campaigns.get(code)
        if row is None:
            raise NotFound("campaign", code)
        return campaign_view(row)
