"""Repositories over one open connection; the unit of work owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, insert, select, update

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

    def get(self, participant_id: str, for_update: bool = False) -> Row | None:
        """One participant; `for_update` locks the row until commit (PostgreSQL; SQLite's one
        writer needs no lock), so two corrections at once never both read the old values."""
        query = select(t.participants).where(t.participants.c.id == participant_id)
        if for_update:
            query = query.with_for_update()
        return _row(self.conn.execute(query).mappings().first())

    def update(self, participant_id: str, values: Row) -> None:
        if values:
            self.conn.execute(
                update(t.participants).where(t.participants.c.id == participant_id).values(values)
            )

    def by_number(self, number: str) -> Row | None:
        query = select(t.participants).where(t.participants.c.participant_number == number)
        return _row(self.conn.execute(query).mappings().first())

    def allocate_serials(self, count: int) -> range:
        """`count` fresh participant number serials, taken inside this transaction.

        The counter row stays locked until commit (PostgreSQL row lock; SQLite has one writer
        anyway), and a rollback gives the serials back, so two writers never share a number.
        """
        if count <= 0:
            return range(0)
        c = t.participant_serials.c
        self.conn.execute(
            update(t.participant_serials).where(c.id == 1).values(last_serial=c.last_serial + count)
        )
        last = int(self.conn.execute(select(c.last_serial).where(c.id == 1)).scalar_one())
        return range(last - count + 1, last + 1)

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

    def audience_groups(
        self, branch_codes: Sequence[str], segments: Sequence[str], campaign_codes: Sequence[str]
    ) -> list[tuple[str, bool, str, bool, int]]:
        """(preferred channel, has e-mail, opted-out channels, consent, count) of an audience.

        An empty list matches anyone, as in a broadcast's audience. Grouped in the database:
        a few rows whatever the audience's size.
        """
        c = t.participants.c
        has_email = c.email.is_not(None)
        keys = (c.preferred_channel, has_email, c.opted_out_channels, c.consent_reminders)
        query = select(*keys, func.count()).group_by(*keys)
        for column, wanted in (
            (c.branch_code, branch_codes),
            (c.segment, segments),
            (c.campaign_code, campaign_codes),
        ):
            if wanted:
                query = query.where(column.in_(list(wanted)))
        return [(p, bool(e), o, bool(k), int(n)) for p, e, o, k, n in self.conn.execute(query)]


def _start_of(day: date, next_day: bool = False) -> datetime:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if next_day else start


class ContributionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, rows: Sequence[Row]) -> None:
        if rows:
            self.conn.execute(insert(t.contributions), list(rows))

    def paid_so_far(
        self, participant_id: str, periods: Sequence[str]
    ) -> dict[str, tuple[int, bool]]:
        """period -> (rupiah brought by every payment so far, whether it is paid in full)."""
        c = t.contributions.c
        query = (
            select(c.period, func.sum(c.amount), func.max(case((c.settles, 1), else_=0)))
            .where(c.participant_id == participant_id, c.period.in_(list(periods)))
            .group_by(c.period)
        )
        return {p: (int(total), bool(settled)) for p, total, settled in self.conn.execute(query)}


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


class AuditRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: Row) -> None:
        self.conn.execute(insert(t.participant_audit), row)

    def for_participant(self, participant_id: str) -> list[Row]:
        c = t.participant_audit.c
        query = select(t.participant_audit).where(c.participant_id == participant_id)
        return [dict(m) for m in self.conn.execute(query.order_by(c.id)).mappings()]


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
