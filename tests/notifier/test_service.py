"""The service layer and the dispatcher on fake ports: partitioned dicts, a frozen clock, a fake
channel, and a publisher whose work records the test applies as the owner's stream would."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.envelope import DecodeError, decode_event, new_event
from schemas.events import (
    EventData,
    NotificationFailedV1,
    NotificationSentV1,
    ParticipantLapsedV1,
    ParticipantOptOutRequestedV1,
    ParticipantReactivatedV1,
    ParticipantRegisteredV3,
    ParticipantRegisteredV4,
    ParticipantUpdatedV1,
    ParticipantUpdatedV2,
)
from schemas.topics import NOTIFIER_WORK
from schemas.vocab import Channel, IndonesianTimeZone, Programme, Sex
from services.common.clock import FrozenClock
from services.common.deadletters import Stored
from services.common.version import SERVICE_VERSION
from services.notifier.agents import rejected
from services.notifier.bootstrap import StreamListener, outcome_event_id
from services.notifier.dispatcher import FULL_SCAN_EVERY, Dispatcher, Limits
from services.notifier.domain.frequency import FrequencyCap
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.domain.record import iso, wake_of
from services.notifier.domain.routing import DEFAULT_ROUTES, Route
from services.notifier.domain.schedule import ReminderPolicy
from services.notifier.ownership import Ownership
from services.notifier.ports import PermanentError, TransientError
from services.notifier.render import Content, Renderer
from services.notifier.replay import deadletter_config
from services.notifier.service import NotifierService, Partitioning
from services.notifier.settings import Settings
from services.notifier.store import partition_for
from services.notifier.work import Outcomes, Receipt, Requeue
from tests.notifier.factories import broadcast, opted_out, paid, partially_paid, registered
from tests.notifier.fakes import FakeChannel, FakePublisher, FakeState

START = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 WIB
PARTITIONS = 3


class World:
    def __init__(
        self,
        cap: FrequencyCap | None = None,
        routes: dict[str, Route] | None = None,
        channels: tuple[str, ...] = ("sms", "email"),
    ) -> None:
        self.clock = FrozenClock(START)
        self.log: list[str] = []
        self.state = FakeState()
        self.publisher = FakePublisher(self.log)
        self.partitioning = Partitioning(PARTITIONS, partition_for)
        self.service = NotifierService(
            self.state,
            self.clock,
            ReminderPolicy(),
            QuietHours(),
            self.publisher,
            self.partitioning,
            routes=routes or DEFAULT_ROUTES,
            available=frozenset(channels),
        )
        self.channels = {name: FakeChannel(name, self.log) for name in channels}
        self.dispatcher = Dispatcher(
            self.service,
            self.state,
            list(self.channels.values()),
            Renderer(Content()),
            quiet=QuietHours(),
            clock=self.clock,
            limits=Limits(batch=100, max_attempts=3, backoff_base=1, backoff_cap=10),
            concurrency={"sms": 4, "email": 2, "whatsapp": 2},
            dead_letter=self.publisher.dead_letter,
            cap=cap,
            retry_source="work",
        )
        self.service.listener = StreamListener(self.dispatcher, Ownership())

    def partition(self, pid: str) -> int:
        return self.partitioning.of(pid)

    async def handle(self, data: EventData, subject: str = "s") -> None:
        pid = getattr(data, "participant_id", subject)
        event = new_event(data, source="urn:test", subject=pid)
        if type(data).__name__ == "CampaignBroadcastRequestedV1":
            await self.service.fan_out(data)  # type: ignore[arg-type]
        else:
            await self.service.handle(event, self.partition(pid))
        await self.pump()

    async def pump(self) -> None:
        """Apply the work records written so far, in order, as their partitions' owner."""
        while self.publisher.records:
            partition, record = self.publisher.records.pop(0)
            await self.service.on_work(record, partition)

    async def rounds(self) -> None:
        await asyncio.gather(*list(self.dispatcher._tasks.values()))

    async def drain(self) -> None:
        """Scan, let the rounds finish and apply what they wrote, until nothing moves."""
        for _ in range(20):
            started = await self.dispatcher.scan(set(range(PARTITIONS)))
            await self.rounds()
            moved = bool(self.publisher.records)
            await self.pump()
            if not started and not moved:
                return
        raise AssertionError("the notifier did not settle")

    def record(self, pid: str) -> dict[str, Any]:
        found = self.state.get(self.partition(pid), pid)
        assert found is not None
        return found

    def kinds(self, channel: str) -> list[str]:
        return [m.key.split("|")[1] for m in self.channels[channel].sent]

    def types(self) -> list[str]:
        return [type(e).__name__ for e in self.publisher.events]


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
    assert world.record(event.participant_id)["queue"] == {}


async def test_a_round_emits_its_events_before_its_one_outcome_record(world: World) -> None:
    # a crash between the two re-offers the messages (the provider drops the copies) and
    # re-emits the events under the same ids; the other order could lose an event for good
    people = [registered(START, email=None) for _ in range(6)]
    for person in people:
        await world.handle(person)
    world.log.clear()
    await world.dispatcher.scan(set(range(PARTITIONS)))
    await world.rounds()
    sends = [line for line in world.log if line.startswith("send")]
    assert len(sends) == 6
    after_sends = [line for line in world.log if not line.startswith("send")]
    rounds = len([line for line in after_sends if line == "work outcomes"])
    assert rounds == len({world.partition(p.participant_id) for p in people})  # one per round
    assert after_sends[-1] == "work outcomes"
    assert after_sends.index("work outcomes") > after_sends.index("event NotificationSentV1")


async def test_keys_in_hand_are_not_sent_again_before_their_outcome_is_applied(
    world: World,
) -> None:
    person = registered(START, email=None)
    await world.handle(person)
    await world.dispatcher.scan(set(range(PARTITIONS)))
    await world.rounds()
    assert world.dispatcher.in_hand() == 1
    await world.dispatcher.scan(set(range(PARTITIONS)))  # the stream has not applied it yet
    await world.rounds()
    assert len(world.channels["sms"].sent) == 1
    await world.pump()
    assert world.dispatcher.in_hand() == 0
    assert (
        world.record(person.participant_id)["sent"][f"{person.participant_id}|welcome|once|sms"][
            "state"
        ]
        == "sent"
    )


async def test_stopping_lets_sends_under_way_finish_and_leaves_the_rest_queued(
    world: World,
) -> None:
    people = [registered(START, email=None) for _ in range(10)]
    for person in people:
        await world.handle(person)
    sms = world.channels["sms"]
    sms.hold = asyncio.Event()
    await world.dispatcher.scan(set(range(PARTITIONS)))
    for _ in range(20):  # let the round start: at most the concurrency (4) sends get under way
        await asyncio.sleep(0)
    under_way = len([line for line in world.log if line.startswith("send")])
    stopping = asyncio.get_running_loop().create_task(world.dispatcher.stop_rounds())
    await asyncio.sleep(0)
    sms.hold.set()
    await stopping
    assert 0 < under_way <= 4
    assert len(sms.sent) == under_way
    outcomes = [r for _, r in world.publisher.records if isinstance(r, Outcomes)]
    assert sum(len(o.items) for o in outcomes) == under_way  # the rest has no outcome
    await world.pump()
    queued = sum(len(world.record(p.participant_id)["queue"]) for p in people)
    assert queued == 10 - under_way
    world.dispatcher.resume()
    await world.drain()
    assert len(sms.sent) == 10
    assert len({m.key for m in sms.sent}) == 10


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
    await world.drain()
    assert world.kinds("sms") == ["welcome", "contribution_due_d7"]
    await world.handle(paid(pid, "2026-03", world.clock.now()))
    for day in (14, 18):
        world.clock.set(datetime(2026, 3, day, 2, 1, tzinfo=UTC))
        await world.drain()
    assert world.kinds("sms") == ["welcome", "contribution_due_d7"]
    assert world.record(pid)["next_at"] == iso(datetime(2026, 4, 8, 2, 0, tzinfo=UTC))


async def test_payment_cancels_a_reminder_already_queued(world: World) -> None:
    event = registered(START)
    pid = event.participant_id
    await world.handle(event)
    await world.drain()
    world.clock.set(datetime(2026, 3, 14, 2, 1, tzinfo=UTC))
    await world.dispatcher.scan(set(range(PARTITIONS)))  # wakes the participant up ...
    await world.pump()  # ... and the stream queues the D-1 reminder
    key = f"{pid}|contribution_due_d1|2026-03|sms"
    assert key in world.record(pid)["queue"]
    await world.handle(paid(pid, "2026-03", world.clock.now()))
    await world.drain()
    assert "contribution_due_d1" not in world.kinds("sms")
    assert world.record(pid)["sent"][key]["state"] == "cancelled"


async def test_a_partially_paid_period_is_reminded_of_what_it_still_owes(world: World) -> None:
    event = registered(START, email=None)  # Rp16.800 a month
    pid = event.participant_id
    await world.handle(event)
    await world.handle(partially_paid(pid, "2026-03", START, amount=10_000))
    world.clock.set(datetime(2026, 3, 8, 2, 1, tzinfo=UTC))  # D-7 of March, 09:01 WIB
    await world.drain()
    d7 = world.channels["sms"].sent[-1]
    assert world.kinds("sms") == ["welcome", "contribution_due_d7"]
    assert "kurang Rp6.800 batas 15 Mar" in d7.text, d7.text
    assert "16.800" not in d7.text
    # the rest arrives: the period is paid, its remaining reminders are cancelled
    await world.handle(paid(pid, "2026-03", world.clock.now()))
    world.clock.set(datetime(2026, 3, 18, 2, 1, tzinfo=UTC))
    await world.drain()
    assert world.kinds("sms") == ["welcome", "contribution_due_d7"]
    assert world.record(pid)["person"]["partial_owed"] == {}


async def test_a_partial_payment_of_a_paid_period_replayed_changes_nothing(world: World) -> None:
    event = registered(START, email=None)
    pid = event.participant_id
    await world.handle(event)
    await world.handle(paid(pid, "2026-03", START))
    await world.handle(partially_paid(pid, "2026-03", START, amount=10_000))
    assert world.record(pid)["person"]["partial_owed"] == {}


async def test_quiet_hours_defer_once_then_send(world: World) -> None:
    world.clock.set(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # 22:00 WIB
    await world.handle(registered(world.clock.now(), email=None))
    await world.drain()
    await world.drain()
    assert world.channels["sms"].sent == []
    assert world.types() == ["NotificationDeferredV1"]
    deferred = world.publisher.events[0]
    assert deferred.deliver_after == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    world.clock.set(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))
    await world.drain()
    assert world.kinds("sms") == ["welcome"]


async def test_a_retry_that_falls_into_the_night_is_deferred_once(world: World) -> None:
    world.clock.set(datetime(2026, 3, 2, 13, 59, 59, tzinfo=UTC))  # 20:59:59 WIB
    world.channels["sms"].failures = [TransientError("503", retry_after=5)]
    person = registered(world.clock.now(), email=None)
    await world.handle(person)
    await world.drain()
    world.clock.advance(timedelta(seconds=30))  # 21:00:29: the retry is due, in quiet hours
    await world.drain()
    assert world.types() == ["NotificationDeferredV1"]
    entry = world.record(person.participant_id)["queue"][
        f"{person.participant_id}|welcome|once|sms"
    ]
    assert entry["attempt"] == 2
    assert entry["deferred"] is True


async def test_waiting_for_a_provider_that_holds_the_message_uses_no_attempt(
    world: World,
) -> None:
    waiting = TransientError("held by a, whose breaker is open", 5, held_by="a", tried=False)
    world.channels["sms"].failures = [waiting] * 10  # far more than max_attempts (3)
    person = registered(START, email=None)
    key = f"{person.participant_id}|welcome|once|sms"
    await world.handle(person)
    for _ in range(10):
        await world.drain()
        world.clock.advance(timedelta(seconds=20))
    await world.drain()
    assert world.publisher.letters == []
    assert world.kinds("sms") == ["welcome"]
    assert world.record(person.participant_id)["sent"][key]["attempt"] == 1


async def test_transient_failure_goes_to_retry_then_dead_letter(world: World) -> None:
    world.channels["sms"].failures = [TransientError("503", retry_after=5)] * 3
    person = registered(START, email=None)
    key = f"{person.participant_id}|welcome|once|sms"
    await world.handle(person)
    await world.drain()
    entry = world.record(person.participant_id)["queue"][key]
    assert entry["attempt"] == 2
    assert datetime.fromisoformat(entry["not_before"]) >= START + timedelta(seconds=5)
    assert world.record(person.participant_id)["sent"][key]["state"] == "retry"
    for _ in range(2):
        world.clock.advance(timedelta(seconds=20))
        await world.drain()
    assert len(world.publisher.letters) == 1
    assert "gave up after 3 attempts" in world.publisher.letters[0].reason
    failed = world.publisher.events[-1]
    assert type(failed).__name__ == "NotificationFailedV1"
    assert failed.permanent is False  # type: ignore[attr-defined]
    assert world.record(person.participant_id)["sent"][key]["state"] == "dead"
    assert world.record(person.participant_id)["queue"] == {}


async def test_a_message_out_of_retries_leaves_a_dead_letter_that_says_it_all(
    world: World,
) -> None:
    world.channels["sms"].failures = [TransientError("gateway HTTP 503", retry_after=5)] * 3
    person = registered(START, email=None)
    key = f"{person.participant_id}|welcome|once|sms"
    await world.handle(person)
    await world.drain()
    for _ in range(2):
        world.clock.advance(timedelta(seconds=20))
        await world.drain()
    (letter,) = world.publisher.letters
    assert letter.id
    assert (letter.source_topic, letter.key) == ("work", key)
    assert letter.partition == world.partition(person.participant_id)
    assert letter.error_class == "services.notifier.ports.TransientError"
    assert "503" in (letter.error_message or "")
    assert letter.service == "notifier"
    assert letter.service_version == SERVICE_VERSION != "unknown"
    assert letter.attempts == 3
    assert letter.first_attempt_at == START
    assert letter.last_attempt_at == START + timedelta(seconds=40)
    headers = dict(letter.kafka_headers())
    assert headers["__bebas.errors.attempts"] == b"3"
    assert headers["__bebas.errors.first.attempt.time"] == START.isoformat().encode()


async def _out_of_retries(world: World) -> tuple[str, Requeue]:
    """A welcome SMS that ran out of its 3 attempts, and the work record its dead letter's
    replay produces (as `python -m services.notifier deadletters replay` builds it)."""
    world.channels["sms"].failures = [TransientError("gateway HTTP 503")] * 3
    person = registered(START, email=None)
    await world.handle(person)
    for _ in range(3):
        await world.drain()
        world.clock.advance(timedelta(seconds=20))
    config = deadletter_config()
    # the world's dispatcher calls its work topic "work"; the notifier's has a real name
    (letter,) = world.publisher.letters
    letter = letter.model_copy(update={"source_topic": Settings().topic(NOTIFIER_WORK.name)})
    out = config.restore(Stored("deadletters", 0, 0, letter))
    requeue = config.validate(out.topic, out.value)
    assert isinstance(requeue, Requeue)
    assert (out.key, out.partition) == (person.participant_id.encode(), letter.partition)
    return person.participant_id, requeue


async def test_a_replayed_dead_message_is_queued_again_and_sent_once(world: World) -> None:
    pid, requeue = await _out_of_retries(world)
    key = requeue.key
    assert world.record(pid)["sent"][key]["state"] == "dead"
    assert world.channels["sms"].sent == []
    await world.service.on_work(requeue, world.partition(pid))
    await world.service.on_work(requeue, world.partition(pid))  # a crash re-sent it
    entry = world.record(pid)["queue"][key]
    assert (entry["attempt"], entry["not_before"]) == (1, iso(world.clock.now()))
    assert "last_error" not in entry
    assert key not in world.record(pid)["sent"]
    await world.drain()
    assert [m.key for m in world.channels["sms"].sent] == [key]
    assert world.record(pid)["sent"][key]["state"] == "sent"
    assert world.types()[-1] == "NotificationSentV1"


async def test_a_replay_of_a_message_sent_since_changes_nothing(world: World) -> None:
    pid, requeue = await _out_of_retries(world)
    await world.service.on_work(requeue, world.partition(pid))
    await world.drain()
    before = world.record(pid)
    await world.service.on_work(requeue, world.partition(pid))
    await world.drain()
    assert world.record(pid) == before
    assert len(world.channels["sms"].sent) == 1


async def test_a_replay_for_someone_unknown_or_a_message_never_dead_changes_nothing(
    world: World,
) -> None:
    _, requeue = await _out_of_retries(world)
    other = registered(START, email=None)
    await world.handle(other)
    await world.drain()
    stranger = {**requeue.entry, "participant_id": "P-none", "key": "P-none|welcome|once|sms"}
    alive = {**requeue.entry, "participant_id": other.participant_id}
    alive["key"] = f"{other.participant_id}|welcome|once|sms"
    before = world.record(other.participant_id)
    for entry in (stranger, alive):
        await world.service.on_work(
            Requeue.of(entry, "dl-1"), world.partition(entry["participant_id"])
        )
    assert world.state.get(world.partition("P-none"), "P-none") is None
    assert world.record(other.participant_id) == before


def test_a_dead_letter_whose_entry_is_incomplete_is_refused_as_a_requeue() -> None:
    with pytest.raises(ValueError, match="lacks channel, kind, params, participant_id"):
        Requeue.of({"key": "P-1|welcome|once|sms", "attempt": 8}, "dl-1")


def test_an_input_record_the_stream_rejects_is_tried_once() -> None:
    message = SimpleNamespace(topic="bebas.participants", partition=2, offset=41, key=b"P-1")
    message.value = b"{oops"
    try:
        decode_event(message.value)
    except DecodeError as exc:
        letter = rejected(message, exc, str(exc), START)
    assert (letter.source_topic, letter.partition, letter.offset, letter.key) == (
        "bebas.participants",
        2,
        41,
        "P-1",
    )
    assert letter.error_class == "schemas.envelope.DecodeError"
    assert letter.error_message == letter.reason
    assert letter.service_version == SERVICE_VERSION
    assert letter.attempts == 1
    assert letter.first_attempt_at == letter.last_attempt_at == START
    assert letter.original() == b"{oops"


async def test_permanent_failure_is_reported_at_once(world: World) -> None:
    world.channels["sms"].failures = [PermanentError("invalid number")]
    await world.handle(registered(START, email=None))
    await world.drain()
    assert world.types() == ["NotificationFailedV1"]
    assert world.publisher.events[0].permanent is True  # type: ignore[attr-defined]


async def test_a_broadcast_fans_out_to_every_partition_and_respects_opt_out_and_consent(
    world: World,
) -> None:
    # two fishers on every partition: random ids alone all fell on one partition in 1 of 243
    # runs (a fresh-clone run met it), and then the fan-out went untested
    per_partition: dict[int, list[ParticipantRegisteredV4]] = {}
    while sum(map(len, per_partition.values())) < 2 * PARTITIONS:
        fisher = registered(START, segment="fisher")
        bucket = per_partition.setdefault(world.partition(fisher.participant_id), [])
        if len(bucket) < 2:
            bucket.append(fisher)
    a = [fisher for bucket in per_partition.values() for fisher in bucket]
    b = registered(START, segment="fisher", consent_reminders=False)
    c = registered(START, segment="farmer")
    d = registered(START, segment="fisher")
    for person in (*a, b, c, d):
        await world.handle(person)
    await world.handle(opted_out(d.participant_id, [Channel.SMS, Channel.EMAIL], START))
    await world.drain()
    world.channels["sms"].sent.clear()
    await world.handle(broadcast(START, segments=["fisher"]))
    await world.drain()
    assert sorted(m.to for m in world.channels["sms"].sent) == sorted(p.phone_e164 for p in a)


async def test_a_stop_reply_asks_enrollment_from_the_partition_holding_the_number(
    world: World,
) -> None:
    event = registered(START, branch_timezone=IndonesianTimeZone.WITA)
    pid = event.participant_id
    await world.handle(event)
    await world.service.request_stop(event.phone_e164, "BERHENTI")
    assert len(world.publisher.records) == PARTITIONS  # any worker may have got the reply
    await world.pump()
    [request] = [e for e in world.publisher.events if isinstance(e, ParticipantOptOutRequestedV1)]
    assert (request.participant_id, request.channels) == (pid, [Channel.SMS])
    assert (request.via, request.keyword, request.requested_at) == ("sms_reply", "BERHENTI", START)
    # enrollment is the only writer of participant state: nothing changes here on the request
    assert world.record(pid)["person"]["opted_out"] == []
    # what enrollment publishes once it applied the request stops the SMS
    await world.handle(opted_out(pid, [Channel.SMS], START))
    await world.drain()
    assert world.channels["sms"].sent == []
    assert world.kinds("email") == ["welcome"]


async def test_a_stop_applied_twice_asks_once_and_an_unknown_number_asks_nothing(
    world: World,
) -> None:
    event = registered(START)
    await world.handle(event)
    await world.service.request_stop(event.phone_e164, "STOP")
    partition = world.partition(event.participant_id)
    stop = next(r for p, r in world.publisher.records if p == partition)
    await world.pump()
    world.clock.advance(timedelta(minutes=5))
    await world.service.on_work(stop, partition)  # redelivered after a crash
    first, again = [
        e for e in world.publisher.events if isinstance(e, ParticipantOptOutRequestedV1)
    ]
    assert first == again
    assert outcome_event_id(first) == outcome_event_id(again) is not None  # one request id
    await world.service.request_stop("+6289999999999", "STOP")
    await world.pump()
    assert len([e for e in world.publisher.events if type(e) is type(first)]) == 2


async def test_an_unsubscribe_link_asks_enrollment_to_stop_email(world: World) -> None:
    await world.service.request_unsubscribe("P-1", "email")
    [request] = world.publisher.events
    assert isinstance(request, ParticipantOptOutRequestedV1)
    assert (request.participant_id, request.channels, request.via) == (
        "P-1",
        [Channel.EMAIL],
        "email_link",
    )
    assert request.keyword is None


async def test_a_receipt_becomes_an_event_with_the_participants_facts(world: World) -> None:
    event = registered(START, email=None)
    await world.handle(event)
    await world.drain()
    key = world.channels["sms"].sent[0].key
    await world.service.request_receipt(
        Receipt(reference=key, message_id="m1", status="delivered", at=iso(START))
    )
    [(partition, _)] = world.publisher.records
    assert partition == world.partition(event.participant_id)
    await world.pump()
    delivered = world.publisher.events[-1]
    assert type(delivered).__name__ == "NotificationDeliveredV1"
    assert delivered.branch_code == event.branch_code  # type: ignore[attr-defined]


async def test_withdrawn_consent_stops_reminders_and_new_phone_is_used(world: World) -> None:
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
    # no reminder is scheduled; only the lapse instant (counted by reporting, never sent)
    assert world.record(pid)["next_at"] == iso(datetime(2026, 6, 8, 2, 0, tzinfo=UTC))
    for day in (8, 14, 18):
        world.clock.set(datetime(2026, 3, day, 2, 1, tzinfo=UTC))
        await world.drain()
    assert world.kinds("sms") == ["welcome"]
    partition = world.partition(pid)
    assert world.state.phone_owner(partition, "+6285700000001") == pid
    assert world.state.phone_owner(partition, event.phone_e164) is None


async def test_jht_claim_reminder_when_the_participant_turns_56(world: World) -> None:
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
    await world.drain()
    assert world.kinds("sms") == ["welcome", "jht_claim"]
    assert "usia 56" in world.channels["sms"].sent[-1].text
    world.clock.advance(timedelta(days=400))
    await world.drain()
    assert world.kinds("sms").count("jht_claim") == 1


async def test_index_entries_a_crash_lost_come_back_when_the_input_is_processed_again(
    world: World,
) -> None:
    """The record and its index entries live in separate changelogs: a crash can leave the
    record's write acknowledged and the entries' not. faust then processes the input again,
    which must restore them (a person otherwise never gets a welcome, nor a STOP reply)."""
    event = registered(START, email=None)
    pid = event.participant_id
    world.state.lose_index_writes = True
    await world.handle(event)
    world.state.lose_index_writes = False
    assert world.state.wakeups.get(world.partition(pid), set()) == set()
    await world.handle(event)  # redelivered: its offset was never committed
    assert world.state.phone_owner(world.partition(pid), event.phone_e164) == pid
    await world.drain()
    assert world.kinds("sms") == ["welcome"]


async def test_a_stale_index_entry_is_dropped_by_the_stream(world: World) -> None:
    event = registered(START, email=None)
    pid = event.participant_id
    await world.handle(event)
    await world.drain()
    partition = world.partition(pid)
    stale = (iso(START - timedelta(hours=1)), pid)  # a delete a crash did not let through
    world.state.wakeups[partition].add(stale)
    await world.drain()
    assert stale in world.state.wakeups[partition]  # scans start where the last one began ...
    world.clock.advance(FULL_SCAN_EVERY)
    await world.drain()  # ... but now and then one starts from the front
    assert stale not in world.state.wakeups[partition]
    assert world.state.wakeups[partition] == {(wake_of(world.record(pid)), pid)}


async def test_a_correction_moves_the_zone_and_clears_the_email(world: World) -> None:
    event = registered(START)
    pid = event.participant_id
    await world.handle(event)
    await world.drain()
    update = ParticipantUpdatedV2(
        participant_id=pid,
        branch_code="JAYAPURA",
        branch_timezone=IndonesianTimeZone.WIT,
        cleared=["email"],
        updated_at=START,
    )
    await world.handle(update)
    person = world.record(pid)["person"]
    assert person["branch_timezone"] == "Asia/Jayapura"
    assert person["email"] is None
    # the next reminder fires at 09:00 in the new zone: D-7 of March, 00:00 UTC
    assert world.record(pid)["next_at"] == iso(datetime(2026, 3, 8, 0, 0, tzinfo=UTC))


async def test_a_record_due_before_the_last_scan_began_is_still_found(world: World) -> None:
    """Scans start where the last one began; a registration whose first reminder lies in the
    past (registered long ago, processed now) writes a wake-up before that point."""
    await world.handle(registered(START, email=None))
    await world.drain()  # scans have begun at START
    world.clock.set(datetime(2026, 4, 1, 3, 0, tzinfo=UTC))
    await world.drain()
    late = registered(datetime(2026, 3, 3, 3, 0, tzinfo=UTC), email=None)  # due 8 March
    await world.handle(late)
    await world.drain()
    assert f"{late.participant_id}|welcome|once|sms" in {m.key for m in world.channels["sms"].sent}
    assert world.record(late.participant_id)["next_at"] > iso(world.clock.now())


async def test_a_round_gives_its_place_back_once_its_sends_are_done(world: World) -> None:
    """The next rounds send while earlier ones wait for the broker's acknowledgements; the keys
    stay in hand until their outcome is applied, so nothing goes out twice."""
    world.publisher.acks = asyncio.Event()
    people = [registered(START, email=None) for _ in range(3)]  # one round each: 2 places
    for person in people:
        await world.handle(person)
        world.clock.advance(timedelta(seconds=1))
        await world.dispatcher.scan(set(range(PARTITIONS)))
        for _ in range(20):
            await asyncio.sleep(0)  # the round sends, then waits for its acknowledgements
    # with two places, a third round could only start once a round's records were acknowledged
    assert len(world.channels["sms"].sent) == 3
    await world.dispatcher.scan(set(range(PARTITIONS)))  # the last round is not applied yet
    assert world.dispatcher.in_hand() == 1
    assert len(world.channels["sms"].sent) == 3
    world.publisher.acks.set()
    await world.rounds()
    await world.drain()
    assert sorted(m.key for m in world.channels["sms"].sent) == sorted(
        f"{p.participant_id}|welcome|once|sms" for p in people
    )
    assert world.dispatcher.in_hand() == 0


async def test_a_round_the_broker_refused_is_found_again_by_the_next_scan(world: World) -> None:
    """Scans start after what is in hand; a round whose outcome never reached the broker gives
    its keys back and moves the next scan's start back to them."""
    first = registered(START, email=None)
    await world.handle(first)
    world.channels["sms"].hold = asyncio.Event()
    world.publisher.refuse_work = 1
    await world.dispatcher.scan(set(range(PARTITIONS)))  # first's round waits at the provider
    world.clock.advance(timedelta(seconds=5))
    pid = next(
        f"later-{i}"
        for i in range(100)
        if world.partition(f"later-{i}") == world.partition(first.participant_id)
    )
    later = registered(START + timedelta(seconds=5), pid, email=None)
    await world.handle(later)  # in first's partition, after it in the wake-up index
    await world.dispatcher.scan(set(range(PARTITIONS)))  # passes `first`, in hand
    world.channels["sms"].hold.set()
    await world.rounds()  # first's outcome record is refused: its keys are given back
    assert world.dispatcher.in_hand() == 1  # only `later`'s round, not yet applied
    await world.drain()
    sent = [m.key for m in world.channels["sms"].sent]
    assert sent.count(f"{first.participant_id}|welcome|once|sms") == 2  # again, same key
    assert world.record(first.participant_id)["queue"] == {}


# --- reminders that fit the person's history (issue 14) --------------------------------------

REGISTERED_16TH = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)  # 10:00 WIB, the day after the due day


async def _follow_the_schedule(world: World, pid: str, until: datetime) -> None:
    """Move the clock to each instant the record is due (a minute after), as the timer would."""
    while True:
        next_at = world.record(pid)["next_at"]
        if next_at is None or datetime.fromisoformat(next_at) >= until:
            return
        world.clock.set(datetime.fromisoformat(next_at) + timedelta(minutes=1))
        await world.drain()


async def _registered_on_the_16th(world: World, **overrides: Any) -> str:
    """A participant registered (SMS only) on REGISTERED_16TH, welcome sent; their id."""
    world.clock.set(REGISTERED_16TH)
    event = registered(REGISTERED_16TH, email=None, **overrides)
    await world.handle(event)
    await world.drain()
    return event.participant_id


def _sms(world: World) -> list[str]:
    """kind|scope of every SMS sent, in order."""
    return ["|".join(m.key.split("|")[1:3]) for m in world.channels["sms"].sent]


async def test_three_unpaid_months_lapse_once_and_a_payment_reactivates(world: World) -> None:
    pid = await _registered_on_the_16th(world)
    await _follow_the_schedule(world, pid, until=datetime(2026, 10, 1, tzinfo=UTC))
    months = ("2026-04", "2026-05", "2026-06")  # March was due before the registration
    reminders = [
        f"{kind}|{m}"
        for m in months
        for kind in ("contribution_due_d7", "contribution_due_d1", "contribution_overdue")
    ]
    assert _sms(world) == ["welcome|once", *reminders, "reactivation|2026-04"]
    assert "tunggak 3 bln Rp50.400" in world.channels["sms"].sent[-1].text
    lapsed = [e for e in world.publisher.events if isinstance(e, ParticipantLapsedV1)]
    assert [(e.unpaid_periods, e.amount_owed, e.lapsed_at) for e in lapsed] == [
        (list(months), 50_400, datetime(2026, 7, 8, 2, 0, tzinfo=UTC))
    ]
    assert world.record(pid)["next_at"] is None  # nothing more until a payment

    world.clock.set(datetime(2026, 9, 20, 3, 0, tzinfo=UTC))
    await world.handle(paid(pid, "2026-04", world.clock.now()))
    await world.handle(paid(pid, "2026-04", world.clock.now()))  # redelivered: no second event
    reactivated = [e for e in world.publisher.events if isinstance(e, ParticipantReactivatedV1)]
    assert [(e.period, e.lapsed_at) for e in reactivated] == [
        ("2026-04", datetime(2026, 7, 8, 2, 0, tzinfo=UTC))
    ]
    assert outcome_event_id(reactivated[0]) == outcome_event_id(
        reactivated[0].model_copy(update={"reactivated_at": START})
    )
    record = world.record(pid)
    assert record["lapse"] is None
    assert record["next_at"] == iso(datetime(2026, 10, 8, 2, 0, tzinfo=UTC))  # October's D-7
    await _follow_the_schedule(world, pid, until=datetime(2026, 10, 9, tzinfo=UTC))
    assert _sms(world)[-1] == "contribution_due_d7|2026-10"


async def test_a_lapse_counts_what_a_partial_payment_left_owing(world: World) -> None:
    pid = await _registered_on_the_16th(world)
    await world.handle(partially_paid(pid, "2026-05", REGISTERED_16TH, amount=10_000))
    await _follow_the_schedule(world, pid, until=datetime(2026, 10, 1, tzinfo=UTC))
    # April and June at Rp16.800, May's Rp6.800 still owed: the period stays unpaid
    assert _sms(world)[-1] == "reactivation|2026-04"
    assert "tunggak 3 bln Rp40.400" in world.channels["sms"].sent[-1].text
    lapsed = [e for e in world.publisher.events if isinstance(e, ParticipantLapsedV1)]
    assert [e.amount_owed for e in lapsed] == [40_400]


async def test_a_lapse_is_announced_even_without_consent_but_not_sent(world: World) -> None:
    pid = await _registered_on_the_16th(world, consent_reminders=False)
    await _follow_the_schedule(world, pid, datetime(2026, 10, 1, tzinfo=UTC))
    assert _sms(world) == ["welcome|once"]
    assert "ParticipantLapsedV1" in world.types()


async def test_a_payment_that_overtakes_the_lapse_keeps_the_person_active(world: World) -> None:
    pid = await _registered_on_the_16th(world)
    await _follow_the_schedule(world, pid, until=datetime(2026, 7, 8, tzinfo=UTC))
    world.clock.set(datetime(2026, 7, 8, 2, 30, tzinfo=UTC))  # lapse due, no wake-up yet
    await world.handle(paid(pid, "2026-07", world.clock.now()))
    await world.drain()
    assert "reactivation|2026-04" not in _sms(world)
    assert not {"ParticipantLapsedV1", "ParticipantReactivatedV1"} & set(world.types())
    assert world.record(pid)["reactivated_at"] == iso(datetime(2026, 7, 8, 2, 30, tzinfo=UTC))


async def test_a_queued_reactivation_message_is_withdrawn_by_a_payment(world: World) -> None:
    pid = await _registered_on_the_16th(world)
    await _follow_the_schedule(world, pid, until=datetime(2026, 7, 8, tzinfo=UTC))
    world.clock.set(datetime(2026, 7, 8, 2, 1, tzinfo=UTC))
    await world.dispatcher.scan(set(range(PARTITIONS)))  # the wake-up queues the message ...
    await world.pump()
    key = f"{pid}|reactivation|2026-04|sms"
    assert key in world.record(pid)["queue"]
    await world.handle(paid(pid, "2026-06", world.clock.now()))  # ... and a payment comes first
    await world.drain()
    assert "reactivation|2026-04" not in _sms(world)
    assert world.record(pid)["sent"][key]["state"] == "cancelled"
    assert world.types().count("ParticipantReactivatedV1") == 1


@pytest.mark.parametrize(
    ("birth_date", "pays", "expected"),
    [
        (date(1970, 3, 20), True, 1),  # turns 56 on 20 March 2026, enrolled and paid JHT
        (date(1970, 3, 20), False, 0),  # never paid: no JHT savings to claim
        (date(1970, 3, 1), True, 0),  # already 56 when enrolling on 2 March
    ],
)
async def test_the_jht_claim_goes_only_to_who_has_jht_savings(
    world: World, birth_date: date, pays: bool, expected: int
) -> None:
    jht = [Programme.JKK, Programme.JKM, Programme.JHT]
    event = registered(START, email=None, birth_date=birth_date, programmes=jht)
    await world.handle(event)
    await world.drain()
    if pays:
        await world.handle(paid(event.participant_id, "2026-03", START))
    world.clock.set(datetime(2026, 3, 20, 2, 1, tzinfo=UTC))
    await world.drain()
    world.clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    await world.drain()
    assert world.kinds("sms").count("jht_claim") == expected


async def test_the_welcome_greets_by_the_sex_enrollment_read_off_the_nik(world: World) -> None:
    fields = registered(START, email=None, full_name="I Made Wirawan", sex=Sex.MALE).model_dump()
    event = ParticipantRegisteredV3(**{**fields, "participant_number": "12345678903"})
    await world.handle(event)
    await world.drain()
    person = world.record(event.participant_id)["person"]
    assert person["sex"] == "M"
    assert not [name for name in person if name.startswith("nik")]  # the NIK stays in enrollment
    text = world.channels["sms"].sent[-1].text
    assert text.startswith("BPJS Ketenagakerjaan: Bapak Wirawan terdaftar, KPJ 12345678903.")
