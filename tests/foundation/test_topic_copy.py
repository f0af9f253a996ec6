"""The embedded broker's topics kept across runs: copied from one broker, written back into a
new one at the same offsets, with the groups' committed offsets, or refused whole."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.structs import OffsetAndMetadata

from services.common.broker import EmbeddedBroker
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import committed_offsets, create_topic
from services.common.topic_copy import (
    MANIFEST,
    Record,
    TopicCopyError,
    read_records,
    restore_topics,
    save_topics,
    write_record,
)

Seen = tuple[int, int, int, bytes | None, bytes | None, list[tuple[str, bytes]]]


def test_records_read_back_as_written() -> None:
    records = [
        Record(0, 1_700_000_000_000, b"k", b"v", []),
        Record(1, 1_700_000_000_001, None, None, [("h", b"1"), ("empty", None)]),
        Record(7, 0, b"", b"x" * 70_000, [("\u00e9", b"")]),
    ]
    buffer = io.BytesIO()
    for record in records:
        write_record(buffer, record)
    assert list(read_records(io.BytesIO(buffer.getvalue()))) == records
    with pytest.raises(TopicCopyError):
        list(read_records(io.BytesIO(buffer.getvalue()[:-3])))


@pytest.fixture
def two_brokers(tmp_path: Path) -> Iterator[tuple[KafkaSettings, KafkaSettings]]:
    """Two fresh brokers: one run's and the next run's (copying takes every topic there is)."""
    with (
        EmbeddedBroker(log_file=tmp_path / "first.log") as first,
        EmbeddedBroker(log_file=tmp_path / "second.log") as second,
    ):
        yield (
            KafkaSettings(bootstrap_servers=first.bootstrap_servers),
            KafkaSettings(bootstrap_servers=second.bootstrap_servers),
        )


async def _produce(kafka: KafkaSettings, topic: str) -> None:
    """Multi-record batches, one-record batches, no keys, tombstones and headers."""
    producer = AIOKafkaProducer(linger_ms=50, **kafka.aiokafka_config())
    await producer.start()
    try:
        for round_ in range(3):
            futures = [
                await producer.send(
                    topic,
                    value=None if i == 4 else f"v{round_}-{i}".encode(),
                    key=None if i % 3 == 0 else f"k{i}".encode(),
                    partition=i % 2,
                    headers=[("n", str(i).encode())] if i % 2 else [],
                )
                for i in range(10 if round_ != 1 else 1)
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _read_all(kafka: KafkaSettings, topic: str, expected: int = 21) -> list[Seen]:
    """The topic's records once `expected` are read (or what is there after 10 s)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.aiokafka_config())
    await consumer.start()
    try:
        tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen: list[Seen] = []
        for _ in range(40):
            if len(seen) >= expected:
                break
            for tp, batch in (await consumer.getmany(timeout_ms=250)).items():
                seen += [
                    (tp.partition, m.offset, m.timestamp, m.key, m.value, list(m.headers))
                    for m in batch
                ]
        return sorted(seen)
    finally:
        await consumer.stop()


def _commit(kafka: KafkaSettings, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = KafkaConsumer(group_id=group, **kafka.kafka_python_config())
    consumer.commit(
        {KafkaTopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}
    )
    consumer.close()


def _offsets(kafka: KafkaSettings, group: str) -> dict[tuple[str, int], int]:
    admin = KafkaAdminClient(**kafka.kafka_python_config())
    try:
        found = committed_offsets(admin, [group])[group]
    finally:
        admin.close()
    return {(tp.topic, tp.partition): offset for tp, offset in found.items()}


def test_a_copy_comes_back_at_the_same_offsets_with_the_groups_offsets(
    two_brokers: tuple[KafkaSettings, KafkaSettings], tmp_path: Path
) -> None:
    first, second = two_brokers
    create_topic(first, "bebas.copied", partitions=2)
    create_topic(first, "bebas.empty", partitions=3)
    asyncio.run(_produce(first, "bebas.copied"))
    _commit(first, "readers", "bebas.copied", {0: 7, 1: 3})
    before = asyncio.run(_read_all(first, "bebas.copied"))
    assert len(before) == 21

    folder = tmp_path / "copy"
    assert save_topics(first, folder, "epoch-1") == 21
    assert (folder / MANIFEST).exists()

    assert restore_topics(second, folder) == ("epoch-1", 21)
    assert asyncio.run(_read_all(second, "bebas.copied")) == before
    assert _offsets(second, "readers") == {("bebas.copied", 0): 7, ("bebas.copied", 1): 3}
    metadata = KafkaConsumer(**second.kafka_python_config())
    try:
        assert metadata.partitions_for_topic("bebas.empty") == {0, 1, 2}
    finally:
        metadata.close()
    assert not folder.exists(), "a copy is used once"
    assert restore_topics(second, folder) is None


def test_a_copy_that_cannot_land_at_its_offsets_is_refused(
    two_brokers: tuple[KafkaSettings, KafkaSettings], tmp_path: Path
) -> None:
    first, second = two_brokers
    create_topic(first, "bebas.copied", partitions=2)
    asyncio.run(_produce(first, "bebas.copied"))
    folder = tmp_path / "copy"
    save_topics(first, folder, "epoch-1")
    # the next broker is not empty: the records would land at other offsets
    create_topic(second, "bebas.copied", partitions=2)
    asyncio.run(_produce(second, "bebas.copied"))
    with pytest.raises(TopicCopyError, match="landed at"):
        restore_topics(second, folder)
    assert not folder.exists()


def test_an_unfinished_copy_is_no_copy(tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "0.records").write_bytes(b"partial")
    unreachable = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    assert restore_topics(unreachable, folder) is None
    assert not folder.exists()
