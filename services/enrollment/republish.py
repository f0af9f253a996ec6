"""Rebuilding the streams on a new embedded broker from the outbox, the durable record.

The outbox keeps every event it ever published (rows are marked, never deleted). When the
platform starts a new, empty embedded broker, every mark refers to a topic that is gone, so
they are all cleared and the relay sends the events again: in their original order (by
outbox id), with their original ids and bytes. Consumers already treat a repeated event id as
a duplicate, and they rebuild their own state from the new topics (services/common/
broker_epoch.py discards the old one).

On a real cluster no epoch is set and nothing happens.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, update

from services.common.broker_epoch import current_epoch, is_stale, record_epoch
from services.enrollment.adapters import tables as t

log = logging.getLogger(__name__)


def republish_for_new_broker(engine: Engine, folder: Path, epoch: str | None = None) -> int:
    """Mark every outbox row unpublished when `folder` last saw another broker; returns how
    many rows will be sent again. Runs before the relay and the API start, so the old events
    go out before any new one."""
    epoch = epoch if epoch is not None else current_epoch()
    if epoch is None or not is_stale(folder, epoch):
        return 0
    with engine.begin() as conn:
        result = conn.execute(
            update(t.outbox).where(t.outbox.c.published_at.is_not(None)).values(published_at=None)
        )
    record_epoch(folder, epoch)
    if result.rowcount:
        log.warning(
            "new embedded broker: republishing %d outbox events in their original order",
            result.rowcount,
        )
    return int(result.rowcount)
