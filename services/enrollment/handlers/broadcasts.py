"""Use case: check a broadcast and accept it, or answer its reach and cost (dry run)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from schemas.events import Audience, CampaignBroadcastRequestedV1
from schemas.vocab import MessageKind
from services.enrollment.adapters.unit_of_work import UnitOfWork
from services.enrollment.domain.access import Principal
from services.enrollment.domain.broadcast import (
    AudienceGroup,
    BroadcastRules,
    SmsPlan,
    check_text,
    estimated_cost,
    reach,
)
from services.enrollment.domain.errors import FieldProblem, InvalidInput, NotFound
from services.enrollment.handlers.context import Context
from services.enrollment.handlers.idempotency import Idempotency


class Broadcasts:
    def __init__(self, ctx: Context, rules: BroadcastRules | None = None) -> None:
        self.ctx = ctx
        self.rules = rules or BroadcastRules()

    def request(
        self,
        campaign_code: str,
        message_kind: str,
        branch_codes: list[str],
        segments: list[str],
        params: dict[str, str],
        actor: Principal,
        idem: Idempotency | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Check a broadcast and accept it; with `dry_run`, answer its reach and cost instead.

        A dry run writes nothing (no broadcast, no event, no idempotency record).
        """
        actor.require_admin()
        plan = self._check(message_kind, branch_codes, segments, params)
        audience = Audience(
            branch_codes=branch_codes, segments=segments, campaign_codes=[campaign_code]
        )
        view: dict[str, Any] = {
            "campaign_code": campaign_code,
            "message_kind": message_kind,
            "audience": audience.model_dump(),
            "params": params,
            "sms": plan.as_dict(),
        }
        with self.ctx.uow() as uow:
            if uow.campaigns.get(campaign_code) is None:
                raise NotFound("campaign", campaign_code)
            if dry_run:
                return self._dry_run(uow, audience, message_kind, plan, view)
            return self._accept(uow, audience, actor, idem, view)

    def _check(
        self,
        message_kind: str,
        branch_codes: list[str],
        segments: list[str],
        params: dict[str, str],
    ) -> SmsPlan:
        reference = self.ctx.reference
        problems = [
            FieldProblem("audience.branch_codes", f"unknown branch {b!r}")
            for b in branch_codes
            if b not in reference.branches
        ] + [
            FieldProblem("audience.segments", f"unknown segment {s!r}")
            for s in segments
            if s not in reference.segments
        ]
        kinds = [k.value for k in MessageKind]
        if message_kind not in kinds:
            problems.append(FieldProblem("message_kind", f"must be one of {', '.join(kinds)}"))
        plan, text_problems = check_text(params, self.rules)
        problems += text_problems
        if problems:
            raise InvalidInput(problems)
        return plan

    def _dry_run(
        self,
        uow: UnitOfWork,
        audience: Audience,
        message_kind: str,
        plan: SmsPlan,
        view: dict[str, Any],
    ) -> dict[str, Any]:
        groups = uow.participants.audience_groups(
            audience.branch_codes, audience.segments, audience.campaign_codes
        )
        reached = reach(
            (AudienceGroup(p, e, frozenset(o.split(",")) - {""}, k, n) for p, e, o, k, n in groups),
            message_kind,
        )
        return {
            "dry_run": True,
            **view,
            "recipients": reached.as_dict(),
            "estimated_cost": estimated_cost(reached, plan, self.rules),
        }

    def _accept(
        self,
        uow: UnitOfWork,
        audience: Audience,
        actor: Principal,
        idem: Idempotency | None,
        view: dict[str, Any],
    ) -> dict[str, Any]:
        ctx = self.ctx
        now = ctx.clock.now()
        broadcast_id = str(uuid.uuid4())
        campaign_code, message_kind = view["campaign_code"], view["message_kind"]
        uow.campaigns.add_broadcast(
            {
                "id": broadcast_id,
                "campaign_code": campaign_code,
                "message_kind": message_kind,
                "audience": audience.model_dump_json(),
                "params": json.dumps(view["params"]),
                "requested_by": actor.key_id,
                "requested_at": now,
            }
        )
        data = CampaignBroadcastRequestedV1(
            broadcast_id=broadcast_id,
            campaign_code=campaign_code,
            message_kind=MessageKind(message_kind),
            audience=audience,
            params=view["params"],
            requested_by=actor.key_id,
            requested_at=now,
        )
        uow.outbox.add_many([ctx.outbox.row(data, campaign_code, now)])
        accepted = {"broadcast_id": broadcast_id, **view, "requested_at": now.isoformat()}
        ctx.remember(uow, actor, idem, accepted)
        ctx.commit(uow)
        return accepted
