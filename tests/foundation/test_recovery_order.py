"""`internals.seek_streams_before_resuming_them` on a stand-in for faust's end of recovery: the
stream partitions are resumed last, after the seek and after flow (and its queue clearing)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from services.common.internals import _holding_stream_resume, _never_fetching_all

STREAM, CHANGELOG, OTHER_STREAM = ("in", 0), ("app-table-changelog", 0), ("in", 1)


@dataclass
class FakeConsumer:
    log: list[str]
    assigned: set[Any] = field(default_factory=lambda: {STREAM, CHANGELOG, OTHER_STREAM})

    def resume_partitions(self, tps: Any) -> None:
        self.log.append(f"resume {sorted(tps)}")

    def assignment(self) -> set[Any]:
        return self.assigned


@dataclass
class FakeApp:
    consumer: FakeConsumer
    consumer_generation_id: int = 3


class FakeRecovery:
    """What faust 0.15.3's on_recovery_completed does, in its order."""

    def __init__(self, log: list[str], rebalance_meanwhile: bool = False) -> None:
        self.log = log
        self.app = FakeApp(FakeConsumer(log))
        self.rebalance_meanwhile = rebalance_meanwhile

    def _is_changelog_tp(self, tp: Any) -> bool:
        return bool(tp[0].endswith("-changelog"))

    async def ending(self, generation_id: int = 0) -> None:
        self.app.consumer.resume_partitions({STREAM, CHANGELOG, OTHER_STREAM})
        await asyncio.sleep(0)
        self.log.append("seek")
        self.log.append("flow resumed, queues cleared")
        if self.rebalance_meanwhile:
            self.app.consumer_generation_id += 1
        await asyncio.sleep(0)


def _run(recovery: FakeRecovery) -> list[str]:
    patched = _holding_stream_resume(FakeRecovery.ending)
    asyncio.run(patched(recovery, 3))
    return recovery.log


def test_stream_partitions_are_resumed_after_the_seek_and_the_queue_clearing() -> None:
    log = _run(FakeRecovery([]))
    assert log == [
        f"resume {[CHANGELOG]}",  # changelogs (standbys) go on at once
        "seek",
        "flow resumed, queues cleared",
        f"resume {sorted([STREAM, OTHER_STREAM])}",
    ]


def test_after_the_call_the_consumer_resumes_as_before() -> None:
    recovery = FakeRecovery([])
    _run(recovery)
    recovery.app.consumer.resume_partitions({STREAM})
    assert recovery.log[-1] == f"resume {[STREAM]}"
    assert "resume_partitions" not in vars(recovery.app.consumer)


def test_a_rebalance_begun_meanwhile_leaves_the_resume_to_its_own_recovery() -> None:
    log = _run(FakeRecovery([], rebalance_meanwhile=True))
    assert log[-1] == "flow resumed, queues cleared"


def test_only_partitions_still_assigned_are_resumed() -> None:
    recovery = FakeRecovery([])
    recovery.app.consumer.assigned = {STREAM, CHANGELOG}
    assert _run(recovery)[-1] == f"resume {[STREAM]}"


def test_a_fetch_sees_the_live_set_and_an_empty_one_is_not_every_partition() -> None:
    """aiokafka's `fetched_records` returns a partition's records unless `partitions and tp
    not in partitions`: the same test, on what the patched fetch hands it."""
    seen: list[tuple[bool, bool]] = []

    async def fetch(thread: Any, consumer: Any, active: Any, **kw: Any) -> dict[Any, Any]:
        seen.append((bool(active and STREAM not in active), bool(active)))
        live.discard(STREAM)  # faust pauses it while aiokafka waits: the fetch sees that
        seen.append((bool(active and STREAM not in active), bool(active)))
        return {}

    live = {STREAM, OTHER_STREAM}
    asyncio.run(_never_fetching_all(fetch)(None, None, live, timeout=1.0))
    assert seen == [(False, True), (True, True)]  # returned, then left out: never "all"


def test_a_client_only_fetch_still_asks_for_every_partition() -> None:
    asked: list[Any] = []

    async def fetch(thread: Any, consumer: Any, active: Any, **kw: Any) -> dict[Any, Any]:
        asked.append(active)
        return {}

    asyncio.run(_never_fetching_all(fetch)(None, None, None, timeout=1.0))
    assert asked == [None]
