"""Enrollment's one Kafka consumer: the requests people made through the notifier's doors
(`bebas.enrollment.requests`), read with kafka-python in a thread of the API process, like the
outbox relay, or alone (`python -m services.enrollment requests`).

Each record is handled to the end before its offset is committed: applied (or found to change
nothing, or seen before: the handler is idempotent by request id), or written to
`bebas.enrollment.deadletter` with its reason and acknowledged there. A failure that may pass
(database or broker down) commits nothing: the record is read again after a pause, so a
request is never lost and never applied twice.

The embedded broker can hand out a later batch of a partition before an earlier one is
readable (docs/performance.md, "Three things the embedded broker does"); read past, the
earlier batch would never come back. So a batch that starts after the next offset expected
is put back and fetched again, until it has lasted `gap_grace` seconds: on Apache Kafka a gap
can be real (transaction markers, compaction) and must not stop the reader for good.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import Counter

from schemas.deadletter import DeadLetter
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import fetch_wait_ms
from services.common.version import SERVICE_VERSION

log = logging.getLogger(__name__)

HANDLED = Counter(
    "enrollment_requests_total",
    "Requests read from bebas.enrollment.requests, by outcome (applied, unchanged, "
    "duplicate, dead_letter)",
    ["outcome"],
)
RETRIES = Counter(
    "enrollment_request_retries_total", "Requests put back after a failure that may pass"
)

#: what a record's handling came to; raising Refused sends the record to the dead letters
Handler = Callable[[bytes], str]


class Refused(ValueError):
    """A record that can never be handled: its reason goes with it to the dead letters."""


class Consumer(Protocol):
    def poll(self, timeout_ms: int = 0) -> dict[Any, list[Any]]: ...

    def seek(self, partition: Any, offset: int) -> None: ...

    def commit(self) -> None: ...

    def close(self, autocommit: bool = True) -> None: ...


class Producer(Protocol):
    def send(self, topic: str, value: bytes, key: bytes, headers: list[Any]) -> Any: ...

    def close(self, timeout: float | None = None) -> None: ...


def kafka_consumer(settings: KafkaSettings, topic: str, group: str) -> Consumer:
    consumer: Consumer = KafkaConsumer(
        topic,
        group_id=group,
        client_id="bebas-enrollment-requests",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=100,
        fetch_max_wait_ms=fetch_wait_ms(settings),
        # the session every consumer of the platform uses (KAFKA_GROUP_SESSION_TIMEOUT_MS,
        # 10 s): with kafka-python 3's 45 s the embedded broker held each join ~23 s
        # (measured), so every enrollment start read no request for that long
        session_timeout_ms=settings.group_session_timeout_ms,
        heartbeat_interval_ms=1_000,
        **settings.kafka_python_config(),
    )
    return consumer


def kafka_dead_letter_producer(settings: KafkaSettings) -> Producer:
    producer: Producer = KafkaProducer(
        client_id="bebas-enrollment-deadletter",
        acks="all",
        max_block_ms=5_000,
        request_timeout_ms=10_000,
        **settings.kafka_python_config(),
    )
    return producer


class RequestReader:
    def __init__(
        self,
        consumer: Callable[[], Consumer],
        producer: Callable[[], Producer],
        handle: Handler,
        deadletter_topic: str,
        *,
        retry_pause: float = 1.0,
        gap_grace: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_consumer, self._make_producer = consumer, producer
        self.handle = handle
        self.deadletter_topic = deadletter_topic
        self.retry_pause = retry_pause
        self.gap_grace = gap_grace
        self.monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Producer | None = None
        self._next: dict[Any, int] = {}  # partition -> offset expected next
        self._gap_since: dict[Any, float] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="request-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                consumer = self._make_consumer()
            except (KafkaError, OSError) as exc:
                log.warning("request reader cannot reach Kafka yet: %s", exc)
                self._stop.wait(self.retry_pause)
                continue
            try:
                while not self._stop.is_set():
                    self.read(consumer, consumer.poll(timeout_ms=500))
            except (KafkaError, OSError):
                log.exception("request reader lost Kafka; reconnecting")
                self._stop.wait(self.retry_pause)
            finally:
                consumer.close(autocommit=False)
        if self._producer is not None:
            self._producer.close(5)

    # --- one poll's records ----------------------------------------------------------------

    def read(self, consumer: Consumer, batches: dict[Any, list[Any]]) -> None:
        """Handle what one poll returned, then commit how far every partition got."""
        for partition, records in batches.items():
            if records and self._gap(partition, records[0].offset):
                consumer.seek(partition, self._next[partition])
                continue
            for record in records:
                if not self._one(record):
                    consumer.seek(partition, record.offset)  # read it again after a pause
                    RETRIES.inc()
                    self._stop.wait(self.retry_pause)
                    break
                self._next[partition] = record.offset + 1
        if batches:
            consumer.commit()  # the positions: past what was handled, at what was put back

    def _gap(self, partition: Any, first: int) -> bool:
        expected = self._next.get(partition)
        if expected is None or first <= expected:
            self._gap_since.pop(partition, None)
            return False
        since = self._gap_since.setdefault(partition, self.monotonic())
        if self.monotonic() - since < self.gap_grace:
            return True
        log.warning("offsets %s..%s of %s never came: read on", expected, first - 1, partition)
        self._gap_since.pop(partition, None)
        return False

    def _one(self, record: Any) -> bool:
        """True once the record is dealt with for good; False to try it again later."""
        try:
            outcome = self.handle(record.value)
        except Refused as exc:
            if not self._dead_letter(record, exc):
                return False
            outcome = "dead_letter"
        except Exception:
            log.exception("request at %s@%s failed; trying again", record.topic, record.offset)
            return False
        HANDLED.labels(outcome).inc()
        return True

    def _dead_letter(self, record: Any, exc: Refused) -> bool:
        now = datetime.now(UTC)  # a request is refused on its one attempt
        letter = DeadLetter.of(
            service="enrollment",
            source_topic=record.topic,
            value=record.value,
            key=record.key,
            partition=record.partition,
            offset=record.offset,
            reason=str(exc),
            error=exc.__cause__ or exc,
            service_version=SERVICE_VERSION,
            first_attempt_at=now,
            last_attempt_at=now,
            attempts=1,
        )
        try:
            if self._producer is None:
                self._producer = self._make_producer()
            self._producer.send(
                self.deadletter_topic,
                value=letter.model_dump_json().encode(),
                key=letter.source_topic.encode(),
                headers=letter.kafka_headers(),
            ).get(timeout=10)
        except (KafkaError, OSError):
            log.exception("dead letter for %s@%s not written", record.topic, record.offset)
            return False
        log.warning("request at %s@%s refused: %s", record.topic, record.offset, exc)
        return True
