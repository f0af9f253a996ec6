"""True end offsets, for brokers that under-report them (faust's table recovery reads them
through `services.common.internals.correct_recovery_highwaters`).

The embedded broker (tansu) answers ListOffsets(latest) with `base offset + 1` of the last
record batch, even when that batch holds several records (measured: ten records in one batch
at offsets 10..14 give an end offset of 11, not 15). faust's table recovery reads each
changelog partition only up to that end offset, so every record after the first of a
multi-record batch was silently left out of the recovered table.

Reading from just before the reported end returns the whole last batch, so the true end is
one past the last record read. A correct broker returns only the last record and the figure
does not change, so the probe is always on: it costs one short-lived consumer per recovery.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from services.common.kafka_settings import KafkaSettings

PROBE_TIMEOUT_S = 30.0


async def true_end_offsets(
    kafka: KafkaSettings,
    reported: Mapping[Any, int | None],
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> dict[Any, int | None]:
    """`reported` corrected: each partition's end is one past the last record it holds.

    Keys may be any (topic, partition) named tuple (faust's TP or aiokafka's TopicPartition);
    the answer keeps the caller's keys. A partition the probe cannot read in time raises
    EndOffsetProbeError: recovering to a wrong end would lose state without a trace.
    """
    ends: dict[Any, int | None] = dict(reported)
    probe = {
        TopicPartition(tp.topic, tp.partition): tp
        for tp, end in reported.items()
        if end is not None and end > 0
    }
    if not probe:
        return ends
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False, client_id="bebas-end-offset-probe", **kafka.aiokafka_config()
    )
    await consumer.start()
    try:
        consumer.assign(list(probe))
        for tp, key in probe.items():
            end = reported[key]
            assert end is not None
            consumer.seek(tp, end - 1)
        await _read_last_batches(consumer, probe, ends, timeout_s)
    finally:
        await consumer.stop()
    return ends


async def _read_last_batches(
    consumer: AIOKafkaConsumer,
    probe: dict[TopicPartition, Any],
    ends: dict[Any, int | None],
    timeout_s: float,
) -> None:
    pending = set(probe)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        fetched = await consumer.getmany(*pending, timeout_ms=200)
        for tp, records in fetched.items():
            if records:
                key = probe[tp]
                ends[key] = max(ends[key] or 0, records[-1].offset + 1)
                pending.discard(tp)
    if pending:
        names = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in pending))
        raise EndOffsetProbeError(f"could not read the last records of {names} in {timeout_s} s")


class EndOffsetProbeError(RuntimeError):
    """The true end of a partition could not be read."""
