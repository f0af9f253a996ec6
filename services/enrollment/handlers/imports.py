"""Use case: register the valid rows of a sign-up sheet, a chunk at a time.

Reading the CSV is services/enrollment/imports.py; this writes through the same path as the
API (write_path.NewParticipants), but looks existing NIKs up first: a sheet often repeats
people already registered, and each is reported as a skipped row, not as an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.nik import nik_hash
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import DuplicateWrite, FieldProblem
from services.enrollment.domain.model import Registration
from services.enrollment.handlers.context import Context
from services.enrollment.handlers.register import Register
from services.enrollment.handlers.write_path import NewParticipants

#: a chunk is written again after a race with another writer, at most this often
ATTEMPTS = 3


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row: registered (participant_id), skipped (duplicate) or refused."""

    row: int
    participant_id: str | None = None
    problem: FieldProblem | None = None
    duplicate: bool = False


class ImportRows:
    def __init__(self, ctx: Context, register: Register) -> None:
        self.ctx = ctx
        self.register = register

    def register_chunk(
        self, chunk: list[tuple[int, Registration]], actor: Principal, seen: dict[str, int]
    ) -> list[RowOutcome]:
        """`seen`: NIK hash -> first row of the file with it, kept across the file's chunks."""
        outcomes: list[RowOutcome] = []
        fresh: list[tuple[int, Registration, str]] = []
        for row, registration in chunk:
            problem = _scope_problem(actor, registration)
            problem = problem or self.register.campaign_problem(registration)
            if problem:
                outcomes.append(RowOutcome(row, problem=problem))
                continue
            hashed = nik_hash(registration.nik.nik, self.ctx.nik_secret)
            first = seen.get(hashed)
            if first is not None:
                message = f"same NIK as row {first} of this file; skipped"
                outcomes.append(
                    RowOutcome(row, problem=FieldProblem("nik", message), duplicate=True)
                )
                continue
            seen[hashed] = row
            fresh.append((row, registration, hashed))
        attempt = 1
        while True:
            try:
                return outcomes + self._insert(fresh, actor)
            except DuplicateWrite:  # another writer registered one of these NIKs meanwhile
                if attempt == ATTEMPTS:
                    raise  # pragma: no cover - three races in a row on one chunk
                attempt += 1

    def _insert(
        self, fresh: list[tuple[int, Registration, str]], actor: Principal
    ) -> list[RowOutcome]:
        outcomes = []
        with self.ctx.uow() as uow:
            existing = uow.participants.ids_for_nik_hashes(h for _, _, h in fresh)
            count = len(fresh) - len(existing)
            new = NewParticipants(uow, self.ctx.outbox, self.ctx.clock.now(), count)
            for row, registration, hashed in fresh:
                if hashed in existing:
                    message = f"already registered as participant {existing[hashed]}; skipped"
                    problem = FieldProblem("nik", message)
                    outcomes.append(RowOutcome(row, problem=problem, duplicate=True))
                else:
                    participant = new.add(registration, hashed, actor)
                    outcomes.append(RowOutcome(row, participant_id=participant["id"]))
            new.write()
            self.ctx.commit(uow)
        return outcomes


def _scope_problem(actor: Principal, registration: Registration) -> FieldProblem | None:
    if actor.can_write(registration.branch.code):
        return None
    return FieldProblem("branch_code", f"your key may only register in branch {actor.branch_code}")
