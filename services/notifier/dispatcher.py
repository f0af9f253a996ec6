"""The dispatcher of one worker: finds what is due in the partitions this worker owns, sends it,
and hands the outcomes back to the stream as one work record per round. It never writes state.

A round is up to `batch` due messages of one channel in one partition:
 1. checks (opted out? no consent? paid? over the frequency cap? night?) and rendering, per
    message (the cap is judged per person in the scan: `_judge`);
 2. the provider gets each message, `concurrency` at a time, with the message key as its
    client reference (SMS) or Message-ID (e-mail);
 3. the round gives its place among the channel's rounds back (the next round may send), then
    the outcome events (`notification.sent`, `.failed`, `.deferred`) are produced and awaited
    together, then one `outcomes` work record per partition, and it is done: the partition
    owner's stream applies it (marks keys sent, re-queues retries).
Until that record is applied its keys stay *in hand* here, so the next scan does not send them
again. A crash before the record is on the broker leaves the messages queued: the next owner
sends them again with the same key, and the provider drops the copy (the SMS gateway by
reference, mailbox providers by Message-ID). Each channel runs its own rounds, so a dead SMTP
server only delays e-mail.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jinja2 import TemplateError

from schemas.deadletter import DeadLetter
from schemas.events import (
    EventData,
    NotificationDeferredV1,
    NotificationFailedV1,
    NotificationSentV1,
    NotificationSuppressedV1,
)
from schemas.vocab import MessageKind
from services.common.clock import Clock
from services.common.version import SERVICE_VERSION
from services.notifier.domain import frequency
from services.notifier.domain.backoff import backoff_seconds
from services.notifier.domain.keys import NotificationKey
from services.notifier.domain.model import REMINDER_KINDS, Message, pinned_to
from services.notifier.domain.quiet_hours import QUIET_CHANNELS, QuietHours
from services.notifier.domain.record import Record, due_entries, iso, parse, wake_of
from services.notifier.domain.routing import route_for
from services.notifier.ports import ChannelPort, PermanentError, StatePort, TransientError
from services.notifier.render import Renderer
from services.notifier.service import NotifierService, new_round_id
from services.notifier.work import Outcome, Outcomes, Wake

log = logging.getLogger(__name__)
#: channels whose provider may report a failure after accepting a message, with a fallback
#: (WhatsApp's "not on WhatsApp" status): their sent state keeps what the fallback needs
FALLS_BACK_LATER = frozenset({"whatsapp"})
FULL_SCAN_EVERY = timedelta(seconds=60)

#: produces a dead letter; the awaitable it returns completes when the broker has it
DeadLetterSink = Callable[[DeadLetter], Awaitable[Awaitable[Any]]]


@dataclass(frozen=True)
class Limits:
    batch: int = 500  # messages per round, and participants per wake record
    rounds_per_channel: int = 2  # rounds of one channel under way at once
    max_attempts: int = 6
    backoff_base: float = 2.0
    backoff_cap: float = 600.0


@dataclass
class _Round:
    """What one outcome record (one round's share of one partition) holds in hand."""

    partition: int
    low: str  # the earliest wake-up index instant of what it holds
    keys: set[str] = field(default_factory=set)  # messages sent (or not) in the round
    waking: set[str] = field(default_factory=set)  # participants whose reminders it wakes

    def participants(self) -> set[str]:
        return {key.partition("|")[0] for key in self.keys} | self.waking


@dataclass
class _Planned:
    """One message of a round, and what became of it."""

    partition: int
    instant: str  # the participant's wake-up index instant when it was planned
    entry: dict[str, Any]
    person: dict[str, Any]
    message: Message | None = None
    outcome: Outcome | None = None
    events: list[EventData] = field(default_factory=list)
    error: BaseException | None = None  # why the last attempt failed, for the dead letter
    finished_at: datetime | None = None  # when the last attempt failed
    capped: frequency.Verdict | None = None  # held back by the frequency cap


class Dispatcher:
    def __init__(
        self,
        service: NotifierService,
        state: StatePort,
        channels: list[ChannelPort],
        renderer: Renderer,
        *,
        quiet: QuietHours,
        clock: Clock,
        limits: Limits,
        concurrency: dict[str, int],
        dead_letter: DeadLetterSink,
        cap: frequency.FrequencyCap | None = None,
        retry_source: str,
        on_result: Callable[[str, str], None] = lambda channel, outcome: None,
        on_request: Callable[[str, str, str], None] = lambda channel, provider, result: None,
        on_overdue: Callable[[str, float], None] = lambda channel, seconds: None,
    ) -> None:
        self.service = service
        self.state = state
        self.channels = {channel.name: channel for channel in channels}
        self.renderer = renderer
        self.quiet = quiet
        self.clock = clock
        self.limits = limits
        self._concurrency = {name: max(1, concurrency.get(name, 1)) for name in self.channels}
        self.gates = {name: asyncio.Semaphore(n) for name, n in self._concurrency.items()}
        self.dead_letter = dead_letter
        self.cap = cap or frequency.FrequencyCap()
        self.retry_source = retry_source
        self.on_result = on_result
        self.on_request = on_request
        self.on_overdue = on_overdue
        self._rounds: dict[str, _Round] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running: dict[str, int] = dict.fromkeys(self.channels, 0)
        #: participant id -> rounds holding it (a scan skips these participants)
        self._hand: Counter[str] = Counter()
        self._held = 0  # messages and wake-ups in hand
        self._stopping = False
        self._low: dict[int, str] = {}
        self._full_scan_at = clock.now()
        #: the last scan left due messages for channels with no round free: scanning again
        #: before a round ends (`on_round_end`) would read the same records for nothing
        self.blocked = False
        self._due_news = False
        self.on_round_end: Callable[[], None] = lambda: None

    # --- what the stream tells us -----------------------------------------------------------

    def applied(self, round_id: str) -> None:
        """The stream applied this record of ours: its keys may be looked at again."""
        held = self._rounds.get(round_id)
        # Scans skip past what is in hand. An outcome record's records are saved in the same
        # step (each save moves the scan start back through `wake_written`), but a wake
        # record's handler awaits between its saves, so a scan may have passed them.
        self._release(round_id, rescan=held is not None and bool(held.waking))

    def _release(self, round_id: str, *, rescan: bool) -> None:
        """Forget a round's hold; `rescan`: the next scan of its partition starts at its
        entries at the latest (a round whose record never reached the broker, say)."""
        done = self._rounds.pop(round_id, None)
        if done is not None:
            for pid in done.participants():
                if self._hand[pid] > 1:
                    self._hand[pid] -= 1
                else:
                    del self._hand[pid]
            self._held -= len(done.keys) + len(done.waking)
            if rescan:
                self.wake_written(done.partition, done.low)

    def round_size(self, channel: str) -> int:
        if self.channels[channel].drops_repeats:
            return self.limits.batch
        return self._concurrency[channel]

    def in_hand(self) -> int:
        return self._held

    def wake_written(self, partition: int, instant: str) -> None:
        """The stream saved a record due at `instant`: the next scan must start there at the
        latest (a registration's first reminder, say, can lie in the past)."""
        low = self._low.get(partition)
        if low is not None and instant < low:
            self._low[partition] = instant
        if instant <= iso(self.clock.now()):
            self._due_news = True

    def take_due_news(self) -> bool:
        """Whether the stream wrote something due now since the last call."""
        news, self._due_news = self._due_news, False
        return news

    def _start_at(self, partition: int, now: datetime) -> str:
        """Where a scan of the partition's wake-up index may start: at the first entry the
        last scan saw, or earlier where the stream wrote an earlier one since
        (`wake_written`). A full scan now and then also finds what a crash left behind."""
        if now >= self._full_scan_at:
            self._full_scan_at = now + FULL_SCAN_EVERY
            self._low.clear()
        return self._low.get(partition, "")

    def _hold(self, round_id: str, held: _Round) -> None:
        self._rounds[round_id] = held
        self._hand.update(held.participants())
        self._held += len(held.keys) + len(held.waking)

    # --- one scan over the partitions this worker may dispatch ------------------------------

    async def scan(self, partitions: set[int]) -> int:
        """Start a round per channel for what is due now in these partitions (when the channel
        has a round free), and wake-ups for reminders; returns how many it started."""
        if self._stopping:
            return 0
        free = {
            name: self.round_size(name)
            if self._running[name] < self.limits.rounds_per_channel
            else 0
            for name in self.channels
        }
        if not any(free.values()):
            # every channel is busy: reading records now would find nothing to start (wake-ups
            # for reminders wait for the next free round, a few seconds at most)
            self.blocked = True
            return 0
        now = self.clock.now()
        moment = iso(now)
        batches: dict[str, list[_Planned]] = {name: [] for name in self.channels}
        overdue = dict.fromkeys(self.channels, 0.0)
        started = 0
        skipped: set[str] = set()  # channels with due messages left for a later round
        pids_in_hand = self._hand
        for partition in sorted(partitions):
            waking: list[tuple[str, str]] = []
            stale: list[tuple[str, str]] = []
            horizon = self.limits.batch + len(pids_in_hand)
            start = self._start_at(partition, now)
            first: str | None = None
            for instant, pid in self.state.due(partition, moment, horizon, start):
                if pid in pids_in_hand:
                    continue  # its other due messages wait until its outcome is applied
                # the next scan starts at the first entry not in hand: re-reading the ones in
                # hand on every scan cost a third of a worker's CPU in a burst (py-spy);
                # `applied` moves the start back when they are released
                first = first or instant
                if len(waking) >= self.limits.batch and all(
                    len(batches[name]) >= free[name] for name in batches
                ):
                    break  # every round is full: reading more records would be wasted
                record = self.state.get(partition, pid)
                if wake_of(record) != instant:
                    stale.append((instant, pid))  # left by a crash: the stream removes it
                    continue
                assert record is not None
                if record.get("next_at") and record["next_at"] <= moment:
                    waking.append((instant, pid))
                for entry, capped in self._judge(record, due_entries(record, moment), now):
                    name = entry["channel"]
                    if entry.get("deferred") and name in overdue:
                        late = (now - parse(entry["not_before"])).total_seconds()
                        overdue[name] = max(overdue[name], late)
                    batch = batches.get(name)
                    if batch is None:
                        continue
                    if capped is not None and capped.wait:
                        continue  # may fill the cap only with what goes now: the next look
                    if len(batch) >= free[name]:
                        skipped.add(name)
                        continue
                    person = record["person"]
                    batch.append(_Planned(partition, instant, entry, person, capped=capped))
            self._low[partition] = first or moment
            if waking or stale:
                started += await self._wake(partition, waking[: self.limits.batch], stale)
        for name, planned in batches.items():
            self.on_overdue(name, overdue[name])
            if planned:
                self._start_round(name, planned)
                started += len(planned)
        limit = self.limits.rounds_per_channel
        self.blocked = any(self._running[name] >= limit for name in skipped)
        return started

    def _judge(
        self, record: Record, due: list[dict[str, Any]], now: datetime
    ) -> list[tuple[dict[str, Any], frequency.Verdict | None]]:
        """Each due message with the frequency cap's verdict when it holds the message back or
        makes it wait (None: nothing to say). The whole person is judged in one look: a scan
        skips people in hand, so no other round of this worker is sending to them, and only
        the partition's owner dispatches it, so the record's `sent` is all that went out.
        Messages that will be suppressed anyway, or that no channel here sends, are left out:
        they fill no window."""
        if not self.cap.active or not any(e["kind"] in frequency.CAPPED_KINDS for e in due):
            return [(entry, None) for entry in due]
        person = record["person"]
        live = [e for e in due if e["channel"] in self.channels and not _suppression(e, person)]
        held = {
            verdict.entry["key"]: verdict
            for verdict in frequency.judge(self.cap, record["sent"], live, now)
            if not verdict.send
        }
        return [(entry, held.get(entry["key"])) for entry in due]

    async def _wake(
        self, partition: int, waking: list[tuple[str, str]], stale: list[tuple[str, str]]
    ) -> int:
        """One wake record: reminders due for `waking`, and `stale` index entries to drop
        (both lists of (index instant, participant id))."""
        round_id = new_round_id()
        pids = [pid for _, pid in waking]
        low = min(instant for instant, _ in waking + stale)
        self._hold(round_id, _Round(partition, low, waking=set(pids)))
        try:
            wake = Wake(round=round_id, participant_ids=pids, stale=stale)
            await (await self.service.publish.work(wake, partition))
        except Exception:
            self._release(round_id, rescan=True)  # not on the broker: look again next scan
            raise
        return len(pids)

    def _start_round(self, channel: str, planned: list[_Planned]) -> None:
        round_id = new_round_id()
        shares: dict[str, _Round] = {}
        for item in planned:
            share = shares.setdefault(
                f"{round_id}:{item.partition}", _Round(item.partition, item.instant)
            )
            share.low = min(share.low, item.instant)
            share.keys.add(item.entry["key"])
        for share_id, share in shares.items():
            self._hold(share_id, share)
        self._running[channel] += 1
        task = asyncio.get_running_loop().create_task(self._run_round(round_id, channel, planned))
        self._tasks[round_id] = task

    async def _run_round(self, round_id: str, channel: str, planned: list[_Planned]) -> None:
        published: set[str] = set()
        slot = [channel]  # the round's place among the channel's rounds, until given back
        try:
            now = self.clock.now()
            for item in planned:
                self._check(item, channel, now)
            sending = [item for item in planned if item.message is not None]
            await asyncio.gather(*(self._deliver(item, channel) for item in sending))
            # the next round may send while this one publishes: its keys stay in hand until
            # the stream applies the outcome, so nothing is sent twice (waiting for the acks
            # here held every message of the next round back by two broker round trips)
            self._end_round_slot(slot)
            done = [item for item in planned if item.outcome is not None]
            published = await self._publish(round_id, done)
            for item in done:
                assert item.outcome is not None
                self.on_result(channel, item.outcome.result)
        except Exception:
            log.exception("%s round %s failed; its messages stay queued", channel, round_id)
        finally:
            self._end_round_slot(slot)
            self._tasks.pop(round_id, None)
            for share in {f"{round_id}:{item.partition}" for item in planned} - published:
                self._release(share, rescan=True)  # no record for it: look at it again
            self.on_round_end()

    def _end_round_slot(self, slot: list[str]) -> None:
        """Give the round's place back once (sending done, or the round failed)."""
        if slot:
            self._running[slot.pop()] -= 1
            self.on_round_end()

    def _check(self, item: _Planned, channel: str, now: datetime) -> None:
        """Settle what must not be sent (suppressed, deferred, unrenderable); render the rest."""
        entry, person = item.entry, item.person
        reason = _suppression(entry, person)
        if reason:
            item.outcome = self._outcome(entry, "suppressed", {"reason": reason}, now)
            return
        if item.capped is not None and item.capped.opens_at is not None:
            if item.capped.dropped:
                details = {"reason": frequency.REASON}
                item.outcome = self._outcome(entry, "suppressed", details, now)
                item.events.append(
                    NotificationSuppressedV1(
                        **self.service.facts(entry, person),
                        reason=frequency.REASON,
                        suppressed_at=now,
                    )
                )
            else:
                self._defer(item, item.capped.opens_at, frequency.REASON, now)
            return
        if channel in QUIET_CHANNELS and self.quiet.contains(now, person["branch_timezone"]):
            opens = self.quiet.opens_at(now, person["branch_timezone"])
            self._defer(item, opens, "quiet_hours", now)
            return
        try:
            item.message = self.renderer.render(
                key=entry["key"],
                kind=entry["kind"],
                channel=entry["channel"],
                person=person,
                params=entry.get("params", {}),
            )
        except (TemplateError, KeyError, ValueError) as exc:
            self._failed(item, f"render: {exc!r}", permanent=True, now=now)

    def _defer(self, item: _Planned, until: datetime, reason: str, now: datetime) -> None:
        """The message waits in the queue until `until`; the first deferral of a message says
        so with `notification.deferred` (a later one, say the cap after the night, does not)."""
        entry = item.entry
        waiting = {**entry, "not_before": iso(until), "deferred": True}
        item.outcome = self._outcome(entry, "deferred", {}, now, waiting)
        if not entry.get("deferred"):
            item.events.append(
                NotificationDeferredV1(
                    **self.service.facts(entry, item.person),
                    reason=reason,
                    deliver_after=until,
                    deferred_at=now,
                )
            )

    async def _deliver(self, item: _Planned, channel: str) -> None:
        assert item.message is not None
        async with self.gates[channel]:
            if self._stopping:  # handing the partition over: leave it queued for the owner
                return
            adapter = self.channels[channel]
            # a channel of several providers counts its own requests (one send, maybe more)
            count = self.on_request if not getattr(adapter, "reports_requests", False) else None
            # a retry goes back to the provider that may hold the message (`_transient`)
            route = route_for(item.entry["kind"], self.service.routes)
            message = pinned_to(item.message, item.entry.get("provider"), route.sms_providers)
            try:
                receipt = await adapter.send(message)
            except PermanentError as exc:
                if count:
                    count(channel, adapter.provider, "rejected")
                now = self.clock.now()
                self._failed(item, exc.reason, permanent=True, now=now, fallback=exc.fallback)
                return
            except TransientError as exc:
                if count:
                    count(channel, adapter.provider, "error")
                self._transient(item, exc)
                return
            if count:
                count(channel, adapter.provider, "accepted")
        sent_at = self.clock.now()
        attempt = int(item.entry.get("attempt", 1))
        item.events.append(
            NotificationSentV1(
                **self.service.facts(item.entry, item.person),
                provider=receipt.provider,
                provider_message_id=receipt.provider_message_id,
                attempt=attempt,
                sent_at=sent_at,
            )
        )
        state = {
            "attempt": attempt,
            "provider": receipt.provider,
            "provider_message_id": receipt.provider_message_id,
        }
        if channel in FALLS_BACK_LATER:
            # a status webhook may still say "not on WhatsApp": the message then goes out on
            # SMS, rendered from these
            state["params"] = item.entry.get("params", {})
        item.outcome = self._outcome(item.entry, "sent", state, sent_at)

    def _transient(self, item: _Planned, exc: TransientError) -> None:
        now = self.clock.now()
        attempt = int(item.entry.get("attempt", 1))
        if exc.tried and attempt >= self.limits.max_attempts:
            reason = f"gave up after {attempt} attempts: {exc.reason}"
            item.error, item.finished_at = exc, now
            # operators must hear of a message nobody will receive without a replay
            log.warning("%s: %s; to the dead-letter topic", item.entry["key"], reason)
            self._failed(item, reason, permanent=False, now=now, result="dead")
            return
        delay = backoff_seconds(
            attempt,
            base=self.limits.backoff_base,
            cap=self.limits.backoff_cap,
            retry_after=exc.retry_after,
        )
        waiting = {
            **item.entry,
            # a wait for the provider holding it (no request went out) is not an attempt
            "attempt": attempt + 1 if exc.tried else attempt,
            "not_before": iso(now + timedelta(seconds=delay)),
            "last_error": exc.reason,
            # the dead letter of a message out of retries says when its first attempt was
            "first_attempt_at": item.entry.get("first_attempt_at") or iso(now),
        }
        if exc.held_by:
            # no answer after the request went out: that provider may have the message, so
            # every later attempt goes to it (an entry bound once stays bound)
            waiting["provider"] = exc.held_by
        state = {"state": "retry", "attempt": attempt, "at": iso(now), "reason": exc.reason}
        item.outcome = Outcome(
            participant_id=item.entry["participant_id"],
            key=item.entry["key"],
            result="retry",
            state=state,
            entry=waiting,
        )
        key = item.entry["key"]
        log.info("transient failure for %s (attempt %d), retry in %.1fs", key, attempt, delay)

    def _failed(
        self,
        item: _Planned,
        reason: str,
        *,
        permanent: bool,
        now: datetime,
        result: str = "failed",
        fallback: str | None = None,
    ) -> None:
        item.message = None
        item.events.append(
            NotificationFailedV1(
                **self.service.facts(item.entry, item.person),
                reason=reason[:500],
                permanent=permanent,
                attempt=int(item.entry.get("attempt", 1)),
                failed_at=now,
            )
        )
        item.outcome = self._outcome(item.entry, result, {"reason": reason[:500]}, now)
        if fallback:
            item.outcome = item.outcome.model_copy(
                update={"fallback": fallback, "entry": item.entry}
            )

    def _outcome(
        self,
        entry: dict[str, Any],
        result: str,
        details: dict[str, Any],
        now: datetime,
        waiting: dict[str, Any] | None = None,
    ) -> Outcome:
        state = {} if waiting is not None else {"state": result, "at": iso(now), **details}
        return Outcome(
            participant_id=entry["participant_id"],
            key=entry["key"],
            result=result,
            state=state,
            entry=waiting,
        )

    async def _publish(self, round_id: str, done: list[_Planned]) -> set[str]:
        """The round's events, then one outcome record per partition; returns the shares
        published. A crash in between sends the messages again under the same keys and
        re-emits the events under the same ids (reporting drops them); the other order could
        lose an event for good."""
        publish = self.service.publish
        acks = []
        by_partition: dict[int, list[Outcome]] = {}
        for item in done:
            for data in item.events:
                acks.append(await publish.event(data, item.entry["participant_id"]))
            if item.outcome is not None:
                by_partition.setdefault(item.partition, []).append(item.outcome)
                if item.outcome.result == "dead":
                    acks.append(await self.dead_letter(self._dead_letter(item)))
        for ack in acks:
            await ack
        shares = {p: f"{round_id}:{p}" for p in by_partition}
        acks = [
            await publish.work(Outcomes(round=shares[p], items=items), p)
            for p, items in by_partition.items()
        ]
        for ack in acks:
            await ack
        return set(shares.values())

    def _dead_letter(self, item: _Planned) -> DeadLetter:
        """The message's queue entry, out of retries. It came from no single record, so the
        partition is its participant's and the offset is unknown."""
        entry = item.entry
        last = item.finished_at or self.clock.now()
        first = entry.get("first_attempt_at")
        return DeadLetter.of(
            service="notifier",
            source_topic=self.retry_source,
            key=entry["key"].encode(),
            value=json.dumps(entry).encode(),
            reason=(item.outcome.state.get("reason", "") if item.outcome else "") or "dead",
            partition=item.partition,
            error=item.error,
            service_version=SERVICE_VERSION,
            first_attempt_at=parse(first) if first else last,
            last_attempt_at=last,
            attempts=int(entry.get("attempt", 1)),
        )

    # --- handing partitions over ------------------------------------------------------------

    async def stop_rounds(self) -> None:
        """Stop starting sends, let the sends under way finish and their outcomes be published,
        then forget what is in hand: the next owner (maybe us) starts from the stream."""
        self._stopping = True
        try:
            tasks = list(self._tasks.values())
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._rounds.clear()
            self._hand.clear()
            self._held = 0

    def resume(self) -> None:
        self._stopping = False
        self._low.clear()  # partitions may have moved: their next scans start from the front


def _suppression(entry: dict[str, Any], person: dict[str, Any]) -> str | None:
    """Why a queued message must not go out any more, or None."""
    if entry["channel"] in person.get("opted_out", []):
        return "opted out"
    if entry["kind"] != MessageKind.WELCOME and not person.get("consent_reminders", False):
        return "no consent"
    if entry["kind"] in REMINDER_KINDS:
        period = NotificationKey.parse(entry["key"]).scope
        if period in person.get("paid_periods", []):
            return "paid"
    return None
