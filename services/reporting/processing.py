"""The batch handler: decode, de-duplicate and apply the metric rules to a batch of records.

No Kafka here: records come in as plain values, the state it needs is behind `StatePort`,
and what must be written (counter deltas, remembered ids, new payers, dead letters) comes out
as a `BatchOutcome` for the adapter to apply.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from schemas.deadletter import DeadLetter
from schemas.envelope import DecodeError
from schemas.events import ContributionPaidV1
from schemas.fast_decode import decode
from services.common.version import SERVICE_VERSION
from services.reporting.domain.dedupe import RecentIds
from services.reporting.domain.metrics import encode_key
from services.reporting.domain.rules import increments_for

SERVICE = "reporting"
__all__ = ["SERVICE", "SERVICE_VERSION", "BatchOutcome", "Record", "StatePort", "handle_batch"]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class StatePort(Protocol):
    def recent_ids(self, partition: int) -> RecentIds:
        """The ids already counted on this source partition (loaded on first use)."""
        ...

    def has_paid(self, partition: int, participant_id: str) -> bool:
        """Whether a payment of this participant was counted before."""
        ...


@dataclass
class BatchOutcome:
    counters: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    new_ids: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    new_payers: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    dead_letters: list[DeadLetter] = field(default_factory=list)
    counted: int = 0
    duplicates: int = 0
    errors: int = 0

    @property
    def partitions(self) -> set[int]:
        return set(self.counters) | set(self.new_ids) | set(self.new_payers)


def handle_batch(records: list[Record], state: StatePort) -> BatchOutcome:
    outcome = BatchOutcome()
    batch_ids: dict[int, set[str]] = defaultdict(set)
    batch_payers: dict[int, set[str]] = defaultdict(set)
    for record in records:
        partition = record.partition
        try:
            event = decode(record.value)
        except DecodeError as exc:
            outcome.dead_letters.append(_dead(record, str(exc), exc))
            continue
        event_id = str(event.id)
        seen = batch_ids[partition]
        if event_id in seen or event_id in state.recent_ids(partition):
            outcome.duplicates += 1
            continue
        try:
            first = False
            data = event.data
            if isinstance(data, ContributionPaidV1):
                pid = data.participant_id
                payers = batch_payers[partition]
                first = pid not in payers and not state.has_paid(partition, pid)
                if first:
                    payers.add(pid)
                    outcome.new_payers[partition].append(pid)
            counters = outcome.counters[partition]
            for inc in increments_for(data, first):
                counters[encode_key(partition, inc.family, inc.dims)] += inc.amount
        except Exception as exc:  # a bug must not stall the stream: dead-letter and go on
            outcome.errors += 1
            outcome.dead_letters.append(_dead(record, f"processing error: {exc!r}", exc))
            continue
        seen.add(event_id)
        outcome.new_ids[partition].append(event_id)
        outcome.counted += 1
    return outcome


def _dead(record: Record, reason: str, error: Exception) -> DeadLetter:
    # reporting never retries a record: whatever fails, fails on its one attempt
    now = datetime.now(UTC)
    return DeadLetter.of(
        service=SERVICE,
        source_topic=record.topic,
        value=record.value,
        reason=reason,
        key=record.key,
        partition=record.partition,
        offset=record.offset,
        error=error,
        service_version=SERVICE_VERSION,
        first_attempt_at=now,
        last_attempt_at=now,
        attempts=1,
    )
