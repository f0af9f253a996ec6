"""Use case: record a payment of one or more periods (the rules: domain/payments.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.enrollment.adapters.repository import Row, utc
from services.enrollment.adapters.unit_of_work import UnitOfWork
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import Conflict, DuplicateWrite, FieldProblem, InvalidInput
from services.enrollment.domain.payments import (
    CostRules,
    PaymentPlan,
    accounts_for,
    check_periods,
    period_of,
    plan_payment,
)
from services.enrollment.handlers.context import Context
from services.enrollment.handlers.idempotency import Idempotency
from services.enrollment.payments import RecordedPayment, amount_changes

#: Payments may be stamped a little ahead of our clock by the paying system.
PAID_AT_SKEW = timedelta(minutes=5)


class Pay:
    def __init__(self, ctx: Context, due_day: int = 15) -> None:
        self.ctx = ctx
        #: the day of the month contributions fall due: a period's cost is fixed at its end
        self.due_day = due_day

    def record_contribution(
        self,
        participant_id: str,
        periods: list[str],
        amount: int,
        paid_at: datetime,
        actor: Principal,
        idem: Idempotency | None = None,
    ) -> dict[str, Any]:
        ctx = self.ctx
        now = ctx.clock.now()
        problems = []
        if amount <= 0:
            problems.append(FieldProblem("amount", "must be more than 0 rupiah"))
        if utc(paid_at) > now + PAID_AT_SKEW:
            problems.append(FieldProblem("paid_at", "is in the future"))
        if problems:
            raise InvalidInput(problems)
        with ctx.uow() as uow:
            participant = ctx.participant_for_write(uow, participant_id, actor)
            branch = ctx.reference.branches[participant["branch_code"]]
            plan = self._plan(uow, participant, branch.timezone, periods, amount)
            payment_id = str(uuid.uuid4())
            payment = RecordedPayment(payment_id, utc(paid_at), now, actor.key_id)
            uow.contributions.add_many(payment.rows(participant_id, plan))
            events = payment.events(participant, branch.code, branch.timezone, plan)
            uow.outbox.add_many([ctx.outbox.row(e, participant_id, now) for e in events])
            view = payment.view(participant, plan)
            ctx.remember(uow, actor, idem, view)
            try:
                ctx.commit(uow)
            except DuplicateWrite:
                # Only a writer that skipped the row lock gets here (the lock serialises
                # payments of one participant): another payment paid one of these periods.
                named = ", ".join(line.period for line in plan.lines)
                raise Conflict(
                    f"another payment for {named} was recorded at the same time; "
                    "send this one again to see what is still owed",
                    [FieldProblem("periods", f"{named} changed while this payment was recorded")],
                ) from None
        return view

    def _plan(
        self, uow: UnitOfWork, participant: Row, zone: str, periods: list[str], amount: int
    ) -> PaymentPlan:
        registered = utc(participant["registered_at"]).astimezone(ZoneInfo(zone)).date()
        ordered = check_periods(periods, period_of(registered))
        accounts = accounts_for(
            ordered,
            CostRules(ZoneInfo(zone), self.due_day),
            participant["monthly_contribution"],
            amount_changes(uow.audit.for_participant(participant["id"])),
            uow.contributions.paid_so_far(participant["id"], ordered),
        )
        return plan_payment(amount, accounts)
