"""The Kafka side of dead-letter listing and replay: read a whole topic without a consumer
group (nothing is committed, any number of readers at once), publish with acks=all, and keep
the replay ledger on its compacted topic."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import ValidationError

from schemas.deadletter import DeadLetter
from services.common.deadletters import Stored
from services.common.end_offsets import true_end_offsets
from services.common.kafka_settings import KafkaSettings

log = logging.getLogger(__name__)
READ_TIMEOUT_S = 60.0


async def read_topic(
    kafka: KafkaSettings, topic: str, timeout_s: float = READ_TIMEOUT_S
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of every partition of the topic, from the beginning to the end it had when
    asked (an absent topic has none)."""
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False, client_id="bebas-deadletters", **kafka.aiokafka_config()
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return []
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        # the embedded broker under-reports a partition's end: read to the true one
        ends = await true_end_offsets(kafka, await consumer.end_offsets(parts))
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        return await _read_to(consumer, {tp: end or 0 for tp, end in ends.items()}, timeout_s)
    finally:
        await consumer.stop()


async def _read_to(
    consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int], timeout_s: float
) -> list[ConsumerRecord[bytes, bytes]]:
    records: list[ConsumerRecord[bytes, bytes]] = []
    pending = {tp for tp, end in ends.items() if end > 0}
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read to the end of {sorted(map(str, pending))}")
        fetched = await consumer.getmany(*pending, timeout_ms=500)
        for tp, batch in fetched.items():
            records += [r for r in batch if r.offset < ends[tp]]
        pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    return records


async def read_dead_letters(kafka: KafkaSettings, topic: str) -> list[Stored]:
    letters = []
    for record in await read_topic(kafka, topic):
        try:
            letter = DeadLetter.model_validate_json(record.value or b"")
        except ValidationError:  # not ours: say so, do not stop the listing
            log.warning("%s[%d]@%d is not a dead letter", topic, record.partition, record.offset)
            continue
        letters.append(Stored(record.topic, record.partition, record.offset, letter))
    return letters


class KafkaReplay:
    """`ReplayPort` on one producer (acks=all); use as `async with KafkaReplay(...) as port`.
    Not an idempotent producer (the embedded broker refuses InitProducerId): a retried send
    may write the record twice, which is the same harmless duplicate as a replay re-sent after
    a crash."""

    def __init__(self, kafka: KafkaSettings, ledger_topic: str) -> None:
        self.kafka = kafka
        self.ledger_topic = ledger_topic
        self.producer = AIOKafkaProducer(
            acks="all",
            client_id="bebas-deadletter-replay",
            **kafka.aiokafka_config(),
        )

    async def __aenter__(self) -> KafkaReplay:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def replayed_ids(self) -> set[str]:
        records = await read_topic(self.kafka, self.ledger_topic)
        # compaction keeps the last record per key; a null value would be a deliberate forget
        latest: dict[str, bytes | None] = {}
        for record in records:
            if record.key is not None:
                latest[record.key.decode()] = record.value
        return {key for key, value in latest.items() if value is not None}

    async def publish(
        self, topic: str, partition: int | None, key: bytes | None, value: bytes
    ) -> None:
        await self.producer.send_and_wait(topic, value=value, key=key, partition=partition)

    async def remember(self, stored: Stored) -> None:
        await self.producer.send_and_wait(
            self.ledger_topic, key=stored.id.encode(), value=_ledger_entry(stored)
        )


def _ledger_entry(stored: Stored) -> bytes:
    letter = stored.letter
    entry: dict[str, Any] = {
        "id": stored.id,
        "deadletter": f"{stored.topic}:{stored.partition}:{stored.offset}",
        "source_topic": letter.source_topic,
        "source_partition": letter.partition,
        "source_offset": letter.offset,
        "replayed_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(entry).encode()
