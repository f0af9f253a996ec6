"""Reading partitions from their beginning to their true end, for tools and tests.

Reading "to the end" with a client's own end offsets stops short on the embedded broker: after
a multi-record batch it reports the batch's first offset plus one (services/common/
end_offsets.py), so the rest of that batch was never read — a test harness waited in vain for
an event that sat there (seen in CI). Here the ends are the true ones on the embedded broker and
the reported ones (exact) on Apache Kafka.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from services.common.end_offsets import true_end_offsets
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import is_embedded_broker


def read_to_end(
    kafka: KafkaSettings, partitions: Iterable[TopicPartition], timeout_s: float = 30.0
) -> Iterator[tuple[TopicPartition, Any]]:
    """(partition, record) for every record of `partitions`, in offset order per partition.
    Raises TimeoutError when the partitions cannot be read to their end in time."""
    tps = list(partitions)
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        reported: dict[Any, int | None] = dict(consumer.end_offsets(tps))
        if is_embedded_broker(kafka):
            reported = asyncio.run(true_end_offsets(kafka, reported))
        ends = {tp: reported[tp] or 0 for tp in tps}
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read to the end of {sorted(map(str, remaining))}")
            for tp, records in consumer.poll(timeout_ms=500, max_records=10_000).items():
                for record in records:
                    yield tp, record
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
    finally:
        consumer.close()


def partitions_of(kafka: KafkaSettings, topics: Iterable[str]) -> list[TopicPartition]:
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        return [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
    finally:
        consumer.close()
