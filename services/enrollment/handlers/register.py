"""Use case: register one person through the API (many at once by group commit)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas.nik import nik_hash
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import (
    AlreadyRegistered,
    Conflict,
    DomainError,
    DuplicateWrite,
    FieldProblem,
    InvalidInput,
)
from services.enrollment.domain.model import Registration, RegistrationInput, validate_registration
from services.enrollment.handlers.context import Context, campaign_mismatch
from services.enrollment.handlers.idempotency import Idempotency, idempotency_row, reused_key
from services.enrollment.handlers.write_path import NewParticipants
from services.enrollment.views import participant_view

Batch = list[tuple["PreparedRegistration", Idempotency | None]]
Outcome = dict[str, Any] | DomainError


@dataclass(frozen=True)
class PreparedRegistration:
    """A registration that passed every check that needs no write."""

    registration: Registration
    nik_hash: str
    actor: Principal


class Register:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def validate(self, raw: RegistrationInput, today: date | None = None) -> Registration:
        ctx = self.ctx
        return validate_registration(
            raw, ctx.reference, ctx.contacts, today or ctx.clock.now().date()
        )

    def campaign_problem(self, registration: Registration) -> FieldProblem | None:
        """The campaign code's problem, if any: read once per code, then from the cache."""
        code = registration.campaign_code
        if code is None:
            return None
        branches = self.ctx.campaigns.cached(code)
        if branches is None:
            with self.ctx.uow() as uow:
                branches = self.ctx.campaigns.of(uow, code)
        if branches is None:
            return FieldProblem("campaign_code", f"unknown campaign {code!r}")
        return campaign_mismatch(code, branches, registration.branch.code, "campaign_code")

    def prepare(self, raw: RegistrationInput, actor: Principal) -> PreparedRegistration:
        """Everything about a registration that needs no write: access, rules, campaign, hash."""
        if actor.role == "viewer" or raw.branch_code in self.ctx.reference.branches:
            actor.require_write(raw.branch_code)  # unknown branches are reported by validation
        registration = self.validate(raw)
        problem = self.campaign_problem(registration)
        if problem:
            raise InvalidInput([problem])
        hashed = nik_hash(registration.nik.nik, self.ctx.nik_secret)
        return PreparedRegistration(registration, hashed, actor)

    def register(
        self, raw: RegistrationInput, actor: Principal, idem: Idempotency | None = None
    ) -> dict[str, Any]:
        outcome = self.store([(self.prepare(raw, actor), idem)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def store(self, items: Batch) -> list[Outcome]:
        """Write prepared registrations in one transaction (group commit); one outcome each.

        A batch that hits a constraint (a race on the same NIK or Idempotency-Key with another
        writer) is retried one registration at a time, so only the loser gets the error.
        """
        try:
            return self._store(items)
        except DuplicateWrite:
            if len(items) == 1:
                return [self._why_insert_failed(*items[0])]
            return [self.store([item])[0] for item in items]

    def _store(self, items: Batch) -> list[Outcome]:
        now = self.ctx.clock.now()
        outcomes: list[Outcome] = []
        remembered = []
        # (key id, Idempotency-Key) -> (fingerprint, answer) of requests in this batch
        answered: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        # NIKs registered by earlier transactions are not looked up first: the unique index
        # finds them (DuplicateWrite, handled by the caller), and a duplicate is rare while a
        # query per batch is not. `known` catches the same NIK twice within this batch.
        known: dict[str, str] = {}
        with self.ctx.uow() as uow:
            # One number per item: a replay or an in-batch duplicate leaves a gap, which is
            # cheaper than deciding first and allocating after.
            new = NewParticipants(uow, self.ctx.outbox, now, len(items))
            for prepared, idem in items:
                slot = (prepared.actor.key_id, idem.key) if idem else None
                if idem is not None and slot is not None and slot in answered:
                    # A retry that arrived in the same batch as its original: same answer.
                    fingerprint, first = answered[slot]
                    outcomes.append(first if fingerprint == idem.fingerprint else reused_key())
                    continue
                existing = known.get(prepared.nik_hash)
                if existing:
                    outcomes.append(AlreadyRegistered(existing))
                    continue
                row = new.add(prepared.registration, prepared.nik_hash, prepared.actor)
                # A second registration of this NIK in the same batch is a duplicate too.
                known[prepared.nik_hash] = row["id"]
                view = participant_view(row)
                if idem is not None and slot is not None:
                    remembered.append(idempotency_row(prepared.actor, idem, view, now))
                    answered[slot] = (idem.fingerprint, view)
                outcomes.append(view)
            new.write()
            uow.idempotency.add_many(remembered)
            self.ctx.commit(uow)
        return outcomes

    def _why_insert_failed(
        self, prepared: PreparedRegistration, idem: Idempotency | None
    ) -> Outcome:
        """A concurrent request won the race: same Idempotency-Key (replay it) or same NIK."""
        stored = None
        with self.ctx.uow() as uow:
            if idem is not None:
                stored = uow.idempotency.get(prepared.actor.key_id, idem.key)
            existing = uow.participants.id_for_nik_hash(prepared.nik_hash)
        if stored is not None and idem is not None:
            if stored["fingerprint"] != idem.fingerprint:
                return reused_key()
            answer: dict[str, Any] = json.loads(stored["body"])
            return answer
        if existing:
            return AlreadyRegistered(existing)
        return Conflict("a request with this Idempotency-Key is being processed; retry shortly")
