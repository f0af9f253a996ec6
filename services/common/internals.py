"""Every place the platform reaches into a library's internals: faust-streaming, aiokafka,
uvicorn. Nothing else in the platform touches a private attribute of theirs.

Each helper relies on an internal of the pinned version; importing this module with any other
version installed fails at once (rather than misbehaving later), and
`tests/foundation/test_internals.py` fails when an internal a helper needs moves. Each helper
says why it exists. Retired with the notifier's redesign (every table write now happens inside
stream iteration): the notifier's single-replica guard and its reliance on writes outside
iteration.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping
from importlib.metadata import version
from typing import Any

import uvicorn
from aiokafka.consumer import fetcher as aiokafka_fetcher
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

log = logging.getLogger(__name__)

PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "uvicorn": "0.54.0"}


def check_versions(pinned: dict[str, str] = PINNED) -> None:
    found = {name: version(name) for name in pinned}
    wrong = {name: v for name, v in found.items() if v != pinned[name]}
    if wrong:
        raise ImportError(
            "services.common.internals relies on private attributes of "
            + ", ".join(f"{name} {pinned[name]}" for name in pinned)
            + "; installed: "
            + ", ".join(f"{name} {v}" for name, v in found.items())
            + ". Re-check every helper in that module against the new versions, then update "
            "PINNED."
        )


check_versions()


# --- faust app: patch the clients it creates ------------------------------------------------


def patch_when_created(app: Any, factory: str, patch: Callable[[Any], None]) -> None:
    """Patch the client the app's private factory (`_new_consumer`, `_new_producer`) creates.

    Why: the patches below need the client instance before it starts, and faust creates its
    clients lazily; creating one early binds the app to whatever event loop is current
    (reporting builds its app before uvicorn's loop runs), so the factory is wrapped."""
    create: Callable[[], Any] = getattr(app, factory)

    def create_patched() -> Any:
        client = create()
        patch(client)
        return client

    setattr(app, factory, create_patched)


def limit_fetch_wait(consumer: Any, wait_ms: int) -> None:
    """Give the aiokafka consumer this faust consumer builds our fetch wait.

    Why: faust hard-codes `fetch_max_wait_ms=1500`; the embedded broker answers a waiting fetch
    only after sleeping about half of it, so every hop cost hundreds of milliseconds locally
    (KAFKA_FETCH_MAX_WAIT_MS). Set before the client starts, when aiokafka hands it to its
    fetcher."""
    thread = consumer._thread
    create_worker_consumer: Callable[[Any], Any] = thread._create_worker_consumer

    def create(transport: Any) -> Any:
        client = create_worker_consumer(transport)
        client._fetch_max_wait_ms = wait_ms
        return client

    setattr(thread, "_create_worker_consumer", create)  # noqa: B010


HighwatersFn = Callable[..., Awaitable[Mapping[Any, int]]]


def correct_recovery_highwaters(
    consumer: Any, true_ends: Callable[[Mapping[Any, int | None]], Awaitable[Mapping[Any, Any]]]
) -> None:
    """Make this faust consumer's `highwaters()` (what table recovery reads changelogs up to)
    answer the true ends.

    Why: the embedded broker reports the first offset of a partition's last batch plus one as
    its end, so recovery stopped early and lost table entries
    (`services/common/end_offsets.py` reads the true ends; `faust_app.recovery_ends` asks it
    only on the embedded broker: Apache Kafka reports exact ends)."""
    reported_highwaters: HighwatersFn = consumer.highwaters

    async def highwaters(*partitions: Any) -> Mapping[Any, int | None]:
        return await true_ends(await reported_highwaters(*partitions))

    setattr(consumer, "highwaters", highwaters)  # noqa: B010


# --- faust recovery: seek the stream partitions before they are read -------------------------

#: the two places faust 0.15.3 ends a recovery: resume the stream partitions, seek them to
#: their committed offsets, resume flow (which clears every agent's queue)
RECOVERY_ENDS = ("on_recovery_completed", "_resume_streams")


def seek_streams_before_resuming_them() -> None:
    """Make faust resume the stream partitions only once its end of recovery has sought them
    to their committed offsets and cleared the agents' queues.

    Why: faust 0.15.3 resumes them first, and its fetcher, already running for the
    changelogs, hands records of a backlog to the agents while the seek is under way. The seek
    then sets the read offset back to the committed one, resuming flow clears the agents'
    queues, and the records still in the fetched batch arrive past a "gap" that faust counts
    as acknowledged; read again after the seek, the cleared ones are dropped as already read.
    So a worker restarting on a backlog lost the records right after its committed offset and
    committed past them (a notifier restarted mid-burst lost registrations; reproduced in
    `tests/foundation/test_end_offsets.py`), and at a short fetch wait reporting re-read what
    it had counted. Holding the resume to the end makes the first record an agent gets the one
    at the committed offset. The whole process: every faust app of the platform needs it."""
    for name in RECOVERY_ENDS:
        ending = getattr(Recovery, name)
        if not getattr(ending, "holds_stream_resume", False):
            setattr(Recovery, name, _holding_stream_resume(ending))


def _holding_stream_resume(
    ending: Callable[..., Awaitable[None]],
) -> Callable[..., Awaitable[None]]:
    @functools.wraps(ending)
    async def end_then_resume(recovery: Any, generation_id: int = 0) -> None:
        consumer = recovery.app.consumer
        resume: Callable[[Any], None] = consumer.resume_partitions
        held: set[Any] = set()

        def hold(tps: Any) -> None:
            tps = set(tps)
            streams = {tp for tp in tps if not recovery._is_changelog_tp(tp)}
            held.update(streams)
            if tps - streams:
                resume(tps - streams)

        own = vars(consumer).get("resume_partitions")
        consumer.resume_partitions = hold
        try:
            await ending(recovery, generation_id)
        finally:
            if own is None:
                del consumer.resume_partitions  # the class's method again
            else:
                consumer.resume_partitions = own
        # a rebalance that began meanwhile ends with a recovery of its own, which resumes
        current = recovery.app.consumer_generation_id
        resuming = held & set(consumer.assignment()) if current == generation_id else set()
        log.debug(
            "stream partitions resumed after the seek: %d of %d held (generation %s, now %s)",
            len(resuming),
            len(held),
            generation_id,
            current,
        )
        if resuming:
            resume(resuming)

    end_then_resume.holds_stream_resume = True  # type: ignore[attr-defined]
    return end_then_resume


def fetch_only_active_partitions() -> None:
    """Make aiokafka never read faust's set of active partitions as "every partition".

    Why: faust 0.15.3 hands aiokafka its live set of active partitions, which it changes while
    aiokafka waits for records, and aiokafka reads an empty set as every partition. When
    recovery paused the changelogs before the stream partitions were resumed, a waiting fetch
    returned the stream partitions' records, faust dropped them as not active, and aiokafka's
    position had moved past them: a restarted notifier processed nothing it had not committed.
    The set stays live (a partition paused meanwhile is not returned, as before); only its
    emptiness no longer means "all"."""
    fetch = AIOKafkaConsumerThread._fetch_records
    if not getattr(fetch, "never_all", False):
        setattr(AIOKafkaConsumerThread, "_fetch_records", _never_fetching_all(fetch))  # noqa: B010


class LivePartitions:
    """A live set of partitions that is never empty to `if partitions` (what aiokafka's
    `Fetcher.fetched_records` asks before it reads "no set" as every partition)."""

    def __init__(self, live: Any) -> None:
        self._live = live

    def __bool__(self) -> bool:
        return True

    def __contains__(self, tp: object) -> bool:
        return tp in self._live

    def __iter__(self) -> Iterator[Any]:
        return iter(self._live)

    def __len__(self) -> int:
        return len(self._live)


def _never_fetching_all(fetch: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fetch)
    async def fetch_active(
        thread: Any,
        consumer: Any,
        active_partitions: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (faust's signature)
        max_records: int | None = None,
    ) -> Any:
        if active_partitions is not None:  # None: a client-only app, every partition
            active_partitions = LivePartitions(active_partitions)
        return await fetch(
            thread, consumer, active_partitions, timeout=timeout, max_records=max_records
        )

    fetch_active.never_all = True  # type: ignore[attr-defined]
    return fetch_active


# --- aiokafka fetcher: never read past a batch the broker has not shown yet -------------------


class _UntilGap:
    """The record batches of one fetched partition, ending before the first offset gap.

    Offsets on the embedded broker are dense (it neither compacts nor writes transaction
    markers), so a batch starting after the offset expected next means the batch in between
    is not readable *yet*, not that it does not exist."""

    def __init__(self, records: Any, fetch_offset: int) -> None:
        self._records = records
        self._expected = fetch_offset
        self._pending: Any = None

    def has_next(self) -> bool:
        if self._pending is None and self._records.has_next():
            self._pending = self._records.next_batch()
        return self._pending is not None and self._pending.base_offset <= self._expected

    def next_batch(self) -> Any:
        batch, self._pending = self._pending, None
        self._expected = max(self._expected, batch.next_offset)
        return batch


class GapStoppingPartitionRecords(aiokafka_fetcher.PartitionRecords):  # type: ignore[misc]
    def __init__(self, tp: Any, records: Any, aborted: Any, fetch_offset: int, *rest: Any) -> None:
        super().__init__(tp, _UntilGap(records, fetch_offset), aborted, fetch_offset, *rest)


def stop_fetches_at_offset_gaps() -> None:
    """Make every aiokafka consumer of this process stop reading a fetched partition at an
    offset gap; its position stays at the gap, so the next fetch asks for the missing batch.

    Why: the embedded broker (tansu 0.6, memory engine) gives a producer its offsets before the
    batch is readable, so with two producers on one partition a fetch can return the later batch
    while the earlier one is still invisible. aiokafka then moves its position past the earlier
    batch and nobody ever reads it: measured with three producers on a six-partition topic, one
    batch of 8 to 14 records skipped in about every 400,000 records; re-read a moment later,
    the records are there (`python -m bench.fetch_gaps`). A reporting worker lost one
    registration that way. On Apache Kafka a gap is real (compaction, transaction markers) and
    waiting for it would stall the consumer: install this only for the embedded broker
    (`services.common.topic_admin.is_embedded_broker`). aiokafka looks `PartitionRecords` up in
    its fetcher module each time it builds one, so replacing it there is enough."""
    aiokafka_fetcher.PartitionRecords = GapStoppingPartitionRecords


# --- faust producer: flush() as a real barrier ----------------------------------------------


def make_flush_durable(producer: Any) -> None:
    """Patch this faust producer instance (before it starts).

    Why: so that an input offset is committed only after the table changes it caused are on
    the broker.

    faust-streaming 0.15.3 writes table changes with `send_soon`: into the producer's buffer, which
    a background task hands to aiokafka one message at a time. `Producer.flush()` then calls
    `ProducerBuffer.flush()`, which gives up as soon as no message left the buffer for 0.1 s and
    never counts the message the background task is handing over, and only then flushes aiokafka.
    With one-record batches (the tansu workaround) handing over is slow, so flush() returned while
    changelog writes were still queued; the consumer commits offsets right after flush(), and a
    SIGKILL then lost a registration for good: its offset was committed, its participant and
    outbox entry never reached the changelog (seen in `make reliability`, notifier_sigkill_x3).

    `make_flush_durable` records every future handed to `send_soon` and makes `flush()` wait
    until each one issued before the call is acknowledged by the broker (and no longer for the
    buffer to run empty, which a busy worker's never does). The consumer's commit and shutdown
    use that flush.
    Every app made by `services.common.faust_app.make_faust_app` gets it (the notifier, reporting).
    A changelog write that fails makes flush() raise, so the commit does not happen (the worker
    stops and the input is processed again after the restart), instead of being skipped silently.
    """
    pending: set[asyncio.Future[Any]] = set()
    send_soon: Callable[[Any], None] = producer.send_soon
    flush: Callable[[], Awaitable[None]] = producer.flush

    def tracked_send_soon(fut: Any) -> None:
        pending.add(fut)
        fut.add_done_callback(pending.discard)
        send_soon(fut)

    async def durable_flush() -> None:
        issued = list(pending)  # later writes belong to a later flush: no livelock
        if not issued or producer.buffer.state != "running":
            await flush()  # faust's own (also what stopping uses)
            return
        # faust's buffer flush waits until its buffer is empty, which under a steady stream of
        # table writes is never (measured: a dispatcher's flush lasted as long as a burst).
        # The writes issued so far are acked once their futures resolve; aiokafka's flush
        # then covers what `topic.send()` handed to it directly.
        await asyncio.gather(*issued)  # raises if a write failed: better than a lie
        transport = getattr(producer, "_producer", None)
        if transport is not None:
            await transport.flush()

    # instance attributes win over the class's methods; faust's Consumer and Topic look the
    # methods up on the instance (`app.producer.flush()`, `app.producer.send_soon(fut)`)
    setattr(producer, "send_soon", tracked_send_soon)  # noqa: B010
    setattr(producer, "flush", durable_flush)  # noqa: B010


# --- faust streams and tables ---------------------------------------------------------------


@contextlib.contextmanager
def current_event_lent(stream: Any) -> Iterator[Callable[[Any], None]]:
    """Lend the stream's current event: inside, `use(event)` makes `event` current; on the way
    out the event that was current before is current again. Keep the block free of awaits.

    Why: faust decides which partition a table write goes to (and its rocksdb store which
    partition database) from the current event. Reporting takes events in batches
    (`take_events`), where faust sets none, and writes one partition's totals at a time.
    The stream's `current_event` is also what `take_events` reads when it buffers the next
    message: left pointing at an event of the batch, the next message's value went into the
    buffer with that old event, so the old event was counted again as a duplicate and the new
    one never (reporting's intermittent one-short counts: processed 21 of 21, duplicates 4
    of 3)."""
    previous = stream.current_event
    try:
        yield stream._set_current_event
    finally:
        stream._set_current_event(previous)


def partition_db(table: Any, partition: int) -> Any | None:
    """The rocksdict database holding one partition of a rocksdb-backed faust table, or None
    when this worker has not opened it (it does not own the partition).

    Why: faust's public reads (`table.get`, iteration) search *every* partition this worker has
    open when the key is not in its small key cache, and cannot iterate one partition in key
    order. The notifier keeps a wake-up index whose keys sort by instant and must read exactly
    one partition — the one it is working on — in that order (`services/notifier/store.py`).
    Writes still go through faust (changelog first), never through this handle."""
    dbs: dict[int, Any] = table.data._dbs
    return dbs.get(partition)


def open_partition_db(table: Any, partition: int) -> Any:
    """Like `partition_db`, opening the database when this worker owns the partition but has
    not written to it yet (faust opens it lazily, and reads need it open)."""
    return table.data._db_for_partition(partition)


#: rocksdb key faust stores each partition's changelog offset under (not a table key)
FAUST_OFFSET_KEY = b"__faust\0offset__"


# --- uvicorn --------------------------------------------------------------------------------

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ExitZeroServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful shutdown, so the process would report death
    by signal; a clean stop here exits 0 (what `make run` and supervisors expect).

    Why internal: it overrides `capture_signals`, uvicorn's own signal handling, and reuses its
    `handle_exit`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
