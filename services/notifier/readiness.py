"""Is this worker ready (/readyz), and is it stuck (/healthz)?

Ready: its tables are recovered and no rebalance is under way. Owning no partition is fine
(more workers than partitions: the extra ones stand by). Partitions whose barrier has not come
back are not dispatched yet (`ownership.py`), which readiness reports but does not fail on.
"""

from __future__ import annotations

import logging
from typing import Any

from services.notifier.liveness import Liveness
from services.notifier.metrics import Metrics
from services.notifier.ownership import Ownership

log = logging.getLogger("services.notifier")


class Readiness:
    def __init__(
        self, app: Any, ownership: Ownership, metrics: Metrics, stuck_after_s: float
    ) -> None:
        self.app = app
        self.ownership = ownership
        self.metrics = metrics
        self.liveness = Liveness(stuck_after_s)

    def reason(self) -> str | None:
        """Why this worker must not dispatch or answer now (None: ready)."""
        reason: str | None = None
        if not self.app.tables.recovery.completed.is_set():
            reason = "tables recovering"
        elif self.app.rebalancing:
            reason = "consumer group rebalancing"
        self.metrics.ready.set(1 if reason is None else 0)
        self.metrics.partitions.set(len(self.ownership.dispatchable))
        self.liveness.observe(reason)
        return reason

    def stuck(self) -> str | None:
        self.reason()  # a fresh observation: nothing else may be asking while wedged
        reason = self.liveness.stuck()
        if reason:
            log.error("worker stuck, /healthz fails so it is restarted: %s", reason)
        return reason

    def describe(self) -> dict[str, Any]:
        return {
            "partitions": sorted(self.ownership.owned),
            "dispatching": sorted(self.ownership.dispatchable),
            "waiting_for_barrier": sorted(self.ownership.waiting()),
        }
