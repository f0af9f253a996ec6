"""faust-streaming 0.15.3 delivers input twice after every partition assignment when its
fetch is quick; this seeks before it resumes, so nothing read is read again.

After table recovery, `Recovery.on_recovery_completed` (and `_resume_streams`, its twin on
a restarted recovery) first resumes the stream (non-changelog)
partitions and only then awaits `consumer.perform_seek()`, which seeks them to their committed
offsets *and resets faust's read offsets to them*. aiokafka has fetched those partitions since
the assignment (faust pauses partitions only in its own bookkeeping), so while the seek awaits
the consumer thread, the fetcher task can hand the already-fetched records to the agents; the
seek then moves the position back to the committed offset and the reset read offset lets every
one of those records through a second time.

Measured on the embedded broker (tests/reporting/test_worker.py, restart mid-stream, and a
replica printing every batch): with `KAFKA_FETCH_MAX_WAIT_MS=100` the restarted worker handed
every record of the new input to its agents twice in 2 of 3 runs (processed 42 for 22, dead
letters written twice); with faust's 1,500 ms wait the first fetch (which also waits on empty
changelog partitions) rarely answers before the seek, which is why the longer wait hid it.
Idempotent handlers keep counts exact, but work and dead letters double, and any handler that
is not idempotent repeats a side effect.

The fix keeps faust's method and only changes the order: resuming a stream partition waits
until the seek is done. This is a patch of a library's internals, so it is pinned:
`FAUST_VERSION` must be the installed faust-streaming, and tests/foundation/test_resume_order.py
fails when the patched method no longer resumes before it seeks.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from faust.tables.recovery import Recovery

FAUST_VERSION = "0.15.3"
_installed = importlib.metadata.version("faust-streaming")
if _installed != FAUST_VERSION:
    raise ImportError(
        f"services.common.resume_order patches faust-streaming {FAUST_VERSION} internals, "
        f"but {_installed} is installed: check Recovery._resume_streams and update the patch"
    )

_PATCHED = "_bebas_seek_before_resume"
#: Both end an assignment's recovery the same way: resume the stream partitions, then seek.
PATCHED_METHODS = ("on_recovery_completed", "_resume_streams")
RecoveryStep = Callable[[Recovery, int], Coroutine[Any, Any, None]]


def seek_before_resuming_streams() -> None:
    """Patch the Recovery class once per process (every app's recovery shares it)."""
    for name in PATCHED_METHODS:
        original: RecoveryStep = getattr(Recovery, name)
        if not getattr(original, _PATCHED, False):
            setattr(Recovery, name, _seek_first(original))


def _seek_first(original: RecoveryStep) -> RecoveryStep:
    async def step(self: Recovery, generation_id: int = 0) -> None:
        consumer: Any = self.app.consumer
        resume: Callable[[Iterable[Any]], None] = consumer.resume_partitions
        seek: Callable[[], Coroutine[Any, Any, None]] = consumer.perform_seek
        held: list[set[Any]] = []

        def hold(tps: Iterable[Any]) -> None:
            held.append(set(tps))

        def release() -> None:
            while held:
                resume(held.pop(0))

        async def seek_then_resume() -> None:
            await seek()
            release()

        # instance attributes shadow the methods for the duration of this call only
        consumer.resume_partitions = hold
        consumer.perform_seek = seek_then_resume
        try:
            await original(self, generation_id)
        finally:
            del consumer.resume_partitions
            del consumer.perform_seek
            release()  # no seek ran (empty assignment, rebalancing again): resume as faust does

    step.__name__ = original.__name__
    step.__doc__ = original.__doc__
    setattr(step, _PATCHED, True)
    return step
