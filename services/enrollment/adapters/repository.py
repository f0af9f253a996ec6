"""Repositories over one open connection; the unit of work owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from services.enrollment.adapters import tables as t
from services.enrollment.adapters.bulk import BulkInsert

Row = dict[str, Any]
_insert_participants = BulkInsert(t.participants)
_insert_outbox = BulkInsert(t.outbox)
_insert_idempotency = BulkInsert(t.idempotency)
# The relay's statements, built once: constructing them each round (and SQLAlchemy keying its
# compiled cache on the new objects) cost about a fifth of the relay thread's time.
_unpublished = select(
    t.outbox.c.id, t.outbox.c.event_id, t.outbox.c.topic, t.outbox.c.key, t.outbox.c.payload
).where(t.outbox.c.published_at.is_(None))
_next_unpublished = _unpublished.order_by(t.outbox.c.id).limit(bindparam("limit"))
_mark_published = (
    update(t.outbox)
    .where(t.outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("when"))
)


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row(mapping: Any) -> Row | None:
    return dict(mapping) if mapping is not None else None


@dataclass(frozen=True)
class ParticipantFilter:
    branch_code: str | None = None
    campaign_code: str | None = None
    segment: str | None = None
    registered_from: date | None = None
    registered_to: date | None = None


class ParticipantRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, rows: Sequence[Row]) -> None:
        _insert_participants(self.conn, rows)

    def get(self, participant_id: str) -> Row | None:
        query = select(t.participants).where(t.participants.c.id == participant_id)
        return _row(self.conn.execute(query).mappings().first())

    def id_for_nik_hash(self, nik_hash: str) -> str | None:
        query = select(t.participants.c.id).where(t.participants.c.nik_hash == nik_hash)
        value: str | None = self.conn.execute(query).scalar()
        return value

    def ids_for_nik_hashes(self, hashes: Iterable[str]) -> dict[str, str]:
        wanted = list(hashes)
        if not wanted:
            return {}
        c = t.participants.c
        query = select(c.nik_hash, c.id).where(c.nik_hash.in_(wanted))
        return {h: pid for h, pid in self.conn.execute(query).all()}

    def set_opted_out(self, participant_id: str, channels: str) -> None:
        self.conn.execute(
            update(t.participants)
            .where(t.participants.c.id == participant_id)
            .values(opted_out_channels=channels)
        )

    def page(self, where: ParticipantFilter, after_seq: int, limit: int) -> list[Row]:
        c = t.participants.c
        query = select(t.participants).where(c.seq > after_seq)
        if where.branch_code:
            query = query.where(c.branch_code == where.branch_code)
        if where.campaign_code:
            query = query.where(c.campaign_code == where.campaign_code)
        if where.segment:
            query = query.where(c.segment == where.segment)
        if where.registered_from:
            query = query.where(c.registered_at >= _start_of(where.registered_from))
        if where.registered_to:
            query = query.where(c.registered_at < _start_of(where.registered_to, next_day=True))
        query = query.order_by(c.seq).limit(limit)
        return [dict(m) for m in self.conn.execute(query).mappings()]

    def count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.participants)).scalar_one())


def _start_of(day: date, next_day: bool = False) -> datetime:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if next_day else start


class ContributionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: Row) -> None:
        self.conn.execute(insert(t.contributions), row)

    def for_period(self, participant_id: str, period: str) -> Row | None:
        c = t.contributions.c
        query = select(t.contributions).where(
            c.participant_id == participant_id, c.period == period
        )
        return _row(self.conn.execute(query).mappings().first())


class CampaignRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: Row) -> None:
        self.conn.execute(insert(t.campaigns), row)

    def get(self, code: str) -> Row | None:
        query = select(t.campaigns).where(t.campaigns.c.code == code)
        return _row(self.conn.execute(query).mappings().first())

    def add_broadcast(self, row: Row) -> None:
        self.conn.execute(insert(t.broadcasts), row)


class OutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, rows: Sequence[Row]) -> None:
        _insert_outbox(self.conn, rows)

    def unpublished(
        self, limit: int, skip_ids: Iterable[int] = (), lock: bool = False
    ) -> list[Row]:
        skip = list(skip_ids)
        query = _next_unpublished
        if skip or lock:
            query = _unpublished.where(t.outbox.c.id.not_in(skip)) if skip else _unpublished
            query = query.order_by(t.outbox.c.id).limit(bindparam("limit"))
            if lock:
                query = query.with_for_update(skip_locked=True)
        rows = self.conn.execute(query, {"limit": limit}).mappings()
        return [dict(m) for m in rows]

    def mark_published(self, ids: Sequence[int], when: datetime) -> None:
        if ids:
            self.conn.execute(_mark_published, {"ids": list(ids), "when": when})

    def pending_count(self) -> int:
        query = select(func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_(None))
        return int(self.conn.execute(query).scalar_one())

    def oldest_pending_created_at(self) -> datetime | None:
        # ids grow with time, so the lowest unpublished id is the oldest row (partial index)
        query = (
            select(t.outbox.c.created_at)
            .where(t.outbox.c.published_at.is_(None))
            .order_by(t.outbox.c.id)
            .limit(1)
        )
        found = self.conn.execute(query).scalar()
        return None if found is None else utc(found)


class ApiKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: Row) -> None:
        self.conn.execute(insert(t.api_keys), row)

    def by_hash(self, key_hash: str) -> Row | None:
        c = t.api_keys.c
        query = select(t.api_keys).where(c.key_hash == key_hash, c.revoked_at.is_(None))
        return _row(self.conn.execute(query).mappings().first())


class IdempotencyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, principal: str, key: str) -> Row | None:
        c = t.idempotency.c
        query = select(t.idempotency).where(c.principal == principal, c.key == key)
        return _row(self.conn.execute(query).mappings().first())

    def add_many(self, rows: Sequence[Row]) -> None:
        _insert_idempotency(self.conn, rows)
