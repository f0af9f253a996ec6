"""The one clock scheduling code reads, so tests move time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock tests set and advance by hand (unit tests, in-process integration tests)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)


class OffsetFileClock:
    """System time plus an offset read from a file: lets an end-to-end test move the clock
    of a *running* service process forward (write seconds to the file), never backward.

    Only for local runs and tests; production leaves the file unset and uses SystemClock.
    """

    #: the file is read at most this often (seconds): a busy worker asks for the time
    #: thousands of times a second, and reading the file each time cost ~5 % of its CPU
    REREAD_S = 0.05

    def __init__(self, path: Path, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._monotonic = monotonic
        self._read_at = -self.REREAD_S
        self._offset = timedelta(0)

    def offset(self) -> timedelta:
        if self._monotonic() - self._read_at < self.REREAD_S:
            return self._offset
        try:
            text = self.path.read_text(encoding="utf-8").strip()
            self._offset = timedelta(seconds=float(text or 0))
        except FileNotFoundError:
            self._offset = timedelta(0)
        self._read_at = self._monotonic()
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()


def move_offset_clock(path: Path, offset_s: float) -> None:
    """Set the offset a running service's OffsetFileClock reads, and return once every such
    clock sees it. The file is replaced at once (a reader never sees it half written, which
    would read as offset 0: time going back), then this waits out the clocks' re-read
    interval: a registration published right after a move was otherwise handled on the old
    time (seen in CI: a welcome SMS sent in daytime where the test had moved to 22:00)."""
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(f"{offset_s:.6f}", encoding="utf-8")
    scratch.replace(path)
    time.sleep(2 * OffsetFileClock.REREAD_S)


def clock_from(offset_file: Path | None) -> Clock:
    return OffsetFileClock(offset_file) if offset_file else SystemClock()
