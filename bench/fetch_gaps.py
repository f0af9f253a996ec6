"""Does a consumer on the embedded broker skip records that concurrent producers wrote?

python -m bench.fetch_gaps [--seconds 40] [--producers 3] [--out bench/results/fetch-gaps.json]

Several producers write to one six-partition topic while one aiokafka consumer reads it (100 ms
fetch wait), first as aiokafka reads, then with `stop_fetches_at_offset_gaps` installed (what
every faust app of the platform does on the embedded broker). Each phase counts what was sent,
what was read, and every jump in a partition's offsets the consumer saw; then the skipped
offsets are read again to show they were on the broker all along (a visibility race, not loss).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from kafka import KafkaProducer

from services.common.broker import EmbeddedBroker
from services.common.internals import stop_fetches_at_offset_gaps
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import create_topic

PARTITIONS = 6


@dataclass
class Phase:
    guarded: bool
    sent: int = 0
    read: int = 0
    gaps: list[tuple[int, int, int]] = field(default_factory=list)  # (partition, after, next)
    there_on_reread: int = 0


def _produce(kafka: KafkaSettings, topic: str, stop: threading.Event, counts: list[int]) -> None:
    producer = KafkaProducer(linger_ms=5, **kafka.kafka_python_config())
    sent = 0
    while not stop.is_set():
        producer.send(topic, key=f"k{sent % 97}".encode(), value=str(sent).encode())
        sent += 1
        if sent % 50 == 0:
            time.sleep(0.01)  # many small batches: the race needs batches in flight
    producer.flush()
    producer.close()
    counts.append(sent)


async def _consume(kafka: KafkaSettings, topic: str, done: threading.Event, phase: Phase) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        **kafka.aiokafka_config(),
    )
    await consumer.start()
    last: dict[int, int] = {}
    quiet = 0
    try:
        while quiet < 6:  # three seconds without records after the producers stopped
            fetched = await consumer.getmany(timeout_ms=500)
            quiet = quiet + 1 if done.is_set() and not fetched else 0
            for tp, records in fetched.items():
                for record in records:
                    previous = last.get(tp.partition, -1)
                    if record.offset != previous + 1:
                        phase.gaps.append((tp.partition, previous, record.offset))
                    last[tp.partition] = record.offset
                    phase.read += 1
    finally:
        await consumer.stop()


async def _reread(kafka: KafkaSettings, topic: str, phase: Phase) -> None:
    if not phase.gaps:
        return
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.aiokafka_config())
    await consumer.start()
    try:
        for partition, after, following in phase.gaps:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, after + 1)
            fetched = await consumer.getmany(tp, timeout_ms=2000)
            offsets = {r.offset for r in fetched.get(tp, [])}
            phase.there_on_reread += len(offsets & set(range(after + 1, following)))
    finally:
        await consumer.stop()


def run_phase(kafka: KafkaSettings, producers: int, seconds: float, guarded: bool) -> Phase:
    phase = Phase(guarded)
    topic = f"fetch-gaps-{uuid.uuid4().hex[:8]}"
    create_topic(kafka, topic, PARTITIONS)
    stop, counts = threading.Event(), list[int]()
    threads = [
        threading.Thread(target=_produce, args=(kafka, topic, stop, counts))
        for _ in range(producers)
    ]

    async def main() -> None:
        reading = asyncio.create_task(_consume(kafka, topic, stop, phase))
        for thread in threads:
            thread.start()
        await asyncio.sleep(seconds)
        stop.set()
        for thread in threads:
            await asyncio.to_thread(thread.join)
        await reading
        await _reread(kafka, topic, phase)

    asyncio.run(main())
    phase.sent = sum(counts)
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fetch_gaps")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--producers", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
        plain = run_phase(kafka, args.producers, args.seconds, guarded=False)
        stop_fetches_at_offset_gaps()  # process-wide from here on
        guarded = run_phase(kafka, args.producers, args.seconds, guarded=True)
    result = {
        "seconds": args.seconds,
        "producers": args.producers,
        "phases": [asdict(plain), asdict(guarded)],
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
