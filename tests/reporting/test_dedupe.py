"""Bounded de-duplication state."""

from __future__ import annotations

import pytest

from services.reporting.domain.dedupe import RecentIds


def test_remembers_ids_across_chunks() -> None:
    recent = RecentIds(capacity=10)
    recent.add_chunk(["a", "b"])
    recent.add_chunk(["c"])
    assert {"a", "b", "c"} <= {i for i in "abc" if i in recent}
    assert "d" not in recent


def test_forgets_the_oldest_chunks_beyond_capacity_but_never_the_newest() -> None:
    recent = RecentIds(capacity=3)
    assert recent.add_chunk(["a", "b"]) == (0, [])
    assert recent.add_chunk(["c", "d"]) == (1, [0])
    assert "a" not in recent
    assert "b" not in recent
    assert "c" in recent
    assert "d" in recent
    seq, forgotten = recent.add_chunk(["e", "f", "g", "h"])
    assert (seq, forgotten) == (2, [1])
    assert len(recent) == 4  # a single chunk larger than capacity is kept whole


def test_restore_rebuilds_order_and_sequence() -> None:
    recent = RecentIds(capacity=100)
    recent.restore(7, ["x"])
    recent.restore(3, ["y"])
    assert "x" in recent
    assert "y" in recent
    assert recent.add_chunk(["z"])[0] == 8


def test_rejects_a_zero_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentIds(0)
