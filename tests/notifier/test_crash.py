"""SIGKILL the notifier mid-stream and restart it: every message still reaches its person
exactly once (tables recovered from their changelogs, keys re-sent as provider references)."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from datetime import timedelta

import pytest

from schemas.events import ParticipantRegisteredV2
from tests.notifier.factories import broadcast, registered
from tests.notifier.harness import ROUNDS_PER_CHANNEL, SCAN_BATCH, Stack, wait_for

pytestmark = pytest.mark.integration
PEOPLE = 120
SMTP_CONCURRENCY = 4  # the settings' default


def test_sigkill_mid_stream_then_restart_sends_every_message_exactly_once(stack: Stack) -> None:
    people = [registered(stack.now()) for _ in range(PEOPLE)]
    for person in people:
        stack.producer.send(
            stack.topic("bebas.participants"),
            key=person.participant_id.encode(),
            value=_encode(stack, person),
        )
    stack.producer.flush()
    wait_for(lambda: len(stack.sms()) >= 15, timeout=60, every=0.02)
    stack.stop("notifier", signal.SIGKILL)
    killed_at = len(stack.sms())
    assert killed_at < PEOPLE, "the kill came too late to test anything"
    stack.start_notifier()

    try:
        wait_for(lambda: len(stack.sms()) >= PEOPLE and len(stack.mails()) >= PEOPLE, timeout=120)
    except AssertionError as exc:
        raise AssertionError(_what_is_missing(stack, people)) from exc
    sms_keys = Counter(s["reference"] for s in stack.sms())
    mail_keys = Counter(m["notification_key"] for m in stack.mails())
    expected_sms = {f"{p.participant_id}|welcome|once|sms" for p in people}
    expected_mail = {f"{p.participant_id}|welcome|once|email" for p in people}
    assert set(sms_keys) == expected_sms
    assert set(mail_keys) == expected_mail
    assert max(sms_keys.values()) == 1
    assert max(mail_keys.values()) == 1
    # only messages of rounds whose outcome was not on the broker at the kill were offered
    # twice: SMS rounds of up to SCAN_BATCH (the gateway drops repeats by `reference`), e-mail
    # rounds of the SMTP concurrency (mailboxes drop repeats by Message-ID, relays may not)
    attempts = Counter(r["reference"] for r in stack.sms_requests_all())
    assert sum(n - 1 for n in attempts.values()) <= ROUNDS_PER_CHANNEL * SCAN_BATCH
    assert len(stack.mail_duplicates()) <= ROUNDS_PER_CHANNEL * SMTP_CONCURRENCY


def _what_is_missing(stack: Stack, people: list[ParticipantRegisteredV2]) -> str:
    """Where each message that did not arrive stands: the owner's view and its events."""
    sent = {s["reference"] for s in stack.sms()} | {m["notification_key"] for m in stack.mails()}
    lines = [f"sms {len(stack.sms())}, mails {len(stack.mails())} of {PEOPLE}"]
    for person in people:
        pid = person.participant_id
        missing = [f"{pid}|welcome|once|{c}" for c in ("sms", "email")]
        missing = [key for key in missing if key not in sent]
        if missing:
            events = [
                (e["type"], e.get("data", {}).get("channel")) for e in stack.notifications(pid)
            ]
            lines.append(f"{missing}: state {stack.state(pid)!r}; events {events!r}")
    return "\n".join([*lines, stack.diagnose()])


def _encode(stack: Stack, person: object) -> bytes:
    from schemas.envelope import encode_event, new_event

    assert isinstance(person, ParticipantRegisteredV2)
    return encode_event(
        new_event(person, source="urn:test", subject=person.participant_id, time=stack.now())
    )


def test_deferred_broadcast_survives_a_crash_and_goes_out_in_the_morning(stack: Stack) -> None:
    segment = f"seg{uuid.uuid4().hex[:6]}"
    people = [registered(stack.now(), segment=segment, email=None) for _ in range(30)]
    for person in people:
        stack.publish(person, person.participant_id, "bebas.participants")
    wait_for(lambda: all(stack.sms(p.participant_id) for p in people), timeout=60)
    now = stack.now()
    night = now.replace(hour=15, minute=0, second=0, microsecond=0)  # 22:00 WIB
    stack.set_clock(night if night > now else night + timedelta(days=1))
    request = broadcast(stack.now(), segments=[segment])
    stack.publish(request, request.campaign_code, "bebas.campaigns")
    pids = {p.participant_id for p in people}

    def deferred() -> set[str]:
        return {
            e["subject"]
            for e in stack.notifications()
            if e["type"] == "notification.deferred" and e["subject"] in pids
        }

    wait_for(lambda: deferred() == pids, timeout=30)
    stack.stop("notifier", signal.SIGKILL)
    stack.start_notifier()

    for pid in pids:  # every deferred message came back from the outbox changelog
        queued = stack.state(pid)["queued"]
        assert [k for k in queued if "|campaign_announcement|" in k], pid
    opens = stack.now().replace(hour=1, minute=1, second=0, microsecond=0)  # 08:01 WIB
    stack.set_clock(opens if opens > stack.now() else opens + timedelta(days=1))

    def campaign_sms() -> Counter[str]:
        return Counter(
            s["reference"] for s in stack.sms() if "|campaign_announcement|" in s["reference"]
        )

    wait_for(lambda: len(campaign_sms()) == len(pids), timeout=60)
    assert max(campaign_sms().values()) == 1
    assert len(deferred()) == len(pids)  # deferred once each, also across the restart
