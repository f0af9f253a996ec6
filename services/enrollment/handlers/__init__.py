"""Command handlers, one module per use case: validate, write state and its event in one
transaction, say the result.

| module | use case |
|---|---|
| register.py | register a person (API; group commit) |
| imports.py | register the rows of a sign-up sheet |
| write_path.py | the write both of them share: number, participant row, event |
| update.py | correct a record; read its audit trail |
| pay.py | record a payment |
| opt_out.py | opt out (an officer, or the person through the notifier) |
| campaigns.py | create and read a campaign |
| broadcasts.py | check, price and accept a broadcast |
| context.py, idempotency.py | what they share: adapters, commit, audit, Idempotency-Key records |

`Enrollment` wires them to one set of adapters; the API, the CLI and the request reader call
its methods. Status codes and problem+json stay in api/.
"""

from __future__ import annotations

from collections.abc import Callable

from services.common.clock import Clock
from services.enrollment.adapters.unit_of_work import UnitOfWork
from services.enrollment.domain.broadcast import BroadcastRules
from services.enrollment.domain.model import ContactRules
from services.enrollment.domain.reference import ReferenceData
from services.enrollment.handlers.broadcasts import Broadcasts
from services.enrollment.handlers.campaigns import Campaigns
from services.enrollment.handlers.context import Context
from services.enrollment.handlers.idempotency import Idempotency, Replay
from services.enrollment.handlers.imports import ImportRows, RowOutcome
from services.enrollment.handlers.opt_out import OptOut
from services.enrollment.handlers.pay import Pay
from services.enrollment.handlers.register import PreparedRegistration, Register
from services.enrollment.handlers.update import Correct
from services.enrollment.outbox import OutboxWriter

__all__ = [
    "Enrollment",
    "Idempotency",
    "PreparedRegistration",
    "Replay",
    "RowOutcome",
]


class Enrollment:
    """Every use case, over one set of adapters (built by bootstrap)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        reference: ReferenceData,
        contacts: ContactRules,
        clock: Clock,
        outbox: OutboxWriter,
        nik_secret: bytes,
        on_commit: Callable[[], None] = lambda: None,
        broadcast_rules: BroadcastRules | None = None,
        due_day: int = 15,
    ) -> None:
        ctx = Context(uow_factory, reference, contacts, clock, outbox, nik_secret, on_commit)
        self.ctx = ctx
        self.uow = uow_factory
        self.clock = clock
        self.registrations = Register(ctx)
        self.imports = ImportRows(ctx, self.registrations)
        self.corrections = Correct(ctx)
        self.payments = Pay(ctx, due_day)
        self.opt_outs = OptOut(ctx)
        self.campaigns = Campaigns(ctx)
        self.broadcasts = Broadcasts(ctx, broadcast_rules)
        # The entrypoints' names for each use case.
        self.replay = ctx.replay
        self.validate = self.registrations.validate
        self.prepare = self.registrations.prepare
        self.register = self.registrations.register
        self.store_registrations = self.registrations.store
        self.correct = self.corrections.correct
        self.audit_trail = self.corrections.audit_trail
        self.record_contribution = self.payments.record_contribution
        self.opt_out = self.opt_outs.opt_out
        self.apply_opt_out_request = self.opt_outs.apply_request
        self.create_campaign = self.campaigns.create
        self.get_campaign = self.campaigns.get
        self.request_broadcast = self.broadcasts.request
