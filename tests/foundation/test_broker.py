"""The broker module and the session broker: start, topics, produce/consume round trips, stop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer

from schemas.topics import CATALOGUE
from services.common.broker import EmbeddedBroker
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import admin_client, ensure_topics
from tests.kafka_fixtures import KafkaUnderTest, consumer_defaults


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_embedded_broker_starts_creates_catalogue_and_stops() -> None:
    broker = EmbeddedBroker()
    broker.start()
    try:
        assert _port_open(broker.port)
        created = broker.create_catalogue_topics()
        assert sorted(created) == sorted(t.name for t in CATALOGUE)
        assert broker.create_catalogue_topics() == []  # idempotent
        client = admin_client(KafkaSettings(bootstrap_servers=broker.bootstrap_servers))
        try:
            described = {
                t["name"]: len(t["partitions"])
                for t in client.describe_topics([t.name for t in CATALOGUE])
            }
        finally:
            client.close()
        assert described == {t.name: t.partitions for t in CATALOGUE}
    finally:
        broker.stop()
    assert not _port_open(broker.port)
    assert broker.pid is None


def test_broker_that_cannot_start_says_so() -> None:
    with EmbeddedBroker() as running:
        clash = EmbeddedBroker(port=running.port)
        with pytest.raises((RuntimeError, TimeoutError)):
            clash.start(timeout=5)
        assert clash.pid is None


def test_kafka_python_round_trip(
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    group_factory: Callable[[str], str],
) -> None:
    topic = topic_factory("kp", partitions=2)
    producer = KafkaProducer(acks="all", **kafka_settings.kafka_python_config())
    for i in range(20):
        producer.send(topic, key=f"k{i % 4}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic,
        group_id=group_factory("kp"),
        consumer_timeout_ms=10_000,
        **consumer_defaults(),
        **kafka_settings.kafka_python_config(),
    )
    seen = []
    for record in consumer:
        seen.append(record.value.decode())
        if len(seen) == 20:
            break
    consumer.close()
    assert sorted(seen) == sorted(f"v{i}" for i in range(20))


async def test_aiokafka_round_trip_keeps_per_key_order(
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    group_factory: Callable[[str], str],
) -> None:
    topic = topic_factory("aio", partitions=3)
    # aiokafka's idempotent producer is not used: tansu answers its InitProducerId with an
    # unknown error (kafka-python's idempotent producer works; the relay uses that one).
    producer = AIOKafkaProducer(acks="all", **kafka_settings.aiokafka_config())
    await producer.start()
    try:
        for i in range(30):
            await producer.send(topic, key=f"p{i % 3}".encode(), value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group_factory("aio"),
        **consumer_defaults(),
        **kafka_settings.aiokafka_config(),
    )
    await consumer.start()
    per_key: dict[bytes, list[int]] = {}
    try:
        async with asyncio.timeout(30):
            while sum(map(len, per_key.values())) < 30:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for r in records:
                        per_key.setdefault(r.key, []).append(int(r.value))
    finally:
        await consumer.stop()
    assert {k: v for k, v in per_key.items()} == {
        f"p{k}".encode(): list(range(k, 30, 3)) for k in range(3)
    }


def test_catalogue_can_be_ensured_on_the_session_broker(kafka: KafkaUnderTest) -> None:
    assert kafka.kind in {"external", "testcontainers", "embedded"}
    ensure_topics(kafka.settings)
    client = admin_client(kafka.settings)
    try:
        existing = set(client.list_topics())
    finally:
        client.close()
    assert {t.name for t in CATALOGUE} <= existing
