"""Which partitions this worker may dispatch, and when it may start.

faust hands a worker its partitions in a rebalance. A new owner must not send anything of a
partition before the records the previous owner wrote to `bebas.notifier.work` (its last
rounds' outcomes) are applied, or it would send those messages again. So on assignment the
worker writes a *barrier* record with a fresh token to each partition it got, and dispatches
a partition only once its own stream has come to that barrier: everything written before it
has been applied by then. The previous owner, for its part, finishes or abandons its rounds
before it lets the partitions go (`Dispatcher.stop_rounds`).
"""

from __future__ import annotations

import logging
import uuid

log = logging.getLogger("services.notifier")


class Ownership:
    def __init__(self) -> None:
        self._tokens: dict[int, str] = {}
        self._ready: set[int] = set()

    def assigned(self, partitions: set[int]) -> dict[int, str]:
        """Partitions just given to this worker -> the barrier token to write to each."""
        self._tokens = {p: uuid.uuid4().hex for p in sorted(partitions)}
        self._ready = set()
        return dict(self._tokens)

    def revoked(self) -> None:
        self._tokens.clear()
        self._ready.clear()

    def barrier(self, partition: int, token: str) -> None:
        if self._tokens.get(partition) == token and partition not in self._ready:
            self._ready.add(partition)
            log.info("partition %s: barrier %s came back, dispatching it", partition, token)

    @property
    def owned(self) -> set[int]:
        return set(self._tokens)

    @property
    def dispatchable(self) -> set[int]:
        return set(self._ready)

    def waiting(self) -> set[int]:
        """Owned partitions whose barrier has not come back yet."""
        return set(self._tokens) - self._ready
