"""On a new embedded broker the outbox is sent again: every event, in order, same bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from services.common.broker_epoch import EPOCH_ENV
from services.enrollment.adapters import tables
from services.enrollment.adapters.repository import OutboxRepository
from services.enrollment.bootstrap import Container
from services.enrollment.republish import republish_for_new_broker


def _outbox(container: Container) -> list[tuple[int, str, bytes, bool]]:
    o = tables.outbox.c
    query = select(o.id, o.event_id, o.payload, o.published_at.is_(None)).order_by(o.id)
    with container.engine.connect() as conn:
        return [(r[0], r[1], r[2], bool(r[3])) for r in conn.execute(query)]


def _publish_all(container: Container) -> None:
    with container.engine.connect() as conn:
        ids = [row[0] for row in _outbox(container)]
        OutboxRepository(conn).mark_published(ids, datetime.now(UTC))
        conn.commit()


def test_a_new_broker_gets_every_event_again_once(container: Container, tmp_path: Path) -> None:
    before = _outbox(container)
    assert before, "the demo seed writes events"
    _publish_all(container)
    folder = tmp_path / "marker"

    assert republish_for_new_broker(container.engine, folder, epoch="first") == len(before)
    again = _outbox(container)
    assert [(i, e, p) for i, e, p, _ in again] == [(i, e, p) for i, e, p, _ in before]
    assert all(unpublished for *_, unpublished in again)
    with container.engine.connect() as conn:
        queued = OutboxRepository(conn).unpublished(1000)
    assert [row["event_id"] for row in queued] == [e for _, e, _, _ in before], "original order"

    _publish_all(container)
    assert republish_for_new_broker(container.engine, folder, epoch="first") == 0
    assert not any(unpublished for *_, unpublished in _outbox(container))
    assert republish_for_new_broker(container.engine, folder, epoch="second") == len(before)


def test_without_an_epoch_nothing_is_sent_again(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real cluster keeps its topics: the launcher sets no epoch there."""
    monkeypatch.delenv(EPOCH_ENV, raising=False)
    _publish_all(container)
    assert republish_for_new_broker(container.engine, tmp_path / "marker") == 0
    assert not any(unpublished for *_, unpublished in _outbox(container))
    assert not (tmp_path / "marker").exists()
