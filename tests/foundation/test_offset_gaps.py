"""The fetch guard for the embedded broker: a consumer never reads past a batch it has not seen.

Batches are built here as the broker would return them (with their broker-assigned base
offsets) and handed to aiokafka's own `PartitionRecords`, the object its fetcher builds for
each partition of a fetch response."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from services.common import internals

TP = TopicPartition("t", 0)


def batch(base_offset: int, count: int) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for delta in range(count):
        builder.append(delta, timestamp=1, key=None, value=b"v", headers=[])
    raw = builder.build()
    raw[0:8] = struct.pack(">q", base_offset)  # the broker's offset; not covered by the CRC
    return bytes(raw)


def read(fetch_offset: int, *batches: bytes) -> tuple[list[int], int]:
    """(offsets the consumer gets, position it fetches from next)."""
    records = fetcher.PartitionRecords(
        TP, MemoryRecords(b"".join(batches)), [], fetch_offset, None, None, True, 0
    )
    offsets = [record.offset for record in records]
    return offsets, records.next_fetch_offset


@pytest.fixture
def guarded() -> Iterator[None]:
    plain = fetcher.PartitionRecords
    fetcher.PartitionRecords = internals.GapStoppingPartitionRecords.__base__
    internals.stop_fetches_at_offset_gaps()
    try:
        yield
    finally:
        fetcher.PartitionRecords = plain


def test_unguarded_aiokafka_moves_past_a_batch_it_never_saw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the guard is for: records 5 and 6 are skipped for good."""
    monkeypatch.setattr(fetcher, "PartitionRecords", internals.GapStoppingPartitionRecords.__base__)
    assert read(5, batch(7, 3)) == ([7, 8, 9], 10)


@pytest.mark.usefixtures("guarded")
def test_a_response_that_starts_after_the_position_is_not_read() -> None:
    assert read(5, batch(7, 3)) == ([], 5)


@pytest.mark.usefixtures("guarded")
def test_reading_stops_at_a_gap_in_the_middle_and_resumes_there() -> None:
    assert read(5, batch(5, 2), batch(10, 3)) == ([5, 6], 7)
    assert read(7, batch(7, 3), batch(10, 3)) == ([7, 8, 9, 10, 11, 12], 13)


@pytest.mark.usefixtures("guarded")
def test_a_batch_that_began_before_the_position_is_read_from_the_position() -> None:
    assert read(6, batch(5, 3), batch(8, 2)) == ([6, 7, 8, 9], 10)
