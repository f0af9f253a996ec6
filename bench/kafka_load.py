"""Topics full of realistic events, and the raw-client yardstick for consumers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.envelope import encode_event, new_event
from schemas.events import ParticipantRegisteredV2
from schemas.nik import mask_nik, nik_hash
from schemas.vocab import Channel, Programme, Sex, Source
from services.common.kafka_settings import KafkaSettings

BRANCHES = (
    ("SKT", "Asia/Jakarta"),
    ("DPS", "Asia/Makassar"),
    ("JYP", "Asia/Jayapura"),
    ("MDN", "Asia/Jakarta"),
)
SEGMENTS = ("trader", "ojek", "farmer", "fisher", "labourer", "other")


def registrations(
    count: int, *, campaign: str = "BENCH", start: int = 0, since: datetime | None = None
) -> Iterator[tuple[str, bytes]]:
    """`count` participant.registered events (key, value), spread over branches and segments,
    registered a second apart from `since` (default: a fixed day, 2026-11-02)."""
    base = since or datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    for i in range(start, start + count):
        branch, zone = BRANCHES[i % len(BRANCHES)]
        nik = f"3372{(i % 99) + 1:02d}{(i % 28) + 1:02d}0185{i % 10000:04d}"
        data = ParticipantRegisteredV2(
            participant_id=f"bench-{i:09d}",
            full_name=f"Peserta {i}",
            nik_hash=nik_hash(nik, b"bench-key"),
            nik_masked=mask_nik(nik),
            birth_date=datetime(1985, 1, (i % 28) + 1).date(),
            sex=Sex.FEMALE if i % 2 else Sex.MALE,
            phone_e164=f"+62812{i % 100_000_000:08d}",
            segment=SEGMENTS[i % len(SEGMENTS)],
            branch_code=branch,
            branch_timezone=zone,
            campaign_code=campaign,
            programmes=[Programme.JKK, Programme.JKM],
            declared_income=1_000_000,
            monthly_contribution=16_800,
            preferred_channel=Channel.SMS,
            consent_reminders=True,
            source=Source.FIELD,
            registered_at=base + timedelta(seconds=i),
        )
        event = new_event(data, source="/bench", subject=data.participant_id)
        yield data.participant_id, encode_event(event)


def _client_config(settings: KafkaSettings) -> dict[str, Any]:
    return settings.aiokafka_config()


async def _produce(
    settings: KafkaSettings, topic: str, records: Iterable[tuple[str, bytes]]
) -> int:
    producer = AIOKafkaProducer(
        **_client_config(settings), acks=1, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    sent = 0
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value, key=key.encode()))
            sent += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def produce(settings: KafkaSettings, topic: str, records: Iterable[tuple[str, bytes]]) -> int:
    return asyncio.run(_produce(settings, topic, records))


async def _consume_all(settings: KafkaSettings, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, **_client_config(settings), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen, first = 0, 0.0
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if batch and not first:
                first = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        return count / (time.perf_counter() - first)
    finally:
        await consumer.stop()


def raw_aiokafka_rate(settings: KafkaSettings, topic: str, count: int) -> float:
    """Events/s an aiokafka consumer reads the topic at, first fetch to last record."""
    return asyncio.run(_consume_all(settings, topic, count))


def count_records(settings: KafkaSettings, topic: str, quiet_ms: int = 2000) -> int:
    """Records in a topic, counted by reading it (tansu's end offsets are not to be trusted
    after batched writes): stops after `quiet_ms` without a new record."""

    async def count() -> int:
        consumer = AIOKafkaConsumer(
            topic,
            **_client_config(settings),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        seen = 0
        try:
            while batch := await consumer.getmany(timeout_ms=quiet_ms, max_records=10_000):
                seen += sum(len(records) for records in batch.values())
            return seen
        finally:
            await consumer.stop()

    return asyncio.run(count())
