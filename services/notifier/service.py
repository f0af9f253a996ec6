"""The notifier's application layer: what each input means for the tables it owns.

Tables are plain MutableMappings here (faust tables in production, dicts in unit tests):
- participants: participant id -> contact, language, consent, opt-outs, paid periods
- schedule:     participant id -> {"after": last scan instant, "next_at": next reminder}
- outbox:       notification key -> a message waiting to be sent (with not_before, attempt)
- sent:         notification key -> final or in-flight state (the idempotency record)
- phones:       E.164 number -> participant id (inbound "STOP" replies)
Agents decode input and call `handle`; per-channel dispatchers drain the outbox. A message is
only ever *enqueued* under its deterministic key, so redelivered input enqueues nothing new.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from schemas.envelope import CloudEvent
from schemas.events import (
    CampaignBroadcastRequestedV1,
    ContributionPaidV1,
    EventData,
    NotificationFacts,
    ParticipantOptedOutV1,
    ParticipantRegisteredV1,
    ParticipantUpdatedV1,
)
from services.common.clock import Clock
from services.notifier.domain import audience
from services.notifier.domain.keys import NotificationKey, campaign_key, once_key, period_key
from services.notifier.domain.model import REMINDER_KINDS, channels_for
from services.notifier.domain.schedule import (
    JHT,
    ReminderPolicy,
    Subject,
    due_reminders,
    next_fire_at,
)

Table = MutableMapping[str, Any]
#: states in `sent` after which a key is never sent again
FINAL_STATES = frozenset({"sent", "failed", "dead", "suppressed", "cancelled"})
STOP_WORDS = frozenset({"STOP", "BERHENTI", "UNREG", "UNSUBSCRIBE"})

Emit = Callable[[EventData, str], Awaitable[None]]


@dataclass
class Stores:
    participants: Table
    schedule: Table
    outbox: Table
    sent: Table
    phones: Table


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


class NotifierService:
    def __init__(self, stores: Stores, clock: Clock, policy: ReminderPolicy, emit: Emit) -> None:
        self.s = stores
        self.clock = clock
        self.policy = policy
        self.emit = emit
        self.enqueued = 0
        # no reminder falls due before this instant (None: unknown, scan): lets a tick skip
        # the full scan of the schedule table, which cost ~6 % of the CPU in a burst profile
        self._scan_not_before: datetime | None = None

    def forget_scan_watermark(self) -> None:
        """The schedule table may have changed behind our back (recovery, rebalance)."""
        self._scan_not_before = None

    # --- input events -----------------------------------------------------------------------

    async def handle(self, event: CloudEvent[EventData]) -> None:
        data = event.data
        if isinstance(data, ParticipantRegisteredV1):
            self.on_registered(data)
        elif isinstance(data, ParticipantUpdatedV1):
            self.on_updated(data)
        elif isinstance(data, ParticipantOptedOutV1):
            self.on_opted_out(data)
        elif isinstance(data, ContributionPaidV1):
            self.on_paid(data)
        elif isinstance(data, CampaignBroadcastRequestedV1):
            self.on_broadcast(data)
        # other events on our topics (campaign.created, notification.*) are not for us

    def on_registered(self, data: ParticipantRegisteredV1) -> None:
        pid = data.participant_id
        known = self.s.participants.get(pid) or {}
        person = {
            "participant_id": pid,
            "full_name": data.full_name,
            "phone_e164": data.phone_e164,
            "email": data.email,
            "language": data.language.value,
            "preferred_channel": data.preferred_channel.value,
            "consent_reminders": data.consent_reminders,
            "branch_code": data.branch_code,
            "branch_timezone": data.branch_timezone.value,
            "segment": data.segment,
            "campaign_code": data.campaign_code,
            "birth_date": data.birth_date.isoformat(),
            "programmes": [p.value for p in data.programmes],
            "monthly_contribution": data.monthly_contribution,
            "registered_at": iso(data.registered_at),
            "opted_out": known.get("opted_out", []),
            "paid_periods": known.get("paid_periods", []),
        }
        self._save_person(person, previous_phone=known.get("phone_e164"))
        for channel in channels_for("welcome", person):
            self.enqueue(person, "welcome", channel, once_key(pid, "welcome", channel), {})
        if pid not in self.s.schedule:
            self._reschedule(person, after=data.registered_at)

    def on_updated(self, data: ParticipantUpdatedV1) -> None:
        person = self.s.participants.get(data.participant_id)
        if person is None:
            return  # an update for someone never registered here: nothing to address
        person = dict(person)
        previous_phone = person.get("phone_e164")
        for name in (
            "phone_e164",
            "email",
            "segment",
            "consent_reminders",
            "monthly_contribution",
        ):
            value = getattr(data, name)
            if value is not None:
                person[name] = value
        for name in ("preferred_channel", "language"):
            value = getattr(data, name)
            if value is not None:
                person[name] = value.value
        if data.programmes is not None:
            person["programmes"] = [p.value for p in data.programmes]
        person["branch_code"] = data.branch_code
        self._save_person(person, previous_phone=previous_phone)
        self._reschedule(person)

    def on_opted_out(self, data: ParticipantOptedOutV1) -> None:
        self.opt_out(data.participant_id, [c.value for c in data.channels])

    def opt_out(self, pid: str, channels: list[str]) -> bool:
        person = self.s.participants.get(pid)
        if person is None:
            return False
        person = dict(person)
        person["opted_out"] = sorted(set(person.get("opted_out", [])) | set(channels))
        self.s.participants[pid] = person
        for key, entry in list(self.s.outbox.items()):
            if entry["participant_id"] == pid and entry["channel"] in channels:
                self.s.sent[key] = {"state": "suppressed", "reason": "opted out"}
                del self.s.outbox[key]
        return True

    def on_paid(self, data: ContributionPaidV1) -> None:
        person = self.s.participants.get(data.participant_id)
        if person is None:
            return
        person = dict(person)
        person["paid_periods"] = sorted(set(person.get("paid_periods", [])) | {data.period})
        self.s.participants[data.participant_id] = person
        for kind in REMINDER_KINDS:
            for channel in ("sms", "email", "whatsapp"):
                key = period_key(data.participant_id, kind, data.period, channel)
                if key in self.s.outbox:
                    del self.s.outbox[key]
                    self.s.sent[key] = {"state": "cancelled", "reason": "paid"}
        self._reschedule(person)

    def on_broadcast(self, data: CampaignBroadcastRequestedV1) -> int:
        aud = data.audience
        count = 0
        for pid, person in list(self.s.participants.items()):
            if not audience.matches(
                branch_code=person["branch_code"],
                segment=person["segment"],
                campaign_code=person.get("campaign_code"),
                branch_codes=aud.branch_codes,
                segments=aud.segments,
                campaign_codes=aud.campaign_codes,
            ):
                continue
            kind = data.message_kind.value
            for channel in channels_for(kind, person):
                key = campaign_key(pid, kind, data.campaign_code, data.broadcast_id, channel)
                params = {"campaign_code": data.campaign_code, "campaign_params": data.params}
                count += self.enqueue(person, kind, channel, key, params)
        return count

    def on_retry(self, record: dict[str, Any]) -> None:
        key = record["key"]
        state = self.s.sent.get(key)
        if state and state["state"] in FINAL_STATES:
            return
        entry = dict(record["entry"])
        entry["attempt"] = int(record["attempt"])
        entry["not_before"] = record["not_before"]
        entry["last_error"] = record.get("reason")
        self.s.outbox[key] = entry

    # --- the outbox -------------------------------------------------------------------------

    def enqueue(
        self, person: dict[str, Any], kind: str, channel: str, key: str, params: dict[str, Any]
    ) -> int:
        state = self.s.sent.get(key)
        if key in self.s.outbox or (state and state["state"] in FINAL_STATES):
            return 0
        self.s.outbox[key] = {
            "key": key,
            "participant_id": person["participant_id"],
            "kind": kind,
            "channel": channel,
            "params": params,
            "campaign_code": params.get("campaign_code") or person.get("campaign_code"),
            "attempt": 1,
            "not_before": iso(self.clock.now()),
            "deferred": False,
        }
        self.enqueued += 1
        return 1

    def due_entries(self, channel: str, limit: int) -> list[dict[str, Any]]:
        now = self.clock.now()
        due: list[dict[str, Any]] = []
        for entry in list(self.s.outbox.values()):
            if entry["channel"] == channel and parse(entry["not_before"]) <= now:
                due.append(dict(entry))
                if len(due) >= limit:
                    break
        return due

    def suppression(self, entry: dict[str, Any], person: dict[str, Any]) -> str | None:
        """Why a queued message must not go out any more, or None."""
        if entry["channel"] in person.get("opted_out", []):
            return "opted out"
        if entry["kind"] != "welcome" and not person.get("consent_reminders", False):
            return "no consent"
        if entry["kind"] in REMINDER_KINDS:
            period = NotificationKey.parse(entry["key"]).scope
            if period in person.get("paid_periods", []):
                return "paid"
        return None

    def facts(self, entry: dict[str, Any], person: dict[str, Any] | None) -> dict[str, Any]:
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

    def facts_for_key(self, key: str) -> NotificationFacts:
        parsed = NotificationKey.parse(key)
        person = self.s.participants.get(parsed.participant_id)
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

    def participant_for_phone(self, phone: str) -> str | None:
        pid = self.s.phones.get(phone)
        return str(pid) if pid else None

    # --- reminders --------------------------------------------------------------------------

    def scan_reminders(self, limit: int) -> int:
        """Enqueue reminders that fell due, for at most `limit` participants per call."""
        now = self.clock.now()
        if self._scan_not_before is not None and now < self._scan_not_before:
            return 0
        due: list[str] = []
        earliest: datetime | None = None
        for pid, sched in list(self.s.schedule.items()):
            if not sched.get("next_at"):
                continue
            at = parse(sched["next_at"])
            if at <= now:
                due.append(pid)
            elif earliest is None or at < earliest:
                earliest = at
        # set before rescheduling the due ones, which lower it as needed (see _reschedule)
        self._scan_not_before = earliest if len(due) <= limit else None
        due = due[:limit]
        for pid in due:
            person = self.s.participants.get(pid)
            if person is None:
                del self.s.schedule[pid]
                continue
            after = parse(self.s.schedule[pid]["after"])
            for reminder in due_reminders(self._subject(person), after, now, self.policy):
                for channel in channels_for(reminder.kind, person):
                    key = (
                        once_key(pid, JHT, channel)
                        if reminder.kind == JHT
                        else period_key(pid, reminder.kind, reminder.period, channel)
                    )
                    self.enqueue(
                        person,
                        reminder.kind,
                        channel,
                        key,
                        {"period": reminder.period} if reminder.kind != JHT else {},
                    )
            self._reschedule(person, after=now)
        return len(due)

    def _subject(self, person: dict[str, Any]) -> Subject:
        consent = bool(person.get("consent_reminders"))
        return Subject(
            tz=person["branch_timezone"],
            registered_at=parse(person["registered_at"]),
            birth_date=date.fromisoformat(person["birth_date"]),
            wants_reminders=consent,
            wants_jht=consent and "JHT" in person.get("programmes", []),
            paid_periods=frozenset(person.get("paid_periods", [])),
        )

    def _reschedule(self, person: dict[str, Any], after: datetime | None = None) -> None:
        pid = person["participant_id"]
        if after is None:
            known = self.s.schedule.get(pid)
            after = parse(known["after"]) if known else parse(person["registered_at"])
        upcoming = next_fire_at(self._subject(person), after, self.policy)
        if upcoming and self._scan_not_before and upcoming < self._scan_not_before:
            self._scan_not_before = upcoming
        self.s.schedule[pid] = {
            "after": iso(after),
            "next_at": iso(upcoming) if upcoming else None,
        }

    def _save_person(self, person: dict[str, Any], previous_phone: str | None) -> None:
        pid = person["participant_id"]
        self.s.participants[pid] = person
        if previous_phone and previous_phone != person["phone_e164"]:
            self.s.phones.pop(previous_phone, None)
        self.s.phones[person["phone_e164"]] = pid
