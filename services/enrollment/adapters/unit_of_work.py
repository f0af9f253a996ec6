"""One database transaction with every repository bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from services.enrollment.adapters.repository import (
    ApiKeyRepository,
    AuditRepository,
    CampaignRepository,
    ContributionRepository,
    IdempotencyRepository,
    OutboxRepository,
    ParticipantRepository,
)
from services.enrollment.domain.errors import DuplicateWrite


class UnitOfWork(Protocol):
    participants: ParticipantRepository
    audit: AuditRepository
    contributions: ContributionRepository
    campaigns: CampaignRepository
    outbox: OutboxRepository
    api_keys: ApiKeyRepository
    idempotency: IdempotencyRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class SqlUnitOfWork:
    """Opens a transaction on enter; rolls back on exit unless commit() was called.

    A unique constraint refusing a write (on insert or at commit) leaves as DuplicateWrite, so
    no handler needs to know SQLAlchemy's exceptions.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        conn = self.engine.connect()
        conn.begin()
        self._conn = conn
        self.participants = ParticipantRepository(conn)
        self.audit = AuditRepository(conn)
        self.contributions = ContributionRepository(conn)
        self.campaigns = CampaignRepository(conn)
        self.outbox = OutboxRepository(conn)
        self.api_keys = ApiKeyRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if conn.in_transaction():
                    conn.rollback()
            finally:
                conn.close()
        if isinstance(exc, IntegrityError):
            raise DuplicateWrite(str(exc.orig)) from exc

    def commit(self) -> None:
        assert self._conn is not None, "commit outside the unit of work"
        try:
            self._conn.commit()
        except IntegrityError as exc:
            raise DuplicateWrite(str(exc.orig)) from exc
