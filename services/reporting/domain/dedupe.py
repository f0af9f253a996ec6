"""Exact counts under redelivery: the ids of recently counted events, bounded in size.

Ids are kept in chunks (one chunk per processed batch and partition), so the state written to
the changelog is one record per batch rather than one per event; the oldest chunks are
forgotten once more than `capacity` ids are kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class RecentIds:
    """The recently counted event ids of one source partition."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._chunk_of: dict[str, int] = {}
        self._chunks: deque[tuple[int, list[str]]] = deque()
        self.next_seq = 0

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._chunk_of

    def __len__(self) -> int:
        return len(self._chunk_of)

    def restore(self, seq: int, ids: Iterable[str]) -> None:
        """Reload a chunk read back from storage (chunks may arrive in any order)."""
        chunk = list(ids)
        self._chunks.append((seq, chunk))
        self._chunks = deque(sorted(self._chunks))
        for event_id in chunk:
            self._chunk_of[event_id] = seq
        self.next_seq = max(self.next_seq, seq + 1)

    def add_chunk(self, ids: list[str]) -> tuple[int, list[int]]:
        """Remember a batch's new ids; returns its sequence number and the chunks forgotten."""
        seq = self.next_seq
        self.next_seq += 1
        self._chunks.append((seq, ids))
        for event_id in ids:
            self._chunk_of[event_id] = seq
        return seq, self._evict()

    def _evict(self) -> list[int]:
        forgotten = []
        while len(self._chunk_of) > self.capacity and len(self._chunks) > 1:
            seq, ids = self._chunks.popleft()
            for event_id in ids:
                if self._chunk_of.get(event_id) == seq:
                    del self._chunk_of[event_id]
            forgotten.append(seq)
        return forgotten
