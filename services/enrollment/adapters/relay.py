"""The outbox relay: publishes committed outbox rows to Kafka with kafka-python, then marks them.

Delivery is at-least-once towards Kafka and exactly-once per event id for a consumer that
dedupes by id: a row is marked published only after the broker acknowledged it (acks=all,
idempotent producer), and rows are re-sent only when their send failed. While a batch is still
unacknowledged nothing newer is sent, which keeps one participant's events in order.

Only one relay publishes at a time: on PostgreSQL a session advisory lock elects it, on SQLite
a lock file beside the database. Others wait as hot standbys.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import Counter
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from services.common.kafka_settings import KafkaSettings
from services.enrollment.adapters.db import reader
from services.enrollment.adapters.repository import OutboxRepository

log = logging.getLogger(__name__)

PUBLISHED = Counter("enrollment_outbox_published_total", "Outbox events acknowledged by Kafka")
SEND_FAILURES = Counter("enrollment_outbox_send_failures_total", "Outbox sends that failed")
_ADVISORY_LOCK_ID = 0x6265  # "be": with the schema hash, the key every relay of a database shares


class Producer(Protocol):
    def send(self, topic: str, value: bytes, key: bytes, headers: list[Any]) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


def kafka_producer(settings: KafkaSettings) -> Producer:
    producer: Producer = KafkaProducer(
        client_id="bebas-enrollment-relay",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        max_block_ms=5_000,
        bootstrap_timeout_ms=5_000,
        request_timeout_ms=10_000,
        delivery_timeout_ms=60_000,
        retry_backoff_ms=200,
        **settings.kafka_python_config(),
    )
    return producer


class Leadership:
    """Decides whether this relay may publish now."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._file: int | None = None

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            return self._postgres()
        if self.engine.dialect.name == "sqlite":
            return self._lock_file()
        return True

    def _postgres(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self.engine.connect()
                # One lock per schema: relays of different databases never wait on each other.
                got = self._conn.execute(
                    text("SELECT pg_try_advisory_lock(:id, hashtext(current_schema()))"),
                    {"id": _ADVISORY_LOCK_ID},
                ).scalar()
                self._conn.commit()
                if not got:
                    self.release()
                    return False
            else:
                self._conn.execute(text("SELECT 1"))  # still alive, so still the holder
                self._conn.commit()
            return True
        except SQLAlchemyError:
            self.release()
            return False

    def _lock_file(self) -> bool:
        if self._file is not None:
            return True
        database = self.engine.url.database
        if not database or database == ":memory:":
            return True
        fd = os.open(Path(database).with_suffix(".relay.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._file = fd
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                # Closing the session (not returning it to the pool) is what frees the lock.
                conn.invalidate()
                conn.close()
        fd, self._file = self._file, None
        if fd is not None:
            os.close(fd)


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        producer_factory: Callable[[], Producer],
        batch_size: int = 1000,
        poll_interval: float = 0.5,
        flush_timeout: float = 10.0,
        round_interval: float = 0.05,
        bulk_interval: float = 5.0,
    ) -> None:
        self.engine = engine
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.flush_timeout = flush_timeout
        self.round_interval = round_interval
        self.bulk_interval = bulk_interval
        self._bulk_writers = 0
        self._bulk_lock = threading.Lock()
        self.leadership = Leadership(engine)
        self._producer: Producer | None = None
        self._pending: dict[int, Any] = {}  # outbox id -> kafka future
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.rounds = 0  # rounds run by run(), published or not: shows the relay is polling

    # --- lifecycle -------------------------------------------------------------------------

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: publish now, not at the next poll."""
        self._wake.set()

    @contextlib.contextmanager
    def bulk_write(self) -> Iterator[None]:
        """Held while a bulk import writes: publish one batch per `bulk_interval` meanwhile.

        The import and the relay share one GIL and SQLite's one writer: publishing every
        chunk as it commits made imports a quarter slower. The rows wait safely in the
        outbox, and the relay drains them at full speed as soon as the last import ends.
        Every batch waits out the interval first, so a short import is not interrupted.
        """
        with self._bulk_lock:
            self._bulk_writers += 1
        try:
            yield
        finally:
            with self._bulk_lock:
                self._bulk_writers -= 1
            self.wake()

    def _pace_for_bulk_writes(self) -> None:
        deadline = time.monotonic() + self.bulk_interval
        while self._bulk_writers and time.monotonic() < deadline:
            if self._stop.wait(0.1):
                return

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        backoff = self.poll_interval
        while not self._stop.is_set():
            if self._bulk_writers:
                self._pace_for_bulk_writes()
            started = time.monotonic()
            try:
                sent = self.tick()
                backoff = self.poll_interval
            except Exception as exc:  # the relay must outlive any broker or database outage
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay: %s; retrying in %.1fs", self.last_error, backoff)
                self._drop_producer()
                sent = 0
                backoff = min(backoff * 2, 10.0)
            self.rounds += 1
            if sent < self.batch_size and not self._bulk_writers:  # full: more may be waiting
                self._wake.wait(backoff)
                self._wake.clear()
                # Rounds start at most every `round_interval`: after a quiet spell the first
                # commit is published at once, under load one round carries the commits of
                # many requests (kafka-python spends about 1 ms of CPU per round besides its
                # cost per record, and every round takes two queries and the write lock).
                self._stop.wait(max(0.0, started + self.round_interval - time.monotonic()))
        self._close()

    def _close(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.flush(self.flush_timeout)
            self._harvest()
        self._drop_producer()
        self.leadership.release()

    def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        self._pending.clear()  # unacknowledged rows stay unpublished and are sent again
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(timeout=1)

    # --- one round ---------------------------------------------------------------------------

    def tick(self) -> int:
        """Publish one batch; returns how many rows were acknowledged in this round."""
        if not self.leadership.acquire():
            return 0
        if self._pending:
            # An earlier batch is not acknowledged yet: wait for it before sending newer rows.
            with contextlib.suppress(KafkaError):
                self._ensure_producer().flush(self.flush_timeout)
            return self._harvest()
        with reader(self.engine) as conn:
            rows = OutboxRepository(conn).unpublished(self.batch_size)
            conn.rollback()
        if not rows:
            return 0
        producer = self._ensure_producer()
        try:
            for row in rows:
                future = producer.send(
                    row["topic"],
                    value=row["payload"],
                    key=row["key"].encode(),
                    headers=[("ce_id", row["event_id"].encode())],
                )
                self._pending[row["id"]] = future
        finally:
            # Whatever was handed to the producer is flushed and accounted for.
            with contextlib.suppress(KafkaError):
                producer.flush(self.flush_timeout)
            acknowledged = self._harvest()
        return acknowledged

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            self._producer = self.producer_factory()
            self.last_error = None
        return self._producer

    def _harvest(self) -> int:
        done: list[int] = []
        for outbox_id, future in list(self._pending.items()):
            if not future.is_done:
                continue
            del self._pending[outbox_id]
            if future.succeeded():
                done.append(outbox_id)
            else:
                SEND_FAILURES.inc()
                self.last_error = f"send failed: {future.exception}"
        if done:
            with self.engine.connect() as conn:
                OutboxRepository(conn).mark_published(done, datetime.now(UTC))
                conn.commit()
            PUBLISHED.inc(len(done))
        return len(done)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
