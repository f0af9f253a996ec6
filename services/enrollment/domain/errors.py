"""Errors the domain raises; entrypoints translate them to HTTP problems or import report rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one input field, worded for a branch officer."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error the handlers raise on purpose."""


class InvalidInput(DomainError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class AlreadyRegistered(DomainError):
    def __init__(self, participant_id: str) -> None:
        super().__init__(f"this NIK is already registered as participant {participant_id}")
        self.participant_id = participant_id


class NotFound(DomainError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} does not exist")
        self.what = what
        self.key = key


class Conflict(DomainError):
    """The request contradicts stored state (a period paid twice, a campaign code taken);
    `problems` name the fields at fault when there are some."""

    def __init__(self, message: str, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class Forbidden(DomainError):
    """The caller's role or branch does not allow this."""


class DuplicateWrite(DomainError):
    """Storage refused a write because another writer stored the same key first (a unique
    constraint: the same NIK, Idempotency-Key, campaign code or paid period). Raised by the
    storage adapter, so handlers decide what it means without knowing the database."""
