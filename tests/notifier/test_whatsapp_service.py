"""WhatsApp in the service layer and dispatcher (fake ports, as tests/notifier/test_service.py):
who gets it, quiet hours, and "not on WhatsApp" falling back to one SMS, never two."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.events import NotificationFailedV1, NotificationSentV1, ParticipantUpdatedV3
from services.notifier.domain.model import SmsMessage, WhatsAppMessage
from services.notifier.ports import PermanentError
from services.notifier.work import Receipt
from tests.notifier.factories import broadcast, opted_out, registered
from tests.notifier.test_service import START, World

NOT_ON_WHATSAPP = PermanentError("whatsapp HTTP 400, code 131026", fallback="sms")


@pytest.fixture
def world() -> World:
    return World(channels=("sms", "email", "whatsapp"))


def _fan(**overrides: object) -> object:
    fields = {"preferred_channel": "whatsapp", "consent_whatsapp": True, "email": None}
    return registered(START, **{**fields, **overrides})


async def _broadcast(world: World) -> None:
    await world.handle(broadcast(world.clock.now()))
    await world.drain()


def _keys(world: World, channel: str) -> list[str]:
    return [m.key for m in world.channels[channel].sent]


async def test_a_person_who_opted_in_gets_campaigns_on_whatsapp(world: World) -> None:
    event = _fan()
    await world.handle(event)
    await world.drain()
    await _broadcast(world)
    assert world.kinds("sms") == ["welcome"]  # the welcome's route: SMS and e-mail
    (message,) = world.channels["whatsapp"].sent
    assert isinstance(message, WhatsAppMessage)
    assert message.template == "bebas_campaign_announcement"
    assert message.parameters[1] == "Pasar Klewer: iuran mulai Rp16.800."


async def test_without_the_whatsapp_opt_in_a_fan_gets_sms(world: World) -> None:
    await world.handle(_fan(consent_whatsapp=False))
    await world.drain()
    await _broadcast(world)
    assert world.channels["whatsapp"].sent == []
    assert world.kinds("sms") == ["welcome", "campaign_announcement"]


async def test_not_on_whatsapp_falls_back_to_one_sms_and_sms_from_then_on(world: World) -> None:
    event = _fan()
    await world.handle(event)
    await world.drain()
    world.channels["whatsapp"].failures.append(NOT_ON_WHATSAPP)
    await _broadcast(world)
    pid = event.participant_id
    assert world.channels["whatsapp"].sent == []
    assert world.kinds("sms") == ["welcome", "campaign_announcement"]
    fallback = world.channels["sms"].sent[-1]
    assert isinstance(fallback, SmsMessage)
    assert fallback.key.endswith("|sms")
    assert "Pasar Klewer" in fallback.text
    failed = [e for e in world.publisher.events if isinstance(e, NotificationFailedV1)]
    assert [(e.channel, e.permanent) for e in failed] == [("whatsapp", True)]
    record = world.record(pid)
    assert record["person"]["not_on_whatsapp"]
    assert record["sent"][failed[0].notification_key]["state"] == "failed"
    # the next broadcast goes to SMS straight away
    await _broadcast(world)
    assert world.kinds("sms")[-1] == "campaign_announcement"
    assert len(world.channels["whatsapp"].sent) == 0


async def test_a_failed_status_after_acceptance_falls_back_once_however_often_it_comes(
    world: World,
) -> None:
    event = _fan()
    await world.handle(event)
    await world.drain()
    await _broadcast(world)
    (wa_key,) = _keys(world, "whatsapp")
    receipt = Receipt(
        reference=wa_key,
        message_id="wamid.1",
        status="failed",
        at=datetime(2026, 3, 2, 3, 5, tzinfo=UTC).isoformat(),
        reason="whatsapp 131026: Message undeliverable",
        fallback="sms",
    )
    for _ in range(2):  # Meta repeats a webhook it thinks we missed
        await world.service.on_work(receipt, world.partition(event.participant_id))
        await world.drain()
    sms = [k for k in _keys(world, "sms") if "campaign_announcement" in k]
    assert sms == [wa_key.removesuffix("whatsapp") + "sms"]
    sent = [e.channel for e in world.publisher.events if isinstance(e, NotificationSentV1)]
    assert sent.count("sms") == 2  # the welcome and the one fallback
    record = world.record(event.participant_id)
    assert record["sent"][wa_key]["reason"] == "whatsapp 131026: Message undeliverable"


async def test_no_fallback_to_a_channel_the_person_left(world: World) -> None:
    event = _fan()
    await world.handle(event)
    await world.drain()
    await world.handle(opted_out(event.participant_id, ["sms"], START))
    world.channels["whatsapp"].failures.append(NOT_ON_WHATSAPP)
    await _broadcast(world)
    assert world.kinds("sms") == ["welcome"]
    assert world.channels["whatsapp"].sent == []


async def test_whatsapp_waits_for_the_morning_like_sms(world: World) -> None:
    await world.handle(_fan())
    await world.drain()
    world.clock.set(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # 22:00 WIB
    await _broadcast(world)
    assert world.channels["whatsapp"].sent == []
    world.clock.set(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))  # 08:00 WIB
    await world.drain()
    assert len(world.channels["whatsapp"].sent) == 1


async def test_a_failed_status_that_overtakes_the_rounds_outcome_still_falls_back_once(
    world: World,
) -> None:
    """The Cloud API may post "failed" before the dispatch round's outcome record is applied:
    the queue entry then says what the message was, and the late outcome ("sent") does not
    overwrite the failure."""
    event = _fan()
    await world.handle(event)
    await world.drain()
    await world.handle(broadcast(world.clock.now()))
    await world.dispatcher.scan({world.partition(event.participant_id)})
    await world.rounds()  # sent; its outcome record is written, not yet applied
    (wa_key,) = _keys(world, "whatsapp")
    outcomes = list(world.publisher.records)
    world.publisher.records.clear()
    receipt = Receipt(
        reference=wa_key,
        status="failed",
        at=world.clock.now().isoformat(),
        reason="whatsapp 131026: Message undeliverable",
        fallback="sms",
    )
    await world.service.on_work(receipt, world.partition(event.participant_id))
    for partition, record in outcomes:
        await world.service.on_work(record, partition)
    await world.drain()
    assert world.record(event.participant_id)["sent"][wa_key]["state"] == "failed"
    assert [k for k in _keys(world, "sms") if "campaign" in k] == [
        wa_key.removesuffix("whatsapp") + "sms"
    ]


async def test_a_correction_gives_the_opt_in_and_a_new_number_gets_another_chance(
    world: World,
) -> None:
    event = _fan(consent_whatsapp=False)
    pid = event.participant_id
    await world.handle(event)
    await world.drain()
    await world.handle(
        ParticipantUpdatedV3(
            participant_id=pid, branch_code="SKT", consent_whatsapp=True, updated_at=START
        )
    )
    world.channels["whatsapp"].failures.append(NOT_ON_WHATSAPP)
    await _broadcast(world)  # off WhatsApp: SMS, and SMS from then on
    assert world.record(pid)["person"]["not_on_whatsapp"]
    await world.handle(
        ParticipantUpdatedV3(
            participant_id=pid, branch_code="SKT", phone_e164="+6285712345678", updated_at=START
        )
    )
    assert "not_on_whatsapp" not in world.record(pid)["person"]
    await _broadcast(world)
    assert len(world.channels["whatsapp"].sent) == 1
