"""A circuit breaker for one provider: stop offering it messages while it keeps failing, try it
again with one probe after a cool-down.

closed ──(N consecutive transient failures, or an error rate over the window with enough
          requests in it)──▶ open ──(cool-down passed)──▶ half-open: one probe at a time
half-open ──probe succeeded──▶ closed (counts forgotten)
half-open ──probe failed──▶ open (a new cool-down)

Only the provider's own health counts: a transient failure (refused, timeout, 5xx, 429) is a
failure, any answer about the message itself (accepted, or refused for a reason of the
message: a permanent error) is a success. The clock is injected (seconds, never going back):
the notifier gives it its own clock, which tests move forward instead of sleeping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    #: this many transient failures in a row open the breaker
    consecutive_failures: int = 5
    #: ... or more than this share of failures among the requests of the last `window_seconds` ...
    error_rate: float = 0.5
    window_seconds: float = 30.0
    #: ... once the window holds at least this many requests (a few failures of a quiet
    #: provider say little)
    min_requests: int = 20
    #: how long an open breaker refuses everything before it lets one probe through
    cool_down_seconds: float = 15.0

    def __post_init__(self) -> None:
        if self.consecutive_failures < 1:
            raise ValueError("consecutive_failures must be at least 1")
        if not 0 < self.error_rate <= 1:
            raise ValueError("error_rate must be in (0, 1]")
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        if self.min_requests < 1:
            raise ValueError("min_requests must be at least 1")
        if self.cool_down_seconds <= 0:
            raise ValueError("cool_down_seconds must be positive")


class Breaker:
    def __init__(
        self,
        policy: BreakerPolicy,
        clock: Callable[[], float],
        on_change: Callable[[BreakerState], None] = lambda state: None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._streak = 0  # transient failures in a row
        self._window: deque[tuple[float, bool]] = deque()  # (when, failed) of recent requests
        self._failures_in_window = 0
        self._probing = False  # half-open: the one probe is under way

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose cool-down passed reads half-open)."""
        if self._state is BreakerState.OPEN and self._cooled():
            self._become(BreakerState.HALF_OPEN)
        return self._state

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.cool_down_seconds - self._clock())

    def allow(self) -> bool:
        """May a request go to the provider now? In half-open, True once (the probe): the
        caller must then report `success`, `failure` or `release` for it."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        # a request let through before the breaker opened may end after it did: ignore it
        # while open; after the cool-down the next answer decides (the probe's, or that of a
        # request sent without asking: a retry bound to this provider, the list's last one)
        state = self.state
        if state is BreakerState.OPEN:
            return
        if state is BreakerState.HALF_OPEN:
            self._probing = False
            self._reset()
            self._become(BreakerState.CLOSED)
            return
        self._streak = 0
        self._record(failed=False)

    def failure(self) -> None:
        state = self.state
        if state is BreakerState.HALF_OPEN:
            self._probing = False
            self._open()
            return
        if state is BreakerState.OPEN:
            return
        self._streak += 1
        self._record(failed=True)
        if self._streak >= self.policy.consecutive_failures or self._rate_exceeded():
            self._open()

    def release(self) -> None:
        """A request that was allowed told nothing about the provider (it was cancelled): in
        half-open the next caller may probe instead."""
        self._probing = False

    # --- inside ------------------------------------------------------------------------------

    def _cooled(self) -> bool:
        return self._clock() - self._opened_at >= self.policy.cool_down_seconds

    def _record(self, *, failed: bool) -> None:
        now = self._clock()
        self._window.append((now, failed))
        self._failures_in_window += failed
        horizon = now - self.policy.window_seconds
        while self._window and self._window[0][0] <= horizon:
            _, old_failed = self._window.popleft()
            self._failures_in_window -= old_failed

    def _rate_exceeded(self) -> bool:
        total = len(self._window)
        if total < self.policy.min_requests:
            return False
        return self._failures_in_window / total > self.policy.error_rate

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._reset()
        self._become(BreakerState.OPEN)

    def _reset(self) -> None:
        self._streak = 0
        self._window.clear()
        self._failures_in_window = 0

    def _become(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            self._on_change(state)
