"""The embedded broker's topics, kept across `make run`s.

The embedded broker (tansu) keeps everything in memory, so every `make run` starts an empty
one. When `make run` stops, after every service has stopped, the launcher copies every topic's
records (with their offsets), the partition counts and every consumer group's committed offsets
into one folder; the next `make run` writes the same records back into its new broker in the
same order, checks that each one got its old offset, commits the groups' offsets again and hands
the services the previous broker's epoch. Their local state (faust tables, enrollment's
"published" marks) then still describes the topics, so nothing is rebuilt, re-offered to a
provider or recounted: the restart takes as long as the copy.

A copy is used once, and only if it is complete (its manifest is written last, the folder is
renamed into place). Without one (the platform was killed, the copy failed, an offset came
back different) the services rebuild from enrollment's database as before
(`services/common/broker_epoch.py`). On a real cluster none of this runs: it keeps its topics.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.structs import OffsetAndMetadata

from services.common.end_offsets import true_end_offsets
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import admin_client, committed_offsets, create_topic

MANIFEST = "manifest.json"
#: offset, timestamp (ms), key length, value length, header count; a length of -1 is None
_RECORD = struct.Struct(">qqiii")
_LENGTH = struct.Struct(">i")
#: a copy that takes longer is abandoned (the next start rebuilds instead)
SAVE_TIMEOUT_S = 60.0


class TopicCopyError(RuntimeError):
    """The copy could not be made or written back; the platform rebuilds instead."""


@dataclass(frozen=True)
class Record:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


# --- the records' file format ---------------------------------------------------------------


def _write_bytes(out: IO[bytes], data: bytes | None) -> None:
    if data is not None:
        out.write(data)


def write_record(out: IO[bytes], record: Record) -> None:
    key_len = -1 if record.key is None else len(record.key)
    value_len = -1 if record.value is None else len(record.value)
    count = len(record.headers)
    out.write(_RECORD.pack(record.offset, record.timestamp, key_len, value_len, count))
    _write_bytes(out, record.key)
    _write_bytes(out, record.value)
    for name, value in record.headers:
        encoded = name.encode()
        out.write(_LENGTH.pack(len(encoded)) + encoded)
        out.write(_LENGTH.pack(-1 if value is None else len(value)))
        _write_bytes(out, value)


def _read_exact(source: IO[bytes], size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise TopicCopyError("a record file ends in the middle of a record")
    return data


def _read_optional(source: IO[bytes], size: int) -> bytes | None:
    return None if size < 0 else _read_exact(source, size)


def read_records(source: IO[bytes]) -> Iterator[Record]:
    while head := source.read(_RECORD.size):
        if len(head) != _RECORD.size:
            raise TopicCopyError("a record file ends in the middle of a record")
        offset, timestamp, key_len, value_len, count = _RECORD.unpack(head)
        key = _read_optional(source, key_len)
        value = _read_optional(source, value_len)
        headers = []
        for _ in range(count):
            (name_len,) = _LENGTH.unpack(_read_exact(source, _LENGTH.size))
            name = _read_exact(source, name_len).decode()
            (header_len,) = _LENGTH.unpack(_read_exact(source, _LENGTH.size))
            headers.append((name, _read_optional(source, header_len)))
        yield Record(offset, timestamp, key, value, headers)


# --- saving ---------------------------------------------------------------------------------


def save_topics(kafka: KafkaSettings, folder: Path, epoch: str) -> int:
    """Copy every topic and committed group offset into `folder` (replacing an older copy);
    returns the number of records copied. Raises TopicCopyError and leaves no copy when it
    cannot finish."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        files, records = asyncio.run(_copy_records(kafka, partial))
        manifest = {
            "epoch": epoch,
            "saved_at": time.time(),
            "files": files,
            "groups": _committed_offsets(kafka),
        }
        (partial / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        partial.rename(folder)
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, TopicCopyError):
            raise
        raise TopicCopyError(f"copying the topics failed: {exc!r}") from exc
    return records


async def _copy_records(kafka: KafkaSettings, folder: Path) -> tuple[list[dict[str, Any]], int]:
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False,
        client_id="bebas-topic-copy",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
        **kafka.aiokafka_config(),
    )
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if not t.startswith("__"))
        tps = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not tps:
            return [], 0
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # the embedded broker under-reports ends after a multi-record batch
        ends = await true_end_offsets(kafka, await consumer.end_offsets(tps))
        files = [
            {"topic": tp.topic, "partition": tp.partition, "file": f"{i}.records", "end": ends[tp]}
            for i, tp in enumerate(tps)
        ]
        outputs: dict[Any, IO[bytes]] = {
            tp: (folder / f"{i}.records").open("wb") for i, tp in enumerate(tps)
        }
        try:
            copied = await _drain(consumer, {tp: ends[tp] or 0 for tp in tps}, outputs)
        finally:
            for out in outputs.values():
                out.close()
        return files, copied
    finally:
        await consumer.stop()


async def _drain(
    consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int], outputs: dict[Any, IO[bytes]]
) -> int:
    pending = {tp for tp, end in ends.items() if end > 0}
    copied = 0
    deadline = time.monotonic() + SAVE_TIMEOUT_S
    while pending:
        if time.monotonic() > deadline:
            raise TopicCopyError(f"could not read {len(pending)} partitions to their end in time")
        fetched = await consumer.getmany(*pending, timeout_ms=500, max_records=20_000)
        for tp, batch in fetched.items():
            for message in batch:
                headers = [(name, value) for name, value in message.headers or ()]
                write_record(
                    outputs[tp],
                    Record(message.offset, message.timestamp, message.key, message.value, headers),
                )
            copied += len(batch)
            if batch and batch[-1].offset + 1 >= ends[tp]:
                pending.discard(tp)
    return copied


def _committed_offsets(kafka: KafkaSettings) -> dict[str, list[list[Any]]]:
    admin = admin_client(kafka)
    try:
        return {
            group: [[tp.topic, tp.partition, offset] for tp, offset in sorted(offsets.items())]
            for group, offsets in committed_offsets(admin).items()
        }
    finally:
        admin.close()


# --- writing back ---------------------------------------------------------------------------


def restore_topics(kafka: KafkaSettings, folder: Path) -> tuple[str, int] | None:
    """Write a complete copy back into an empty broker; returns (the copy's epoch, records
    written), or None when there is no complete copy. The copy is used up either way. Raises
    TopicCopyError when the broker now holds part of it (the caller starts a fresh broker)."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        shutil.rmtree(folder, ignore_errors=True)  # an unfinished copy is no copy
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        written = asyncio.run(_write_back(kafka, folder, manifest["files"]))
        _commit_offsets(kafka, manifest["groups"])
        return str(manifest["epoch"]), written
    except TopicCopyError:
        raise
    except Exception as exc:
        raise TopicCopyError(f"writing the topics back failed: {exc!r}") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _write_back(kafka: KafkaSettings, folder: Path, files: list[dict[str, Any]]) -> int:
    partitions: dict[str, int] = {}
    for entry in files:
        partitions[entry["topic"]] = max(partitions.get(entry["topic"], 0), entry["partition"] + 1)
    for topic, count in partitions.items():
        create_topic(kafka, topic, partitions=count)
    producer = AIOKafkaProducer(
        acks="all",
        client_id="bebas-topic-copy",
        linger_ms=5,
        max_batch_size=1 << 20,
        max_request_size=16 << 20,
        **kafka.aiokafka_config(),
    )
    await producer.start()
    written = 0
    try:
        for entry in files:
            written += await _write_partition(producer, folder / entry["file"], entry)
    finally:
        await producer.stop()
    return written


async def _write_partition(producer: AIOKafkaProducer, path: Path, entry: dict[str, Any]) -> int:
    """One partition's records in their order; each must land at the offset it had."""
    sent: list[tuple[int, asyncio.Future[Any]]] = []
    with path.open("rb") as source:
        for record in read_records(source):
            future = await producer.send(
                entry["topic"],
                value=record.value,
                key=record.key,
                partition=entry["partition"],
                timestamp_ms=record.timestamp,
                headers=record.headers,
            )
            sent.append((record.offset, future))
    for offset, future in sent:
        metadata = await future
        if metadata.offset != offset:
            raise TopicCopyError(
                f"{entry['topic']}[{entry['partition']}]: a record that was at offset {offset} "
                f"landed at {metadata.offset}"
            )
    return len(sent)


def _commit_offsets(kafka: KafkaSettings, groups: dict[str, list[list[Any]]]) -> None:
    for group, offsets in groups.items():
        if not offsets:
            continue
        consumer = KafkaConsumer(
            group_id=group,
            enable_auto_commit=False,
            client_id="bebas-topic-copy",
            **kafka.kafka_python_config(),
        )
        try:
            consumer.commit(
                {
                    KafkaTopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)
                    for topic, partition, offset in offsets
                }
            )
        finally:
            consumer.close()
