"""The offset-file clock end-to-end tests move a running service's time with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.common.clock import OffsetFileClock, move_offset_clock


def test_a_moved_clock_is_seen_as_soon_as_the_move_returns(tmp_path: Path) -> None:
    path = tmp_path / "clock-offset"
    move_offset_clock(path, 0)
    clock = OffsetFileClock(path)
    assert clock.now() - datetime.now(UTC) < timedelta(seconds=1)  # read, and cached now
    move_offset_clock(path, 86_400)
    assert clock.now() - datetime.now(UTC) > timedelta(hours=23)
    assert not path.with_name(path.name + ".tmp").exists()


def test_the_file_is_reread_at_most_every_interval(tmp_path: Path) -> None:
    """Reading the file on every call cost a busy worker ~5 % of its CPU."""
    path = tmp_path / "clock-offset"
    path.write_text("0", encoding="utf-8")
    ticks = [100.0]
    clock = OffsetFileClock(path, monotonic=lambda: ticks[0])
    assert clock.offset() == timedelta(0)
    path.write_text("60", encoding="utf-8")
    assert clock.offset() == timedelta(0)  # within the interval: the cached value
    ticks[0] += 2 * OffsetFileClock.REREAD_S
    assert clock.offset() == timedelta(seconds=60)
