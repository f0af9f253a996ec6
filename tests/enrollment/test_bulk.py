"""BulkInsert stores exactly what SQLAlchemy's own insert() stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from services.enrollment.adapters import tables as t
from services.enrollment.adapters.bulk import BulkInsert
from services.enrollment.adapters.db import make_engine, migrate
from services.enrollment.domain.participant_number import participant_number


def _participant(n: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "nik_hash": f"{n:064x}",
        "nik_masked": "3372**********01",
        "participant_number": participant_number(n),
        "full_name": f"Sri Wahyuni {n} é",
        "birth_date": date(1980, 1, 2 + n),
        "sex": "F",
        "province_code": "33",
        "phone_e164": f"+62812{n:08d}",
        "email": None,
        "segment": "trader",
        "branch_code": "SURAKARTA",
        "campaign_code": None,
        "programmes": "JKK,JKM",
        "declared_income": 1_500_000 + n,
        "monthly_contribution": 16_800,
        "preferred_channel": "sms",
        "language": "id",
        "consent_reminders": n % 2 == 0,
        "source": "import",
        "community": None,
        "officer_id": "k-1",
        "opted_out_channels": "",
        "registered_at": datetime(2026, 11, 20, 9, 0, n, 5_000 * n, tzinfo=UTC),
    }
    return {**row, **overrides}


def test_rows_read_back_the_same_as_rows_inserted_by_sqlalchemy(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    plus7 = timezone(timedelta(hours=7))
    rows = [
        _participant(1),
        _participant(2, email="sri@example.id", campaign_code="KKBC", community="Ojek"),
        _participant(3, registered_at=datetime(2026, 11, 20, 16, 0, tzinfo=plus7)),
    ]
    columns = [c for c in t.participants.c if c.name != "seq"]
    try:
        with engine.begin() as conn:
            conn.execute(insert(t.participants), rows)
            expected = [
                tuple(r) for r in conn.execute(select(*columns).order_by(t.participants.c.seq))
            ]
            conn.execute(delete(t.participants))
            BulkInsert(t.participants)(conn, rows)
            BulkInsert(t.participants)(conn, [])  # nothing to do is fine
            stored = [
                tuple(r) for r in conn.execute(select(*columns).order_by(t.participants.c.seq))
            ]
            outbox = {"event_id": "e-1", "topic": "x", "key": "k", "event_type": "a.b"}
            outbox |= {"payload": b'{"a":1}', "created_at": datetime(2026, 1, 1, tzinfo=UTC)}
            BulkInsert(t.outbox)(conn, [outbox])
            payload = conn.execute(select(t.outbox.c.payload)).scalar_one()
    finally:
        engine.dispose()
    assert stored == expected
    assert bytes(payload) == b'{"a":1}'


def test_a_column_with_a_default_must_be_given() -> None:
    engine = make_engine("sqlite://")
    migrate(engine)
    row = _participant(1)
    del row["opted_out_channels"]
    with engine.begin() as conn, pytest.raises(ValueError, match="opted_out_channels"):
        BulkInsert(t.participants)(conn, [row])
    engine.dispose()
