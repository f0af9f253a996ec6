"""The notifier's service layer: the only code that changes state.

Every method here runs inside the stream iteration of the worker that owns the partition it is
given — for an input event of `bebas.participants` or a record of `bebas.notifier.work` — and
reads and writes only that partition (`StatePort`). Work that starts elsewhere (a dispatch
round, a reply, a receipt, a broadcast) reaches it as a work record (`services.notifier.work`).
A message is only ever *queued* under its deterministic key, so redelivered input queues
nothing new.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from schemas.envelope import CloudEvent
from schemas.events import (
    CampaignBroadcastRequestedV1,
    ContributionPaidV1,
    ContributionPartiallyPaidV1,
    EventData,
    NotificationDeferredV1,
    NotificationDeliveredV1,
    NotificationFacts,
    NotificationFailedV1,
    ParticipantLapsedV1,
    ParticipantOptedOutV1,
    ParticipantOptOutRequestedV1,
    ParticipantReactivatedV1,
    ParticipantRegisteredV1,
    ParticipantUpdatedV1,
    ParticipantUpdatedV2,
)
from schemas.vocab import Channel, MessageKind
from services.common.clock import Clock
from services.notifier.domain import audience
from services.notifier.domain.keys import NotificationKey, campaign_key, once_key, period_key
from services.notifier.domain.model import REMINDER_KINDS, channels_for
from services.notifier.domain.quiet_hours import QUIET_CHANNELS, QuietHours
from services.notifier.domain.record import (
    Record,
    amount_due,
    copy_of,
    enqueue,
    is_final,
    iso,
    new_record,
    parse,
    prune_sent,
    revive,
    settle,
    wake_of,
)
from services.notifier.domain.routing import DEFAULT_ROUTES, WITHOUT_WHATSAPP, Route, reachable
from services.notifier.domain.schedule import (
    JHT,
    LAPSE,
    Lapse,
    Reminder,
    ReminderPolicy,
    Subject,
    due_reminders,
    lapse_of,
    next_fire_at,
)
from services.notifier.ports import StatePort
from services.notifier.work import (
    Barrier,
    Broadcast,
    Outcomes,
    Receipt,
    Requeue,
    Stop,
    Wake,
    WorkRecord,
)

#: participants looked at per broadcast record before the next chunk is handed on
BROADCAST_CHUNK = 500

Ack = Awaitable[Any]

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Produces records; each call returns once the record is handed to the producer, and
    gives back an awaitable that completes when the broker acknowledged it."""

    async def event(self, data: EventData, participant_id: str) -> Ack: ...

    async def work(self, record: WorkRecord, partition: int) -> Ack: ...


class Listener(Protocol):
    """What the dispatcher of this worker wants to hear from the stream."""

    def applied(self, round_id: str) -> None: ...

    def barrier(self, partition: int, token: str) -> None: ...

    def wake_written(self, partition: int, instant: str) -> None:
        """A record was saved with this wake instant (it may lie in the past)."""
        ...


@dataclass(frozen=True)
class Partitioning:
    partitions: int
    partition_for: Callable[[str, int], int]

    def of(self, participant_id: str) -> int:
        return self.partition_for(participant_id, self.partitions)


class NotifierService:
    def __init__(
        self,
        state: StatePort,
        clock: Clock,
        policy: ReminderPolicy,
        quiet: QuietHours,
        publish: Publisher,
        partitioning: Partitioning,
        listener: Listener | None = None,
        routes: Mapping[str, Route] = DEFAULT_ROUTES,
        available: frozenset[str] = WITHOUT_WHATSAPP,
    ) -> None:
        self.state = state
        self.routes = routes
        #: the channels this notifier has adapters for (WhatsApp only with an account)
        self.available = available
        self.clock = clock
        self.policy = policy
        self.quiet = quiet
        self.publish = publish
        self.partitioning = partitioning
        self.listener = listener
        self.enqueued = 0

    # --- input events (bebas.participants) --------------------------------------------------

    async def handle(self, event: CloudEvent[EventData], partition: int) -> None:
        data = event.data
        if isinstance(data, ParticipantRegisteredV1):
            await self.on_registered(data, partition)
        elif isinstance(data, ParticipantUpdatedV1):
            self.on_updated(data, partition)
        elif isinstance(data, ParticipantOptedOutV1):
            self.opt_out(partition, data.participant_id, [c.value for c in data.channels])
        elif isinstance(data, ContributionPaidV1):
            await self.on_paid(data, partition)
        elif isinstance(data, ContributionPartiallyPaidV1):
            self.on_partially_paid(data, partition)
        # other events on our topics (campaign.created, notification.*) are not for us

    async def on_registered(self, data: ParticipantRegisteredV1, partition: int) -> None:
        pid = data.participant_id
        old = self.state.get(partition, pid)
        known = old["person"] if old else {}
        person = _person(data, known)
        record = copy_of(old) if old else new_record(person)
        record["person"] = person
        welcome = MessageKind.WELCOME.value
        for channel in self.channels_for(welcome, person):
            await self._queue(record, welcome, channel, once_key(pid, welcome, channel), {})
        if record["after"] is None:
            self._reschedule(record, after=data.registered_at)
        self._save(partition, pid, record, old)
        self._index_phone(partition, pid, known.get("phone_e164"), person["phone_e164"])

    def on_updated(self, data: ParticipantUpdatedV1, partition: int) -> None:
        old = self.state.get(partition, data.participant_id)
        if old is None:
            return  # an update for someone never registered here: nothing to address
        record = copy_of(old)
        person = record["person"]
        previous_phone = person.get("phone_e164")
        for name in ("phone_e164", "email", "segment", "consent_reminders"):
            value = getattr(data, name)
            if value is not None:
                person[name] = value
        if data.monthly_contribution is not None:
            person["monthly_contribution"] = data.monthly_contribution
        for name in ("preferred_channel", "language"):
            value = getattr(data, name)
            if value is not None:
                person[name] = value.value
        if data.programmes is not None:
            person["programmes"] = [p.value for p in data.programmes]
        consent_whatsapp = getattr(data, "consent_whatsapp", None)  # v3 on
        if consent_whatsapp is not None:
            person["consent_whatsapp"] = consent_whatsapp
        if person.get("phone_e164") != previous_phone:
            person.pop("not_on_whatsapp", None)  # a new number may well be on WhatsApp
        person["branch_code"] = data.branch_code
        if isinstance(data, ParticipantUpdatedV2):
            if data.branch_timezone is not None:  # a move to a branch in another zone
                person["branch_timezone"] = data.branch_timezone.value
            if data.participant_number is not None:
                person["participant_number"] = data.participant_number
            for name in data.cleared or ():
                person[name] = None
        self._reschedule(record)
        self._save(partition, data.participant_id, record, old)
        self._index_phone(partition, data.participant_id, previous_phone, person["phone_e164"])

    def opt_out(self, partition: int, pid: str, channels: list[str]) -> bool:
        old = self.state.get(partition, pid)
        if old is None:
            return False
        record = copy_of(old)
        person = record["person"]
        person["opted_out"] = sorted(set(person.get("opted_out", [])) | set(channels))
        now = iso(self.clock.now())
        for key, entry in list(record["queue"].items()):
            if entry["channel"] in channels:
                settle(record, key, {"state": "suppressed", "reason": "opted out", "at": now})
        self._save(partition, pid, record, old)
        return True

    async def on_paid(self, data: ContributionPaidV1, partition: int) -> None:
        old = self.state.get(partition, data.participant_id)
        if old is None:
            return
        record = copy_of(old)
        person = record["person"]
        now = self.clock.now()
        # whether the person had lapsed is judged on the history before this payment
        lapsed = self._has_lapsed(record, now)
        person["paid_periods"] = sorted(set(person.get("paid_periods", [])) | {data.period})
        person.get("partial_owed", {}).pop(data.period, None)
        if "JHT" in person.get("programmes", []):
            person["jht_paid"] = True
        for key in list(record["queue"]):
            parsed = NotificationKey.parse(key)
            if parsed.kind in REMINDER_KINDS and parsed.scope == data.period:
                settle(record, key, {"state": "cancelled", "reason": "paid", "at": iso(now)})
        if lapsed:
            await self._reactivate(record, data.period, now)
        self._reschedule(record)
        self._save(partition, data.participant_id, record, old)

    def on_partially_paid(self, data: ContributionPartiallyPaidV1, partition: int) -> None:
        """The period stays unpaid (its reminders still go, and it still counts towards a
        lapse), but from now on they ask for what it still owes."""
        old = self.state.get(partition, data.participant_id)
        if old is None:
            return
        if data.period in old["person"].get("paid_periods", []):
            return  # a replay of an older event: the period has been paid since
        record = copy_of(old)
        owed = record["person"].setdefault("partial_owed", {})
        owed[data.period] = data.owed
        self._save(partition, data.participant_id, record, old)

    def _has_lapsed(self, record: Record, now: datetime) -> bool:
        """Lapsed, or due to lapse already: a payment that overtakes the wake-up which would
        have announced the lapse also counts as reactivating, or the wake-up would still
        lapse someone who just paid."""
        return bool(record.get("lapse")) or lapse_of(self._subject(record), self.policy).at <= now

    async def _reactivate(self, record: Record, period: str, now: datetime) -> None:
        """Count unpaid periods again from now, withdraw an unsent reactivation message, and
        announce the reactivation if the lapse was announced."""
        announced = record.get("lapse")
        record["lapse"] = None
        record["reactivated_at"] = iso(now)
        for key in list(record["queue"]):
            if NotificationKey.parse(key).kind == LAPSE:
                settle(record, key, {"state": "cancelled", "reason": "paid", "at": iso(now)})
        if announced:
            person = record["person"]
            await self.publish.event(
                ParticipantReactivatedV1(
                    participant_id=person["participant_id"],
                    branch_code=person["branch_code"],
                    branch_timezone=person["branch_timezone"],
                    campaign_code=person.get("campaign_code"),
                    period=period,
                    lapsed_at=parse(announced["at"]),
                    reactivated_at=now,
                ),
                person["participant_id"],
            )

    # --- broadcasts (bebas.campaigns): one work record per partition ------------------------

    async def fan_out(self, data: CampaignBroadcastRequestedV1) -> None:
        acks = [
            await self.publish.work(Broadcast(request=data), partition)
            for partition in range(self.partitioning.partitions)
        ]
        for ack in acks:
            await ack

    # --- work records (bebas.notifier.work) -------------------------------------------------

    async def on_work(self, record: WorkRecord, partition: int) -> None:
        if isinstance(record, Outcomes):
            await self.on_outcomes(record, partition)
        elif isinstance(record, Wake):
            await self.on_wake(record, partition)
        elif isinstance(record, Broadcast):
            await self.on_broadcast(record, partition)
        elif isinstance(record, Stop):
            await self.on_stop(record, partition)
        elif isinstance(record, Receipt):
            await self.on_receipt(record, partition)
        elif isinstance(record, Requeue):
            self.on_requeue(record, partition)
        elif isinstance(record, Barrier) and self.listener:
            self.listener.barrier(partition, record.token)

    async def on_stop(self, stop: Stop, partition: int) -> None:
        """The number's participant asked to stop SMS: ask enrollment, the only writer of
        participant state, and change nothing here. The opt-out comes back as
        `participant.opted_out` on bebas.participants, like one an officer records, and
        suppresses what is queued then. Waits for the broker's acknowledgement, so a request
        that could not be written fails this record (a dead letter), never vanishes."""
        pid = self.state.phone_owner(partition, stop.phone)
        if pid is None:
            return  # the number is not in this partition (the reply went to every one)
        request = ParticipantOptOutRequestedV1(
            participant_id=pid,
            channels=[Channel.SMS],
            via="sms_reply",
            keyword=stop.word,
            requested_at=parse(stop.at) if stop.at else self.clock.now(),
        )
        await (await self.publish.event(request, pid))

    async def request_unsubscribe(self, participant_id: str, channel: str) -> None:
        """A signed unsubscribe link was used: ask enrollment (any worker may send this; the
        link names the participant, so no partition needs to look anything up)."""
        request = ParticipantOptOutRequestedV1(
            participant_id=participant_id,
            channels=[Channel(channel)],
            via="email_link",
            requested_at=self.clock.now(),
        )
        await (await self.publish.event(request, participant_id))

    async def on_outcomes(self, outcomes: Outcomes, partition: int) -> None:
        by_participant: dict[str, list[Any]] = {}
        for item in outcomes.items:
            by_participant.setdefault(item.participant_id, []).append(item)
        for pid, items in by_participant.items():
            old = self.state.get(partition, pid)
            if old is None:
                continue
            record = copy_of(old)
            for item in items:
                if record["sent"].get(item.key, {}).get("by") == "receipt":
                    continue  # the provider's later word on it came first: it stands
                if item.result in ("retry", "deferred"):
                    self._requeue(record, item.key, item.entry or {}, item.state)
                else:
                    settle(record, item.key, item.state)
                if item.fallback and item.entry:
                    await self._fall_back(record, item.key, item.entry, item.fallback)
            self._save(partition, pid, record, old)
        if self.listener:
            self.listener.applied(outcomes.round)

    def _requeue(
        self, record: Record, key: str, entry: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """A message waits again (next attempt, or the end of quiet hours) unless it was
        settled meanwhile (an opt-out or payment while it was in flight)."""
        if is_final(record, key) or key not in record["queue"]:
            return
        record["queue"][key] = entry
        if state:
            record["sent"][key] = state

    def on_requeue(self, requeue: Requeue, partition: int) -> None:
        """A replayed dead letter: the message goes back in the queue if it is still marked
        dead, and nothing happens otherwise, so a replay applied twice (or after the message
        was sent) sends nothing twice. The gateway would drop a repeat anyway (same key)."""
        old = self.state.get(partition, requeue.participant_id)
        if old is None:
            return
        record = copy_of(old)
        if revive(record, requeue.entry, iso(self.clock.now())):
            self._save(partition, requeue.participant_id, record, old)

    async def on_wake(self, wake: Wake, partition: int) -> None:
        now = self.clock.now()
        for instant, pid in wake.stale:
            if wake_of(self.state.get(partition, pid)) != instant:
                self.state.drop_wake(partition, instant, pid)
        for pid in wake.participant_ids:
            old = self.state.get(partition, pid)
            if old is None or not old.get("next_at") or parse(old["next_at"]) > now:
                continue
            record = copy_of(old)
            after = parse(record["after"])
            for reminder in due_reminders(self._subject(record), after, now, self.policy):
                if reminder.kind == LAPSE:
                    await self._lapse(record, lapse_of(self._subject(record), self.policy))
                else:
                    await self._queue_reminder(record, reminder)
            self._reschedule(record, after=now)
            prune_sent(record, now)
            self._save(partition, pid, record, old)
        if self.listener:
            self.listener.applied(wake.round)

    async def _queue_reminder(self, record: Record, reminder: Reminder) -> None:
        pid = record["person"]["participant_id"]
        for channel in self.channels_for(reminder.kind, record["person"]):
            if reminder.kind == JHT:
                key, params = once_key(pid, JHT, channel), {}
            else:
                key = period_key(pid, reminder.kind, reminder.period, channel)
                params = {"period": reminder.period}
            await self._queue(record, reminder.kind, channel, key, params)

    async def _lapse(self, record: Record, lapse: Lapse) -> None:
        """Monthly reminders stop: record the lapse, queue the one reactivation message (what
        is owed: per period today's monthly amount, or what a partial payment left owing) and
        announce it for reporting. The event id is derived from participant and instant, so a
        replay after a crash is a duplicate."""
        person = record["person"]
        pid = person["participant_id"]
        unpaid = list(lapse.unpaid)
        owed = sum(amount_due(person, period) for period in unpaid)
        record["lapse"] = {"at": iso(lapse.at), "unpaid_periods": unpaid, "amount_owed": owed}
        params = {"unpaid_periods": unpaid, "amount_owed": owed}
        for channel in self.channels_for(LAPSE, person):
            key = period_key(pid, LAPSE, lapse.reminder.period, channel)
            await self._queue(record, LAPSE, channel, key, params)
        await self.publish.event(
            ParticipantLapsedV1(
                participant_id=pid,
                branch_code=person["branch_code"],
                branch_timezone=person["branch_timezone"],
                campaign_code=person.get("campaign_code"),
                unpaid_periods=unpaid,
                amount_owed=owed,
                lapsed_at=lapse.at,
            ),
            pid,
        )

    async def on_broadcast(self, work: Broadcast, partition: int) -> None:
        data = work.request
        aud = data.audience
        kind = data.message_kind.value
        params = {"campaign_code": data.campaign_code, "campaign_params": data.params}
        pids = self.state.participants_after(partition, work.after, BROADCAST_CHUNK)
        for pid in pids:
            old = self.state.get(partition, pid)
            if old is None:
                continue
            person = old["person"]
            if not audience.matches(
                branch_code=person["branch_code"],
                segment=person["segment"],
                campaign_code=person.get("campaign_code"),
                branch_codes=aud.branch_codes,
                segments=aud.segments,
                campaign_codes=aud.campaign_codes,
            ):
                continue
            record = copy_of(old)
            queued = False
            for channel in self.channels_for(kind, person):
                key = campaign_key(pid, kind, data.campaign_code, data.broadcast_id, channel)
                queued = await self._queue(record, kind, channel, key, params) or queued
            if queued:
                self._save(partition, pid, record, old)
        if len(pids) == BROADCAST_CHUNK:  # more to look at: hand the rest on, same partition
            await self.publish.work(Broadcast(request=data, after=pids[-1]), partition)

    async def on_receipt(self, receipt: Receipt, partition: int) -> None:
        facts = self.facts_for_key(receipt.reference, partition)
        at = parse(receipt.at)
        if receipt.status == "delivered":
            data: EventData = NotificationDeliveredV1(
                **facts.model_dump(), provider_message_id=receipt.message_id, delivered_at=at
            )
        else:
            data = NotificationFailedV1(
                **facts.model_dump(),
                reason=receipt.reason or f"provider receipt: {receipt.status}",
                permanent=True,
                failed_at=at,
            )
        await self.publish.event(data, facts.participant_id)
        if receipt.fallback:
            await self._fall_back_after_receipt(receipt, receipt.fallback, partition)

    async def _fall_back_after_receipt(
        self, receipt: Receipt, channel: str, partition: int
    ) -> None:
        """The provider took the message but could not deliver it, and another channel can
        (a WhatsApp status `failed` 131026): the message as it was sent goes out there once.
        What it said comes from its `sent` state (kind, params, campaign), or from its queue
        entry when the status came before the dispatch round's outcome was applied here (the
        Cloud API can answer that fast); the outcome applied later leaves the failure be."""
        key = receipt.reference
        pid = NotificationKey.parse(key).participant_id
        old = self.state.get(partition, pid)
        sent = (old["sent"].get(key) or old["queue"].get(key)) if old else None
        if old is None or not sent or "params" not in sent:
            log.warning("%s failed and cannot fall back: not sent from here", key)
            return
        record = copy_of(old)
        reason = (receipt.reason or receipt.status)[:500]
        settle(record, key, {**sent, "state": "failed", "reason": reason, "by": "receipt"})
        await self._fall_back(record, key, sent, channel)
        self._save(partition, pid, record, old)

    async def _fall_back(
        self, record: Record, key: str, sent: dict[str, Any], channel: str
    ) -> None:
        """Queue the message `key` (its entry or sent state `sent`: params, campaign) on
        `channel` under that channel's key: once, since the queue takes a key once and never
        after it was settled. A WhatsApp failure also marks the number as off WhatsApp, so the
        next messages go straight to the route's next channel."""
        person = record["person"]
        failed = NotificationKey.parse(key)
        if failed.channel == "whatsapp":
            person["not_on_whatsapp"] = iso(self.clock.now())
        if channel not in reachable(person, self.available):
            return  # opted out of it meanwhile, say: nowhere else to go
        again = str(NotificationKey(failed.participant_id, failed.kind, failed.scope, channel))
        params = dict(sent.get("params") or {})
        await self._queue(record, failed.kind, channel, again, params)

    # --- requests from HTTP: turned into work records for the owner -------------------------

    async def request_stop(self, phone: str, word: str) -> None:
        """Any worker may get the reply; only the partition holding the number acts on it,
        so the request goes to every partition (a reply is rare; a global map is not)."""
        stop = Stop(phone=phone, word=word, at=iso(self.clock.now()))
        acks = [
            await self.publish.work(stop, partition)
            for partition in range(self.partitioning.partitions)
        ]
        for ack in acks:
            await ack

    async def request_receipt(self, receipt: Receipt) -> None:
        pid = NotificationKey.parse(receipt.reference).participant_id
        await (await self.publish.work(receipt, self.partitioning.of(pid)))

    # --- facts for outcome events -----------------------------------------------------------

    @staticmethod
    def facts(entry: dict[str, Any], person: dict[str, Any] | None) -> dict[str, Any]:
        person = person or {}
        return {
            "notification_key": entry["key"],
            "participant_id": entry["participant_id"],
            "kind": entry["kind"],
            "channel": entry["channel"],
            "branch_code": person.get("branch_code", "unknown"),
            "branch_timezone": person.get("branch_timezone", "Asia/Jakarta"),
            "campaign_code": entry.get("campaign_code"),
        }

    def facts_for_key(self, key: str, partition: int) -> NotificationFacts:
        parsed = NotificationKey.parse(key)
        record = self.state.get(partition, parsed.participant_id)
        person = record["person"] if record else None
        entry = {
            "key": key,
            "participant_id": parsed.participant_id,
            "kind": parsed.kind,
            "channel": parsed.channel,
            "campaign_code": (person or {}).get("campaign_code"),
        }
        if parsed.scope.startswith("campaign:"):
            entry["campaign_code"] = parsed.scope.split(":")[1]
        return NotificationFacts(**self.facts(entry, person))

    # --- helpers ----------------------------------------------------------------------------

    def channels_for(self, kind: str, person: dict[str, Any]) -> list[str]:
        return channels_for(kind, person, self.routes, self.available)

    async def _queue(
        self, record: Record, kind: str, channel: str, key: str, params: dict[str, Any]
    ) -> bool:
        """Queue a message; an SMS that falls in the recipient's night waits for the morning
        (and says so once with `notification.deferred`)."""
        person = record["person"]
        now = self.clock.now()
        entry = {
            "key": key,
            "participant_id": person["participant_id"],
            "kind": kind,
            "channel": channel,
            "params": params,
            "campaign_code": params.get("campaign_code") or person.get("campaign_code"),
            "attempt": 1,
            "not_before": iso(now),
            "deferred": False,
        }
        tz = person["branch_timezone"]
        deferred = channel in QUIET_CHANNELS and self.quiet.contains(now, tz)
        if deferred:
            entry["not_before"] = iso(self.quiet.opens_at(now, tz))
            entry["deferred"] = True
        if not enqueue(record, entry):
            return False
        self.enqueued += 1
        if deferred:
            await self.publish.event(
                NotificationDeferredV1(
                    **self.facts(entry, person),
                    reason="quiet_hours",
                    deliver_after=parse(entry["not_before"]),
                    deferred_at=now,
                ),
                person["participant_id"],
            )
        return True

    def _subject(self, record: Record) -> Subject:
        person = record["person"]
        consent = bool(person.get("consent_reminders"))
        reactivated_at = record.get("reactivated_at")
        return Subject(
            tz=person["branch_timezone"],
            registered_at=parse(person["registered_at"]),
            birth_date=date.fromisoformat(person["birth_date"]),
            wants_reminders=consent,
            wants_jht=consent and "JHT" in person.get("programmes", []),
            paid_periods=frozenset(person.get("paid_periods", [])),
            reactivated_at=parse(reactivated_at) if reactivated_at else None,
            lapsed=bool(record.get("lapse")),
            jht_paid=bool(person.get("jht_paid")),
        )

    def _reschedule(self, record: Record, after: datetime | None = None) -> None:
        person = record["person"]
        if after is None:
            after = parse(record["after"] or person["registered_at"])
        upcoming = next_fire_at(self._subject(record), after, self.policy)
        record["after"] = iso(after)
        record["next_at"] = iso(upcoming) if upcoming else None

    def _save(self, partition: int, pid: str, record: Record, old: Record | None) -> None:
        self.state.save(partition, pid, record, wake_of(old))
        wake = wake_of(record)
        if wake is not None and self.listener:
            self.listener.wake_written(partition, wake)

    def _index_phone(self, partition: int, pid: str, before: str | None, now: str) -> None:
        if before and before != now:
            self.state.drop_phone(partition, before)
        # even when unchanged: after a crash the record's write may be on the broker and the
        # index entry's not (two changelogs); processing the input again restores it
        self.state.set_phone(partition, now, pid)


def _person(data: ParticipantRegisteredV1, known: dict[str, Any]) -> dict[str, Any]:
    return {
        "participant_id": data.participant_id,
        "full_name": data.full_name,
        "phone_e164": data.phone_e164,
        "email": data.email,
        "language": data.language.value,
        "preferred_channel": data.preferred_channel.value,
        "consent_reminders": data.consent_reminders,
        # v4 on; an older registration carries no WhatsApp opt-in
        "consent_whatsapp": bool(getattr(data, "consent_whatsapp", False)),
        "branch_code": data.branch_code,
        "branch_timezone": data.branch_timezone.value,
        "segment": data.segment,
        "campaign_code": data.campaign_code,
        "birth_date": data.birth_date.isoformat(),
        # enrollment read it from the NIK; the greeting needs it, the NIK stays behind
        "sex": data.sex.value,
        "programmes": [p.value for p in data.programmes],
        "monthly_contribution": data.monthly_contribution,
        "registered_at": iso(data.registered_at),
        "participant_number": getattr(data, "participant_number", None),
        "opted_out": known.get("opted_out", []),
        "paid_periods": known.get("paid_periods", []),
        "partial_owed": known.get("partial_owed", {}),
        "jht_paid": known.get("jht_paid", False),
        # when a WhatsApp message found the number off WhatsApp (until the number changes)
        **(
            {"not_on_whatsapp": known["not_on_whatsapp"]}
            if known.get("not_on_whatsapp") and known.get("phone_e164") == data.phone_e164
            else {}
        ),
    }


def new_round_id() -> str:
    return uuid.uuid4().hex
