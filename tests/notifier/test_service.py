"""The application layer and the dispatcher on plain dicts, a frozen clock and a fake channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.deadletter import DeadLetter
from schemas.envelope import new_event
from schemas.events import EventData, NotificationFailedV1, NotificationSentV1
from schemas.vocab import Channel, IndonesianTimeZone
from services.common.clock import FrozenClock
from services.notifier.app import outcome_event_id
from services.notifier.dispatcher import Dispatcher
from services.notifier.domain.model import Message
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.domain.schedule import ReminderPolicy
from services.notifier.ports import PermanentError, SendReceipt, TransientError
from services.notifier.render import Content, Renderer
from services.notifier.service import NotifierService, Stores
from tests.notifier.factories import broadcast, opted_out, paid, registered

START = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 WIB


class FakeChannel:
    provider = "fake"

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.sent: list[Message] = []
        self.failures: list[Exception] = []

    async def send(self, message: Message) -> SendReceipt:
        self.log.append(f"send {message.key}")
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return SendReceipt("fake", f"id-{len(self.sent)}")

    async def close(self) -> None:
        return None


class World:
    def __init__(self) -> None:
        self.clock = FrozenClock(START)
        self.stores = Stores({}, {}, {}, {}, {})
        self.events: list[EventData] = []
        self.retries: list[dict[str, Any]] = []
        self.letters: list[DeadLetter] = []
        self.log: list[str] = []

        self.state_at_emit: list[str | None] = []

        async def emit(data: EventData, pid: str) -> None:
            self.events.append(data)
            key = getattr(data, "notification_key", None)
            self.state_at_emit.append((self.stores.sent.get(key) or {}).get("state"))
            self.log.append(f"emit {type(data).__name__}")

        self.service = NotifierService(self.stores, self.clock, ReminderPolicy(), emit)
        self.channels = {name: FakeChannel(name, self.log) for name in ("sms", "email")}

        async def flush() -> None:
            self.log.append("flush")

        async def retry(record: dict[str, Any]) -> None:
            self.retries.append(record)

        async def letter(dl: DeadLetter) -> None:
            self.letters.append(dl)

        self.dispatchers = {
            name: Dispatcher(
                self.service,
                channel,
                Renderer(Content()),
                quiet=QuietHours(),
                max_attempts=3,
                backoff_base=1,
                backoff_cap=10,
                flush=flush,
                publish_retry=retry,
                publish_dead_letter=letter,
                retry_topic="retry",
            )
            for name, channel in self.channels.items()
        }

    async def handle(self, data: EventData, subject: str = "s") -> None:
        await self.service.handle(new_event(data, source="urn:test", subject=subject))

    async def drain(self) -> None:
        for dispatcher in self.dispatchers.values():
            await dispatcher.run_once(100)

    def kinds(self, channel: str) -> list[str]:
        return [m.key.split("|")[1] for m in self.channels[channel].sent]

    def types(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


@pytest.fixture
def world() -> World:
    return World()


async def test_welcome_on_every_channel_once_even_when_redelivered(world: World) -> None:
    event = registered(START)
    await world.handle(event)
    await world.handle(event)
    await world.drain()
    await world.handle(event)
    await world.drain()
    assert world.kinds("sms") == ["welcome"]
    assert world.kinds("email") == ["welcome"]
    assert world.types() == ["NotificationSentV1", "NotificationSentV1"]
    assert world.stores.outbox == {}


async def test_in_flight_marker_is_flushed_before_the_provider_sees_the_message(
    world: World,
) -> None:
    await world.handle(registered(START, email=None))
    await world.drain()
    assert world.log[:2] == ["flush", f"send {world.channels['sms'].sent[0].key}"]


async def test_sent_event_is_emitted_before_the_key_is_recorded_sent(world: World) -> None:
    # a crash between the two then re-offers the message (the provider drops the copy) and
    # re-emits the event; the other order lost the event for good
    await world.handle(registered(START, email=None))
    await world.drain()
    key = world.channels["sms"].sent[0].key
    assert world.log == ["flush", f"send {key}", "emit NotificationSentV1", "flush"]
    assert world.state_at_emit == ["inflight"]
    assert world.stores.sent[key]["state"] == "sent"


def test_outcome_events_get_an_id_derived_from_type_and_key() -> None:
    facts = {
        "notification_key": "p1|welcome|once|sms",
        "participant_id": "p1",
        "kind": "welcome",
        "channel": "sms",
        "branch_code": "JKT01",
        "branch_timezone": "Asia/Jakarta",
    }
    sent = NotificationSentV1(**facts, provider="x", sent_at=START)
    again = NotificationSentV1(**facts, provider="x", attempt=2, sent_at=START + timedelta(1))
    failed = NotificationFailedV1(**facts, reason="r", permanent=True, failed_at=START)
    facts2 = {**facts, "notification_key": "p2|welcome|once|sms"}
    other = NotificationSentV1(**facts2, provider="x", sent_at=START)
    assert outcome_event_id(sent) == outcome_event_id(again) is not None
    assert len({outcome_event_id(sent), outcome_event_id(failed), outcome_event_id(other)}) == 3
    assert outcome_event_id(registered(START)) is None


async def test_reminders_fire_on_the_clock_and_payment_cancels_the_rest(world: World) -> None:
    event = registered(START)
    pid = event.participant_id
    await world.handle(event)
    await world.drain()
    world.clock.set(datetime(2026, 3, 8, 2, 1, tzinfo=UTC))  # D-7 of March, 09:01 WIB
    assert world.service.scan_reminders(10) == 1
    await world.drain()
    assert world.kinds("sms") == ["welcome", "contribution_due_d7"]
    await world.handle(paid(pid, "2026-03", world.clock.now()))
    for day in (14, 18):
        world.clock.set(datetime(2026, 3, day, 2, 1, tzinfo=UTC))
        world.service.scan_reminders(10)
        await world.drain()
    assert world.kinds("sms") == ["welcome", "contribution_due_d7"]
    assert world.stores.schedule[pid]["next_at"] == "2026-04-08T02:00:00+00:00"


async def test_a_later_registration_due_sooner_is_not_skipped_by_the_scan(world: World) -> None:
    """A scan remembers when the next reminder is due and skips until then; a participant
    registered afterwards with an earlier reminder (09:00 WIT is 00:00 UTC, WIB's 02:00)
    must lower that mark."""
    wib = registered(START)
    await world.handle(wib)
    assert world.service.scan_reminders(10) == 0  # nothing due: remembers 2026-03-08 02:00
    wit = registered(START, branch_timezone=IndonesianTimeZone.WIT)
    await world.handle(wit)
    world.clock.set(datetime(2026, 3, 8, 0, 1, tzinfo=UTC))  # D-7, 09:01 WIT, 07:01 WIB
    assert world.service.scan_reminders(10) == 1
    await world.drain()
    assert [m.key.split("|")[0] for m in world.channels["sms"].sent if "d7" in m.key] == [
        wit.participant_id
    ]
    world.clock.set(datetime(2026, 3, 8, 2, 1, tzinfo=UTC))  # 09:01 WIB
    assert world.service.scan_reminders(10) == 1


async def test_payment_cancels_a_reminder_already_queued(world: World) -> None:
    event = registered(START)
    pid = event.participant_id
    await world.handle(event)
    world.clock.set(datetime(2026, 3, 14, 2, 1, tzinfo=UTC))
    world.service.scan_reminders(10)
    key = f"{pid}|contribution_due_d1|2026-03|sms"
    assert key in world.stores.outbox
    await world.handle(paid(pid, "2026-03", world.clock.now()))
    await world.drain()
    assert "contribution_due_d1" not in world.kinds("sms")
    assert world.stores.sent[key]["state"] == "cancelled"


async def test_quiet_hours_defer_once_then_send(world: World) -> None:
    world.clock.set(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # 22:00 WIB
    await world.handle(registered(world.clock.now(), email=None))
    await world.drain()
    await world.drain()
    assert world.channels["sms"].sent == []
    assert world.types() == ["NotificationDeferredV1"]
    deferred = world.events[0]
    assert deferred.deliver_after == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    world.clock.set(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))
    await world.drain()
    assert world.kinds("sms") == ["welcome"]


async def test_transient_failure_goes_to_retry_then_dead_letter(world: World) -> None:
    world.channels["sms"].failures = [TransientError("503", retry_after=5)] * 3
    await world.handle(registered(START, email=None))
    await world.drain()
    record = world.retries[0]
    assert record["attempt"] == 2
    assert datetime.fromisoformat(record["not_before"]) >= START + timedelta(seconds=5)
    assert world.stores.outbox == {}
    for _ in range(2):
        world.service.on_retry(world.retries[-1])
        world.clock.advance(timedelta(seconds=20))
        await world.drain()
    assert len(world.retries) == 2
    assert len(world.letters) == 1
    assert "gave up after 3 attempts" in world.letters[0].reason
    failed = world.events[-1]
    assert type(failed).__name__ == "NotificationFailedV1"
    assert failed.permanent is False  # type: ignore[attr-defined]


async def test_a_retry_consumed_before_the_publish_returns_is_kept(world: World) -> None:
    """The retry agent may read the record before publish_retry's await resumes (the broker
    answers the fetch before the produce); the entry it queued must survive."""
    world.channels["sms"].failures = [TransientError("503")]

    async def retry_consumed_at_once(record: dict[str, Any]) -> None:
        world.retries.append(record)
        world.service.on_retry(record)

    world.dispatchers["sms"].publish_retry = retry_consumed_at_once
    await world.handle(registered(START, email=None))
    await world.drain()
    [(key, entry)] = world.stores.outbox.items()
    assert entry["attempt"] == 2
    world.clock.advance(timedelta(seconds=20))
    await world.drain()
    assert world.kinds("sms") == ["welcome"]
    assert world.stores.sent[key]["state"] == "sent"


async def test_permanent_failure_is_reported_at_once(world: World) -> None:
    world.channels["sms"].failures = [PermanentError("invalid number")]
    await world.handle(registered(START, email=None))
    await world.drain()
    assert world.retries == []
    assert world.types() == ["NotificationFailedV1"]
    assert world.events[0].permanent is True  # type: ignore[attr-defined]


async def test_opt_out_and_consent_govern_broadcasts(world: World) -> None:
    a = registered(START, segment="fisher")
    b = registered(START, segment="fisher", consent_reminders=False)
    c = registered(START, segment="farmer")
    d = registered(START, segment="fisher")
    for person in (a, b, c, d):
        await world.handle(person)
    await world.handle(opted_out(d.participant_id, [Channel.SMS, Channel.EMAIL], START))
    await world.drain()
    world.channels["sms"].sent.clear()
    await world.handle(broadcast(START, segments=["fisher"]))
    await world.drain()
    assert [m.to for m in world.channels["sms"].sent] == [a.phone_e164]


async def test_stop_reply_finds_the_participant_by_phone(world: World) -> None:
    event = registered(START, branch_timezone=IndonesianTimeZone.WITA)
    await world.handle(event)
    pid = world.service.participant_for_phone(event.phone_e164)
    assert pid == event.participant_id
    assert world.service.opt_out(pid, ["sms"])
    await world.drain()
    assert world.channels["sms"].sent == []
    assert world.kinds("email") == ["welcome"]


async def test_withdrawn_consent_stops_reminders_and_new_phone_is_used(world: World) -> None:
    from schemas.events import ParticipantUpdatedV1

    event = registered(START, email=None)
    pid = event.participant_id
    await world.handle(event)
    await world.drain()
    update = ParticipantUpdatedV1(
        participant_id=pid,
        branch_code="SKT",
        phone_e164="+6285700000001",
        consent_reminders=False,
        updated_at=START,
    )
    await world.handle(update)
    assert world.stores.schedule[pid]["next_at"] is None
    world.clock.set(datetime(2026, 3, 14, 2, 1, tzinfo=UTC))
    world.service.scan_reminders(10)
    await world.drain()
    assert world.kinds("sms") == ["welcome"]
    assert world.service.participant_for_phone("+6285700000001") == pid
    assert world.service.participant_for_phone(event.phone_e164) is None


async def test_jht_claim_reminder_when_the_participant_turns_56(world: World) -> None:
    from datetime import date

    from schemas.vocab import Programme

    event = registered(
        START,
        email=None,
        birth_date=date(1970, 3, 20),
        programmes=[Programme.JKK, Programme.JKM, Programme.JHT],
    )
    await world.handle(event)
    await world.drain()
    await world.handle(paid(event.participant_id, "2026-03", START))
    world.clock.set(datetime(2026, 3, 20, 2, 1, tzinfo=UTC))  # 09:01 WIB on the birthday
    world.service.scan_reminders(10)
    await world.drain()
    assert world.kinds("sms") == ["welcome", "jht_claim"]
    assert "usia 56" in world.channels["sms"].sent[-1].text
    world.clock.advance(timedelta(days=400))
    world.service.scan_reminders(10)
    await world.drain()
    assert world.kinds("sms").count("jht_claim") == 1
