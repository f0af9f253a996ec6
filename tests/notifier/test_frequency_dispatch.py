"""The frequency cap in the dispatcher, on the fakes of the notifier's ports (`World`): a
broadcast over the cap is dropped with its reason, a reminder over it waits for the window,
two channels' rounds never exceed it together, and a new dispatcher (a restart, another
worker) decides from the record alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.events import NotificationDeferredV1, NotificationSuppressedV1
from services.notifier.bootstrap import StreamListener
from services.notifier.dispatcher import Dispatcher, Limits
from services.notifier.domain.frequency import FrequencyCap
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.domain.record import iso
from services.notifier.ownership import Ownership
from services.notifier.render import Content, Renderer
from services.notifier.settings import Settings
from tests.notifier.factories import broadcast, registered
from tests.notifier.test_service import PARTITIONS, START, World

CAMPAIGN = "campaign_announcement"


def campaign_key(pid: str, request: Any, channel: str = "sms") -> str:
    return f"{pid}|{CAMPAIGN}|campaign:{request.campaign_code}:{request.broadcast_id}|{channel}"


def of_type(world: World, kind: type) -> list[Any]:
    return [event for event in world.publisher.events if isinstance(event, kind)]


async def test_a_broadcast_over_the_cap_is_dropped_with_its_reason() -> None:
    world = World(cap=FrequencyCap(per_day=1, per_week=4))
    person = registered(START, email=None)
    pid = person.participant_id
    await world.handle(person)
    await world.drain()
    first, second = broadcast(START), broadcast(START)
    await world.handle(first)
    await world.drain()
    world.clock.advance(timedelta(hours=3))
    await world.handle(second)
    await world.drain()
    # the welcome is transactional: it neither counts nor waits, so the first campaign went
    assert world.kinds("sms") == ["welcome", CAMPAIGN]
    assert world.channels["sms"].sent[1].key == campaign_key(pid, first)
    dropped = of_type(world, NotificationSuppressedV1)
    assert [(e.notification_key, e.reason) for e in dropped] == [
        (campaign_key(pid, second), "frequency_cap")
    ]
    assert dropped[0].campaign_code == "KKBC-KLEWER"
    state = world.record(pid)["sent"][campaign_key(pid, second)]
    assert (state["state"], state["reason"]) == ("suppressed", "frequency_cap")
    assert world.record(pid)["queue"] == {}
    # a day later the window is open again: the next broadcast goes
    world.clock.advance(timedelta(days=1))
    third = broadcast(world.clock.now())
    await world.handle(third)
    await world.drain()
    assert world.channels["sms"].sent[-1].key == campaign_key(pid, third)


async def test_a_reminder_over_the_cap_waits_for_the_window_then_goes_once() -> None:
    world = World(cap=FrequencyCap(per_day=1, per_week=4))
    person = registered(START, email=None)
    pid = person.participant_id
    await world.handle(person)
    await world.drain()
    # 8 March 08:00 WIB: a campaign, an hour before March's D-7 reminder (09:00 WIB)
    campaign_at = datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
    world.clock.set(campaign_at)
    await world.handle(broadcast(campaign_at))
    await world.drain()
    world.clock.set(datetime(2026, 3, 8, 2, 0, tzinfo=UTC))
    await world.drain()
    assert world.kinds("sms") == ["welcome", CAMPAIGN]
    key = f"{pid}|contribution_due_d7|2026-03|sms"
    opens = campaign_at + timedelta(days=1)
    entry = world.record(pid)["queue"][key]
    assert (entry["not_before"], entry["deferred"]) == (iso(opens), True)
    deferred = of_type(world, NotificationDeferredV1)
    assert [(e.notification_key, e.reason, e.deliver_after) for e in deferred] == [
        (key, "frequency_cap", opens)
    ]
    world.clock.set(opens - timedelta(seconds=1))
    await world.drain()
    assert world.kinds("sms") == ["welcome", CAMPAIGN]
    world.clock.set(opens)
    await world.drain()
    await world.drain()
    assert world.kinds("sms") == ["welcome", CAMPAIGN, "contribution_due_d7"]
    assert len(of_type(world, NotificationDeferredV1)) == 1  # said once
    assert world.record(pid)["sent"][key]["state"] == "sent"


def queued_campaign(pid: str, broadcast_id: str, channel: str, at: datetime) -> dict[str, Any]:
    """A campaign message as the stream queues it."""
    key = f"{pid}|{CAMPAIGN}|campaign:KKBC-KLEWER:{broadcast_id}|{channel}"
    params = {"campaign_code": "KKBC-KLEWER", "campaign_params": {"message": "Pasar Klewer."}}
    return {
        "key": key,
        "participant_id": pid,
        "kind": CAMPAIGN,
        "channel": channel,
        "params": params,
        "campaign_code": "KKBC-KLEWER",
        "attempt": 1,
        "not_before": iso(at),
        "deferred": False,
    }


async def test_rounds_of_two_channels_in_one_scan_never_exceed_the_cap_together() -> None:
    world = World(cap=FrequencyCap(per_day=1))
    person = registered(START)
    pid = person.participant_id
    await world.handle(person)
    await world.drain()
    # two campaign messages due at once on different channels (queued before and after a
    # change of the preferred channel, say): each channel's round would take one
    partition = world.partition(pid)
    old = world.record(pid)
    record = {**old, "queue": {}}
    for broadcast_id, channel in (("b1", "sms"), ("b2", "email")):
        entry = queued_campaign(pid, broadcast_id, channel, START)
        record["queue"][entry["key"]] = entry
    world.state.save(partition, pid, record, None)
    world.dispatcher.wake_written(partition, iso(START))
    await world.dispatcher.scan(set(range(PARTITIONS)))
    await world.rounds()
    # one goes; the other is not even offered to its channel: it waits, queued as it was,
    # until the first one's outcome is recorded
    assert world.kinds("sms") == ["welcome", CAMPAIGN]
    assert world.kinds("email") == ["welcome"]
    b2 = f"{pid}|{CAMPAIGN}|campaign:KKBC-KLEWER:b2|email"
    assert world.record(pid)["queue"][b2]["deferred"] is False
    await world.pump()
    await world.drain()
    assert world.kinds("email") == ["welcome"]
    assert world.record(pid)["sent"][b2]["reason"] == "frequency_cap"


async def test_a_new_dispatcher_judges_from_the_record_alone() -> None:
    """A restart or another worker taking the partition over keeps no count in memory: the
    record's sent states are the count."""
    cap = FrequencyCap(per_day=1)
    world = World(cap=cap)
    person = registered(START, email=None)
    pid = person.participant_id
    await world.handle(person)
    await world.drain()
    await world.handle(broadcast(START))
    await world.drain()
    fresh = Dispatcher(
        world.service,
        world.state,
        list(world.channels.values()),
        Renderer(Content()),
        quiet=QuietHours(),
        clock=world.clock,
        limits=Limits(batch=100),
        concurrency={"sms": 4, "email": 2},
        dead_letter=world.publisher.dead_letter,
        cap=cap,
        retry_source="work",
    )
    world.dispatcher = fresh
    world.service.listener = StreamListener(fresh, Ownership())
    second = broadcast(START)
    await world.handle(second)
    await world.drain()
    assert world.kinds("sms") == ["welcome", CAMPAIGN]
    assert world.record(pid)["sent"][campaign_key(pid, second)]["reason"] == "frequency_cap"


def test_settings_default_to_four_a_week_and_two_a_day_and_refuse_a_day_above_the_week(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = Settings()
    assert (defaults.frequency_cap_per_week, defaults.frequency_cap_per_day) == (4, 2)
    monkeypatch.setenv("NOTIFIER_FREQUENCY_CAP_PER_WEEK", "0")
    monkeypatch.setenv("NOTIFIER_FREQUENCY_CAP_PER_DAY", "0")
    assert (Settings().frequency_cap_per_week, Settings().frequency_cap_per_day) == (0, 0)
    monkeypatch.setenv("NOTIFIER_FREQUENCY_CAP_PER_WEEK", "3")
    monkeypatch.setenv("NOTIFIER_FREQUENCY_CAP_PER_DAY", "4")
    with pytest.raises(ValidationError, match="NOTIFIER_FREQUENCY_CAP_PER_DAY"):
        Settings()
    monkeypatch.setenv("NOTIFIER_FREQUENCY_CAP_PER_DAY", "-1")
    with pytest.raises(ValidationError, match="frequency_cap_per_day"):
        Settings()
