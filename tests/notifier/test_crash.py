"""SIGKILL the notifier mid-stream and restart it: every message still reaches its person
exactly once (tables recovered from their changelogs, keys re-sent as provider references)."""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from tests.notifier.factories import registered
from tests.notifier.harness import Stack, wait_for

pytestmark = pytest.mark.integration
PEOPLE = 120
SMS_CONCURRENCY, SMTP_CONCURRENCY = 8, 4  # the settings' defaults


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

    wait_for(lambda: len(stack.sms()) >= PEOPLE and len(stack.mails()) >= PEOPLE, timeout=120)
    sms_keys = Counter(s["reference"] for s in stack.sms())
    mail_keys = Counter(m["notification_key"] for m in stack.mails())
    expected_sms = {f"{p.participant_id}|welcome|once|sms" for p in people}
    expected_mail = {f"{p.participant_id}|welcome|once|email" for p in people}
    assert set(sms_keys) == expected_sms
    assert set(mail_keys) == expected_mail
    assert max(sms_keys.values()) == 1
    assert max(mail_keys.values()) == 1
    # only messages in flight at the kill (at most the channel's concurrency) were offered
    # twice; the gateway recognised them by `reference`, the mailbox by Message-ID
    attempts = Counter(r["reference"] for r in stack.sms_requests_all())
    assert sum(n - 1 for n in attempts.values()) <= SMS_CONCURRENCY
    assert len(stack.mail_duplicates()) <= SMTP_CONCURRENCY


def _encode(stack: Stack, person: object) -> bytes:
    from schemas.envelope import encode_event, new_event
    from schemas.events import ParticipantRegisteredV2

    assert isinstance(person, ParticipantRegisteredV2)
    return encode_event(
        new_event(person, source="urn:test", subject=person.participant_id, time=stack.now())
    )
