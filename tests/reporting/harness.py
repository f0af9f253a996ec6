"""Shared pieces of the reporting integration tests: topics, publishing, workers, polling."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from services.common.apikeys import key_digest
from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port
from services.reporting.runner import WorkerConfig, WorkerProcess
from tests.reporting.mix import Outgoing

T = TypeVar("T")

#: the keys every test worker accepts (REPORTING_KEY_HASHES holds their digests)
ADMIN_KEY = "bck_reporting-test-admin-key-000001"
VIEWER_KEY = "bck_reporting-test-viewer-key-00002"
OFFICER_KEY = "bck_reporting-test-officer-mks-0003"
KEY_HASHES = ",".join(
    (
        f"{key_digest(ADMIN_KEY)}:admin",
        f"{key_digest(VIEWER_KEY)}:viewer",
        f"{key_digest(OFFICER_KEY)}:officer:MKS",
    )
)


@dataclass(frozen=True)
class Topics:
    participants: str
    campaigns: str
    notifications: str
    deadletter: str

    def name(self, short: str) -> str:
        return str(getattr(self, short))


def make_topics(topic_factory: Callable[..., str]) -> Topics:
    return Topics(
        participants=topic_factory("participants", partitions=6),
        campaigns=topic_factory("campaigns", partitions=3),
        notifications=topic_factory("notifications", partitions=6),
        deadletter=topic_factory("reporting-dl", partitions=1),
    )


def publish(
    kafka: KafkaSettings, topics: Topics, records: list[Outgoing]
) -> dict[tuple[str, int], int]:
    """Send in order (batched, like a real producer); returns the end offset per partition."""
    producer = KafkaProducer(linger_ms=20, **kafka.kafka_python_config())
    try:
        futures = [producer.send(topics.name(r.topic), key=r.key, value=r.value) for r in records]
        producer.flush()
        ends: dict[tuple[str, int], int] = {}
        for future in futures:
            meta = future.get(timeout=10)
            ends[(meta.topic, meta.partition)] = max(
                ends.get((meta.topic, meta.partition), 0), meta.offset + 1
            )
        return ends
    finally:
        producer.close()


def read_records(
    kafka: KafkaSettings, topic: str, expect: int, timeout: float = 15.0
) -> list[ConsumerRecord]:
    consumer = KafkaConsumer(
        auto_offset_reset="earliest", enable_auto_commit=False, **kafka.kafka_python_config()
    )
    try:
        consumer.assign([TopicPartition(topic, 0)])
        found: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while len(found) < expect and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300).values():
                found.extend(records)
        # one more short poll: anything beyond `expect` is a finding too
        for records in consumer.poll(timeout_ms=500).values():
            found.extend(records)
        return found
    finally:
        consumer.close()


def other_services_topics(topics: Topics) -> dict[str, str]:
    """The other services' dead-letter (and replay target) topics a test's worker lists:
    named after its own, so no test sees another's letters."""
    return {
        "REPORTING_NOTIFIER_DEADLETTER_TOPIC": f"{topics.deadletter}-notifier",
        "REPORTING_NOTIFIER_WORK_TOPIC": f"{topics.deadletter}-notifier-work",
        "REPORTING_ENROLLMENT_DEADLETTER_TOPIC": f"{topics.deadletter}-enrollment",
        "REPORTING_ENROLLMENT_REQUESTS_TOPIC": f"{topics.deadletter}-enrollment-requests",
    }


def worker(
    kafka: KafkaSettings,
    topics: Topics,
    group: str,
    tmp: Path,
    name: str,
    store: str = "memory://",
    data: str | None = None,
    env: dict[str, str] | None = None,
) -> WorkerProcess:
    config = WorkerConfig(
        bootstrap_servers=kafka.bootstrap_servers,
        port=free_port(),
        group_id=group,
        participants_topic=topics.participants,
        campaigns_topic=topics.campaigns,
        notifications_topic=topics.notifications,
        deadletter_topic=topics.deadletter,
        data_dir=tmp / (data or name),
        store=store,
        extra_env={
            "REPORTING_BATCH_WITHIN_S": "0.05",
            "REPORTING_LAG_INTERVAL_S": "0.5",
            "REPORTING_LOG_LEVEL": "info",
            "REPORTING_KEY_HASHES": KEY_HASHES,
            "REPORTING_SESSION_SECRET": "reporting-test-session-secret-0001",
            **other_services_topics(topics),
            **(env or {}),
        },
    )
    return WorkerProcess(config, tmp / f"{name}.log")


def get(url: str, path: str, key: str = ADMIN_KEY, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(url + path, params=params, headers=headers, timeout=10.0)


def poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 30.0) -> T:
    """Fetch until `done` or the deadline; returns the last value (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = fetch()
    return value


def json_or_none(response: httpx.Response) -> Any:
    return response.json() if response.status_code == 200 else None


def stream_health(url: str) -> str:
    """What a worker read, counted, found duplicated or dead, and its lag: said when a figure
    is wrong, so an intermittent miscount shows whether the record was never read or read and
    not counted."""
    try:
        return get(url, "/v1/stream-health").text
    except httpx.HTTPError as exc:
        return f"stream health unavailable: {exc!r}"


def dead_letters(values: list[bytes]) -> Iterator[dict[str, Any]]:
    for value in values:
        doc = json.loads(value)
        doc["original"] = base64.b64decode(doc["value_b64"])
        yield doc
