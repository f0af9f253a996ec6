"""After a run, look everywhere a raw NIK could leak: every topic, every log and data file.

DOMAIN.md: the NIK is sensitive personal data; events carry only its keyed hash and a masked
form. This scan is how a test proves it, against the very NIKs the run registered.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import admin_client


@dataclass(frozen=True)
class Leak:
    where: str
    nik: str


def _find(blob: bytes, niks: set[bytes]) -> Iterable[bytes]:
    return (nik for nik in niks if nik in blob)


def scan_files(root: Path, niks: set[str]) -> list[Leak]:
    """Every file under root, read as bytes (SQLite pages, logs, .eml, jsonl alike)."""
    wanted = {n.encode() for n in niks}
    leaks = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        blob = path.read_bytes()
        leaks += [Leak(str(path), nik.decode()) for nik in _find(blob, wanted)]
    return leaks


def scan_topics(
    kafka: KafkaSettings, niks: set[str], timeout_s: float = 120
) -> tuple[int, list[Leak]]:
    """Every record of every topic on the broker: returns (records scanned, leaks)."""
    wanted = {n.encode() for n in niks}
    admin = admin_client(kafka)
    try:
        topics = [t for t in admin.list_topics() if not t.startswith("__")]
    finally:
        admin.close()
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    scanned, leaks = 0, []
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        remaining = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read to the end of {sorted(map(str, remaining))}")
            for tp, records in consumer.poll(timeout_ms=1000, max_records=10_000).items():
                scanned += len(records)
                for record in records:
                    # headers too: dead letters repeat their error context there
                    headers = [value or b"" for _, value in record.headers or ()]
                    blob = b"\0".join([record.key or b"", record.value or b"", *headers])
                    where = f"{tp.topic}[{tp.partition}]@{record.offset}"
                    leaks += [Leak(where, nik.decode()) for nik in _find(blob, wanted)]
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
    finally:
        consumer.close()
    return scanned, leaks
