"""After a run, look everywhere a raw NIK could leak: every topic, every log and data file.

DOMAIN.md: the NIK is sensitive personal data; events carry only its keyed hash and a masked
form. This scan is how a test proves it, against the very NIKs the run registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import admin_client
from services.common.topic_reader import partitions_of, read_to_end


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
    scanned, leaks = 0, []
    for tp, record in read_to_end(kafka, partitions_of(kafka, topics), timeout_s):
        scanned += 1
        # headers too: dead letters repeat their error context there
        headers = [value or b"" for _, value in record.headers or ()]
        blob = b"\0".join([record.key or b"", record.value or b"", *headers])
        where = f"{tp.topic}[{tp.partition}]@{record.offset}"
        leaks += [Leak(where, nik.decode()) for nik in _find(blob, wanted)]
    return scanned, leaks
