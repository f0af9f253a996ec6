"""`StatePort` on three rocksdb-backed faust tables, each co-partitioned with `bebas.participants`:

    people:  participant id -> the participant's record (JSON)
    phone-index: E.164 number -> participant id (for STOP replies that only carry a number)
    wakeups: "<wake instant ISO>|<participant id>" -> b"1" (ordered: due ones come first)

faust writes every change to the table's changelog partition of the record being processed, so
writes happen only in the owner's stream iteration (the service layer). Reads use the one
partition's database directly (`services.common.internals.partition_db`): faust's own
reads would search every partition this worker holds and cannot iterate in key order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kafka.partitioner.default import murmur2

from services.common.internals import FAUST_OFFSET_KEY, open_partition_db, partition_db
from services.notifier.domain.record import wake_of

SEP = "|"


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as kafka-python, aiokafka and the
    Java client use) gives this key: enrollment publishes with it, so our writes follow it."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def wake_key(instant: str, participant_id: str) -> bytes:
    return f"{instant}{SEP}{participant_id}".encode()


#: per-partition rocksdb settings: faust's defaults (3 x 64 MiB write buffers and a 2 GiB block
#: cache per partition and table) let a worker's memory grow with participants; these keep a
#: worker holding 1,000,000 participants small (measured in make bench, docs/performance.md)
PEOPLE_OPTIONS = {
    "write_buffer_size": 4 << 20,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 << 20,
    "max_open_files": 64,
}
INDEX_OPTIONS = {
    "write_buffer_size": 2 << 20,
    "max_write_buffer_number": 2,
    "block_cache_size": 2 << 20,
    "max_open_files": 32,
}


class TableState:
    def __init__(self, people: Any, phones: Any, wakeups: Any) -> None:
        self.people = people
        self.phones = phones
        self.wakeups = wakeups

    # --- reads ------------------------------------------------------------------------------

    def get(self, partition: int, participant_id: str) -> dict[str, Any] | None:
        db = partition_db(self.people, partition)
        raw = db.get(participant_id.encode()) if db is not None else None
        return json.loads(raw) if raw else None

    def phone_owner(self, partition: int, phone: str) -> str | None:
        db = partition_db(self.phones, partition)
        raw = db.get(phone.encode()) if db is not None else None
        return raw.decode() if raw else None

    def participants_after(self, partition: int, after: str, limit: int) -> list[str]:
        db = partition_db(self.people, partition)
        if db is None:
            return []
        found: list[str] = []
        start = after.encode()
        for key in db.keys(from_key=start):
            if key in (start, FAUST_OFFSET_KEY):
                continue
            found.append(key.decode())
            if len(found) >= limit:
                break
        return found

    def due(
        self, partition: int, until: str, limit: int, start: str = ""
    ) -> Iterator[tuple[str, str]]:
        db = partition_db(self.wakeups, partition)
        if db is None:
            return
        bound = f"{until}{SEP}\xff".encode()
        count = 0
        # seeking to `start` skips the deleted entries at the front of the index: every sent
        # message deletes one, and iterating over them from the first key cost most of a
        # worker's CPU in a burst (py-spy)
        for key in db.keys(from_key=start.encode()) if start else db.keys():
            if key > bound or count >= limit:
                return
            if key == FAUST_OFFSET_KEY:
                continue
            count += 1
            instant, _, pid = key.decode().rpartition(SEP)
            yield instant, pid

    # --- writes (the owner's stream iteration only) -----------------------------------------

    def save(
        self,
        partition: int,
        participant_id: str,
        record: dict[str, Any],
        previous_wake: str | None,
    ) -> None:
        self._open(partition)
        self.people[participant_id.encode()] = json.dumps(record, separators=(",", ":")).encode()
        wake = wake_of(record)
        if previous_wake is not None and previous_wake != wake:
            del self.wakeups[wake_key(previous_wake, participant_id)]
        if wake is not None:
            # written even when unchanged: the record and its index entry go to two changelogs,
            # and a crash can leave the record's write acknowledged but not the entry's; the
            # input is then processed again and must restore the entry
            self.wakeups[wake_key(wake, participant_id)] = b"1"

    def drop_wake(self, partition: int, instant: str, participant_id: str) -> None:
        del self.wakeups[wake_key(instant, participant_id)]

    def set_phone(self, partition: int, phone: str, participant_id: str) -> None:
        self._open(partition)
        self.phones[phone.encode()] = participant_id.encode()

    def drop_phone(self, partition: int, phone: str) -> None:
        del self.phones[phone.encode()]

    def _open(self, partition: int) -> None:
        """faust opens a partition's database on its first write; reads need it open too."""
        for table in (self.people, self.phones, self.wakeups):
            if partition_db(table, partition) is None:
                open_partition_db(table, partition)
