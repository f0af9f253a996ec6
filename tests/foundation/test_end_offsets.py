"""True end offsets on the broker under test: what faust's table recovery reads up to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from services.common.end_offsets import true_end_offsets
from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings


async def _produce_batches(kafka: KafkaSettings, topic: str, sizes: list[int]) -> None:
    """Each size is sent as one produce batch to partition 0 (linger holds the batch open)."""
    producer = AIOKafkaProducer(linger_ms=100, **kafka.aiokafka_config())
    await producer.start()
    try:
        for size in sizes:
            futures = [await producer.send(topic, b"x", partition=0) for _ in range(size)]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _reported(kafka: KafkaSettings, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.aiokafka_config())
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


def test_end_is_one_past_the_last_record_after_multi_record_batches(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("ends", partitions=2)
    written, empty = TopicPartition(topic, 0), TopicPartition(topic, 1)

    async def scenario() -> tuple[dict[TopicPartition, int], dict[object, int | None]]:
        await _produce_batches(kafka_settings, topic, [10, 1, 7])
        reported = await _reported(kafka_settings, [written, empty])
        return reported, await true_end_offsets(kafka_settings, reported)

    reported, corrected = asyncio.run(scenario())
    assert corrected == {written: 18, empty: 0}
    # the reported figure is never above the truth (tansu under-reports; Kafka is exact)
    assert reported[written] <= 18


def test_single_record_batches_and_unknown_ends_are_kept(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("ends-single")
    tp = TopicPartition(topic, 0)

    async def scenario() -> dict[object, int | None]:
        await _produce_batches(kafka_settings, topic, [1, 1, 1])
        return await true_end_offsets(kafka_settings, {tp: 3, TopicPartition(topic, 9): None})

    assert asyncio.run(scenario()) == {tp: 3, TopicPartition(topic, 9): None}


def test_faust_apps_recover_to_the_true_end(kafka_settings: KafkaSettings) -> None:
    """Every app built by make_faust_app asks the probe, not the broker's figure alone."""
    app = make_faust_app("bebas-test-end-offsets", kafka_settings)
    patched = app.consumer.highwaters
    assert patched.__qualname__.startswith("correct_recovery_highwaters")
    assert app._consumer is not None  # created on first use, by the wrapped factory
