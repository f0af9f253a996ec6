"""When a worker that was ready has stayed unready too long, it is stuck, not busy.

Readiness (/readyz) says "do not send me work now": recovering tables, a rebalance, partitions
owned by another worker. A worker that was ready and has been unready for longer than any
recovery or rebalance should take is wedged (seen once: out of its consumer group for good
after a burst); /healthz then answers 503 so the orchestrator restarts it, which is safe: the
tables come back from their changelogs and every message key is sent at most once.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Liveness:
    def __init__(self, stuck_after_s: float, monotonic: Callable[[], float] = time.monotonic):
        self.stuck_after_s = stuck_after_s
        self._monotonic = monotonic
        self._was_ready = False
        self._unready_since: float | None = None
        self._reason: str | None = None

    def observe(self, unready_reason: str | None) -> None:
        """Record the current readiness (call on every readiness check)."""
        if unready_reason is None:
            self._was_ready, self._unready_since, self._reason = True, None, None
            return
        self._reason = unready_reason
        if self._was_ready and self._unready_since is None:
            self._unready_since = self._monotonic()

    def stuck(self) -> str | None:
        """Why this worker is stuck, or None (a worker never ready yet is starting up)."""
        if self._unready_since is None:
            return None
        unready_s = self._monotonic() - self._unready_since
        if unready_s < self.stuck_after_s:
            return None
        return f"unready for {unready_s:.0f} s after being ready: {self._reason}"
