"""True end offsets on the broker under test: what faust's table recovery reads up to."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from services.common.end_offsets import true_end_offsets
from services.common.kafka_settings import KafkaSettings
from services.reporting.lag import LagReader


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


def _run_worker(
    kafka: KafkaSettings, app_id: str, topic: str, out: Path, command: bytes, expect: str
) -> str:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}
    argv = [sys.executable, "-m", "tests.foundation.table_worker", app_id, topic, str(out)]
    log = (out.parent / f"{command.decode()}.log").open("wb")
    worker = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        producer = KafkaProducer(**kafka.kafka_python_config())
        producer.send(topic, value=command).get(timeout=10)
        producer.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and worker.poll() is None:
            if out.exists() and out.read_text() != expect:
                return out.read_text()
            time.sleep(0.2)
        raise AssertionError(f"the worker did not answer {command!r}; see {log.name}")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        log.close()


def test_a_restarted_faust_worker_recovers_every_key_of_a_burst(
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    group_factory: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """50 table writes in one go leave a multi-record batch last in the changelog; a new
    worker must recover all 50 (it recovered a handful before the end offset probe). The
    changelog is written as the worker's `write` command leaves it (table_worker.py: one
    batch of 50), so only the recovering worker runs."""
    topic, app_id, out = topic_factory("numbers"), group_factory("numbers"), tmp_path / "out"
    changelog = f"{app_id}-numbers-changelog"  # as faust names it, with the table's partition
    admin = KafkaAdminClient(**kafka_settings.kafka_python_config())
    admin.create_topics([NewTopic(changelog, 1, 1)])
    admin.close()
    producer = KafkaProducer(**kafka_settings.kafka_python_config(), linger_ms=50)
    for i in range(50):
        producer.send(changelog, key=f'"k{i}"'.encode(), value=str(i).encode())
    producer.flush()
    producer.close()
    reported = asyncio.run(_reported(kafka_settings, [TopicPartition(changelog, 0)]))
    # what the test is about: an under-reported end (if this fails, either the records did not
    # leave as one batch, or the broker reports ends correctly now and the probe can go)
    assert reported[TopicPartition(changelog, 0)] < 50
    assert _run_worker(kafka_settings, app_id, topic, out, b"count", "") == "50"


def test_a_worker_restarting_on_a_backlog_processes_every_record(
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    group_factory: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """faust 0.15.3 resumes the stream partitions before it seeks them to their committed
    offsets at the end of recovery, then clears its agents' queues: records fetched in between
    were never given to the agent, and read again after the seek they were dropped as already
    read (a notifier restarted on a backlog lost registrations, offsets committed).
    `services.common.internals.seek_streams_before_resuming_them` is the fix.

    The worker starts as one restarting would: its group has committed part of the backlog and
    its table's changelog has records, so the fetcher runs for recovery when the stream
    partition is resumed."""
    topic, app_id = topic_factory("backlog"), group_factory("backlog")
    out = tmp_path / "seen"
    changelog = f"{app_id}-seen-changelog"  # as faust names it, with the table's one partition
    admin = KafkaAdminClient(**kafka_settings.kafka_python_config())
    admin.create_topics([NewTopic(changelog, 1, 1)])
    admin.close()
    producer = KafkaProducer(**kafka_settings.kafka_python_config(), linger_ms=20)
    for n in range(BACKLOG):
        producer.send(topic, value=str(n).encode(), partition=0)
    for n in range(COMMITTED):  # what the table's changelog holds after COMMITTED records
        producer.send(changelog, key=b'"records"', value=str(n + 1).encode())
    producer.flush()
    producer.close()
    _commit(kafka_settings, app_id, topic, COMMITTED)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers}
    argv = [sys.executable, "-m", "tests.foundation.backlog_worker", app_id, topic, str(out)]
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            seen = _wait_until_quiet(out, BACKLOG - COMMITTED, 0)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
    missing = sorted(set(range(COMMITTED, BACKLOG)) - seen)
    assert not missing, f"{len(missing)} records never reached the agent, first {missing[:10]}"


def _commit(kafka: KafkaSettings, group: str, topic: str, offset: int) -> None:
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(**kafka.kafka_python_config(), group_id=group)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
    finally:
        consumer.close()


COMMITTED = 600
BACKLOG = 3000


def _wait_until_quiet(out: Path, expected: int, before: int, quiet_s: float = 5.0) -> set[int]:
    """The offsets seen once there are `expected` of them or, once the worker has added to
    the `before` it started with, nothing new came for `quiet_s`."""
    seen: set[int] = set()
    last_change, deadline = time.monotonic(), time.monotonic() + 120
    while time.monotonic() < deadline:
        now = _offsets(out)
        if len(now) != len(seen):
            seen, last_change = now, time.monotonic()
        if len(seen) > before and time.monotonic() - last_change > quiet_s:
            break
        if len(seen) >= expected:
            break
        time.sleep(0.2)
    return seen


def _offsets(out: Path) -> set[int]:
    return {int(x) for x in out.read_text().split()} if out.exists() else set()


def test_lag_reads_true_ends_and_says_when_it_could_not(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str], caplog: Any
) -> None:
    """Reporting's lag figures use the true end; a probe that runs out of time says so."""
    topic = topic_factory("lag-ends")
    tp = TopicPartition(topic, 0)
    asyncio.run(_produce_batches(kafka_settings, topic, [10, 1, 7]))
    group = f"lag-{topic}"
    committer = KafkaConsumer(group_id=group, **kafka_settings.kafka_python_config())
    committer.commit({KafkaTopicPartition(topic, 0): OffsetAndMetadata(5, "", -1)})
    committer.close()
    reader = LagReader(kafka_settings, groups=[group])
    try:
        (probed,) = reader.read()
        assert (probed.committed, probed.end) == (5, 18)
        assert not [r for r in caplog.records if "not confirmed" in r.getMessage()]
        reader.probe_timeout_s = 0.0
        (unconfirmed,) = reader.read()
    finally:
        reader.close()
    warnings = [r.getMessage() for r in caplog.records if "not confirmed" in r.getMessage()]
    assert warnings
    assert f"{tp.topic}[0]" in warnings[0]
    assert 5 <= unconfirmed.end <= 18


def test_lag_takes_the_reported_ends_of_apache_kafka(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str], monkeypatch: Any
) -> None:
    """Only the embedded broker under-reports: elsewhere the lag reader probes nothing."""
    from services.reporting import lag

    topic = topic_factory("lag-kafka")
    asyncio.run(_produce_batches(kafka_settings, topic, [10, 1, 7]))
    group = f"lag-{topic}"
    committer = KafkaConsumer(group_id=group, **kafka_settings.kafka_python_config())
    committer.commit({KafkaTopicPartition(topic, 0): OffsetAndMetadata(5, "", -1)})
    committer.close()

    def no_probe(*args: Any) -> None:
        raise AssertionError("the lag reader probed an end on Apache Kafka")

    monkeypatch.setattr(lag, "is_embedded_broker", lambda kafka: False)
    monkeypatch.setattr(KafkaConsumer, "seek", no_probe)
    reader = LagReader(kafka_settings, groups=[group])
    try:
        (taken,) = reader.read()
    finally:
        reader.close()
    assert taken.committed == 5
    assert 5 <= taken.end <= 18  # as reported (18 on Apache Kafka; tansu under-reports)


def test_tools_read_partitions_to_their_true_end(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    """Test harnesses and the NIK scan read topics "to the end": the last batch included."""
    from services.common.topic_reader import partitions_of, read_to_end

    topic = topic_factory("read-to-end", partitions=2)
    asyncio.run(_produce_batches(kafka_settings, topic, [10, 1, 7]))
    read = list(read_to_end(kafka_settings, partitions_of(kafka_settings, [topic]), 10))
    assert [(tp.partition, record.offset) for tp, record in read] == [(0, i) for i in range(18)]
