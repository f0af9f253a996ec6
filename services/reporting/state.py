"""The faust-table adapter: where counters, remembered ids and payers live.

One table per source topic, co-partitioned with it: every key starts with the source
partition and is written to the changelog partition of the same number, so recovery,
ownership and cluster-wide queries all follow the source topic's assignment.

Counters are not stored one key per counter: a batch writes *one* delta record per partition
(the batch's increments), and every `snapshot_every` deltas are folded into a snapshot (split in
parts of bounded size) and deleted. The changelog stays bounded and a batch costs a handful of
changelog messages however many distinct counters it touches; the running totals are kept in
memory and rebuilt from snapshot + deltas after recovery.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from services.reporting.domain.dedupe import RecentIds
from services.reporting.domain.metrics import SEPARATOR, decode_key
from services.reporting.processing import BatchOutcome

SEEN = "s"
PAYER = "p"
DELTA = "d"
SNAPSHOT = "snap"
SNAPSHOT_HEAD = "snaphead"
# both keep every changelog message far below Kafka's 1 MB default limit
SNAPSHOT_PART_KEYS = 5000
SEEN_CHUNK_IDS = 5000  # 5,000 uuids are ~185 kB


def _key(partition: int, kind: str, *rest: object) -> str:
    return SEPARATOR.join((str(partition), kind, *(str(r) for r in rest)))


def seen_key(partition: int, seq: int) -> str:
    return _key(partition, SEEN, f"{seq:012d}")


def payer_key(partition: int, participant_id: str) -> str:
    return _key(partition, PAYER, participant_id)


@dataclass
class PartitionCounters:
    """Running totals of one source partition, and the records they are stored in."""

    totals: Counter[str] = field(default_factory=Counter)
    deltas: list[int] = field(default_factory=list)
    snapshot: tuple[int, int] | None = None  # (seq, parts)
    next_seq: int = 0


class TableState:
    """Implements `processing.StatePort` over a faust table (any MutableMapping in tests)."""

    def __init__(
        self, table: MutableMapping[str, Any], capacity: int, snapshot_every: int = 50
    ) -> None:
        self.table = table
        self.capacity = capacity
        self.snapshot_every = snapshot_every
        self._recent: dict[int, RecentIds] = {}
        self._counters: dict[int, PartitionCounters] = {}
        #: Makes `partition` the one faust reads and writes: its rocksdb store looks a key up
        #: only in the partition of the current event. The worker sets it for every batch.
        self.enter: Callable[[int], None] = lambda partition: None

    def recent_ids(self, partition: int) -> RecentIds:
        if partition not in self._recent:
            self._load(partition)
        return self._recent[partition]

    def has_paid(self, partition: int, participant_id: str) -> bool:
        self.enter(partition)
        return self.table.get(payer_key(partition, participant_id)) is not None

    def forget(self) -> None:
        """Drop what is cached: after a rebalance, another worker may have written."""
        self._recent.clear()
        self._counters.clear()

    def _partition_counters(self, partition: int) -> PartitionCounters:
        if partition not in self._counters:
            self._load(partition)
        return self._counters[partition]

    def _load(self, partition: int) -> None:
        """Rebuild one partition's ids and totals from the (recovered) table, in one scan."""
        recent = RecentIds(self.capacity)
        counters = PartitionCounters()
        prefix = f"{partition}{SEPARATOR}"
        deltas: dict[int, dict[str, int]] = {}
        heads: dict[int, int] = {}
        parts: dict[tuple[int, int], dict[str, int]] = {}
        for key, value in list(self.table.items()):
            if not (isinstance(key, str) and key.startswith(prefix)) or value is None:
                continue
            kind, _, rest = key[len(prefix) :].partition(SEPARATOR)
            if kind == SEEN and value:
                recent.restore(int(rest), str(value).split(" "))
            elif kind == DELTA:
                deltas[int(rest)] = value
            elif kind == SNAPSHOT_HEAD:
                heads[int(rest)] = int(value)
            elif kind == SNAPSHOT:
                snap_seq, _, part = rest.partition(SEPARATOR)
                parts[(int(snap_seq), int(part))] = value
        complete = [s for s, n in heads.items() if all((s, i) in parts for i in range(n))]
        if complete:
            seq = max(complete)
            counters.snapshot = (seq, heads[seq])
            for i in range(heads[seq]):
                counters.totals.update(parts[(seq, i)])
        base = counters.snapshot[0] if counters.snapshot else -1
        for seq in sorted(deltas):
            if seq > base:  # older ones were folded into the snapshot already
                counters.totals.update(deltas[seq])
                counters.deltas.append(seq)
        seqs = [*deltas, *heads, base]
        counters.next_seq = max(seqs) + 1 if seqs else 0
        self._recent[partition] = recent
        self._counters[partition] = counters

    def write(self, outcome: BatchOutcome) -> None:
        """Apply a batch: per touched partition one delta, the ids chunk and new payers."""
        table = self.table
        for partition in sorted(outcome.partitions):
            self.enter(partition)  # faust takes the changelog partition from this too
            counts = outcome.counters.get(partition)
            if counts:
                self._add_delta(partition, counts)
            for participant_id in outcome.new_payers.get(partition, ()):
                table[payer_key(partition, participant_id)] = 1
            ids = outcome.new_ids.get(partition) or []
            for start in range(0, len(ids), SEEN_CHUNK_IDS):
                chunk = ids[start : start + SEEN_CHUNK_IDS]
                seq, forgotten = self.recent_ids(partition).add_chunk(chunk)
                table[seen_key(partition, seq)] = " ".join(chunk)
                for old in forgotten:
                    table.pop(seen_key(partition, old), None)

    def _add_delta(self, partition: int, counts: Counter[str]) -> None:
        state = self._partition_counters(partition)
        items = list(counts.items())
        for start in range(0, len(items), SNAPSHOT_PART_KEYS):  # bounded record size
            seq = state.next_seq
            state.next_seq += 1
            self.table[_key(partition, DELTA, seq)] = dict(
                items[start : start + SNAPSHOT_PART_KEYS]
            )
            state.deltas.append(seq)
        state.totals.update(counts)
        if len(state.deltas) >= self.snapshot_every:
            self._snapshot(partition, state)

    def _snapshot(self, partition: int, state: PartitionCounters) -> None:
        """Fold the totals into a new snapshot, then delete the old one and the deltas."""
        seq = state.next_seq
        state.next_seq += 1
        items = sorted((k, v) for k, v in state.totals.items() if v)
        chunks = [
            dict(items[i : i + SNAPSHOT_PART_KEYS])
            for i in range(0, len(items), SNAPSHOT_PART_KEYS)
        ]
        for part, chunk in enumerate(chunks):
            self.table[_key(partition, SNAPSHOT, seq, part)] = chunk
        self.table[_key(partition, SNAPSHOT_HEAD, seq)] = len(chunks)  # written last
        if state.snapshot:
            old, old_parts = state.snapshot
            self.table.pop(_key(partition, SNAPSHOT_HEAD, old), None)
            for part in range(old_parts):
                self.table.pop(_key(partition, SNAPSHOT, old, part), None)
        for delta in state.deltas:
            self.table.pop(_key(partition, DELTA, delta), None)
        state.snapshot, state.deltas = (seq, len(chunks)), []

    def counters(self, partitions: set[int]) -> Iterator[tuple[str, tuple[str, ...], int]]:
        """(family, dims, value) of every counter kept for the given source partitions."""
        for partition in sorted(partitions):
            for key, value in list(self._partition_counters(partition).totals.items()):
                decoded = decode_key(key)
                if decoded and value:
                    yield decoded[1], decoded[2], value
