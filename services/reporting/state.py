"""The faust-table adapter: where counters, remembered ids and payers live.

One table per source topic, co-partitioned with it: every key starts with the source
partition and is written to the changelog partition of the same number, so recovery,
ownership and cluster-wide queries all follow the source topic's assignment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from services.reporting.domain.dedupe import RecentIds
from services.reporting.domain.metrics import SEPARATOR, decode_key
from services.reporting.processing import BatchOutcome

SEEN = "s"
PAYER = "p"
SYNC = "~sync"


def seen_key(partition: int, seq: int) -> str:
    return f"{partition}{SEPARATOR}{SEEN}{SEPARATOR}{seq:012d}"


def payer_key(partition: int, participant_id: str) -> str:
    return f"{partition}{SEPARATOR}{PAYER}{SEPARATOR}{participant_id}"


def sync_key(partition: int) -> str:
    return f"{partition}{SEPARATOR}{SYNC}"


class TableState:
    """Implements `processing.StatePort` over a faust table (any MutableMapping in tests)."""

    def __init__(self, table: MutableMapping[str, Any], capacity: int) -> None:
        self.table = table
        self.capacity = capacity
        self._recent: dict[int, RecentIds] = {}
        #: Makes `partition` the one faust reads and writes: its rocksdb store looks a key up
        #: only in the partition of the current event. The worker sets it for every batch.
        self.enter: Callable[[int], None] = lambda partition: None

    def recent_ids(self, partition: int) -> RecentIds:
        recent = self._recent.get(partition)
        if recent is None:
            recent = self._recent[partition] = self._load(partition)
        return recent

    def has_paid(self, partition: int, participant_id: str) -> bool:
        self.enter(partition)
        return self.table.get(payer_key(partition, participant_id)) is not None

    def forget(self) -> None:
        """Drop cached ids: after a rebalance, another worker may have written the partition."""
        self._recent.clear()

    def _load(self, partition: int) -> RecentIds:
        recent = RecentIds(self.capacity)
        prefix = f"{partition}{SEPARATOR}{SEEN}{SEPARATOR}"
        for key, value in list(self.table.items()):
            if isinstance(key, str) and key.startswith(prefix) and value:
                recent.restore(int(key[len(prefix) :]), str(value).split(" "))
        return recent

    def write(self, outcome: BatchOutcome) -> None:
        """Apply a batch: one write per touched key (faust sends each to the changelog)."""
        table = self.table
        for partition in sorted(outcome.partitions):
            self.enter(partition)  # faust takes the changelog partition from this too
            for key, delta in outcome.counters.get(partition, Counter()).items():
                table[key] = (table.get(key) or 0) + delta
            for participant_id in outcome.new_payers.get(partition, ()):
                table[payer_key(partition, participant_id)] = 1
            ids = outcome.new_ids.get(partition)
            if ids:
                seq, forgotten = self.recent_ids(partition).add_chunk(ids)
                table[seen_key(partition, seq)] = " ".join(ids)
                for old in forgotten:
                    table.pop(seen_key(partition, old), None)

    def counters(self, partitions: set[int]) -> Iterator[tuple[str, tuple[str, ...], int]]:
        """(family, dims, value) of every counter kept for the given source partitions."""
        for key, value in list(self.table.items()):
            decoded = decode_key(key) if isinstance(key, str) else None
            if decoded and decoded[0] in partitions and isinstance(value, int):
                yield decoded[1], decoded[2], value
