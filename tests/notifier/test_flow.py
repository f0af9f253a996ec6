"""Integration: real broker, the notifier worker process, the local SMS gateway and SMTP sink."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from tests.notifier.factories import registered
from tests.notifier.harness import Stack, wait_for

pytestmark = pytest.mark.integration


def test_registration_sends_welcome_sms_and_email(stack: Stack) -> None:
    event = registered(stack.now())
    pid = event.participant_id
    stack.publish(event, pid, "bebas.participants")

    sms = wait_for(lambda: stack.sms(pid), timeout=40)
    mails = wait_for(lambda: stack.mails(pid), timeout=20)
    assert len(sms) == 1
    assert len(mails) == 1
    assert sms[0]["to"] == event.phone_e164
    assert sms[0]["text"].startswith("Kerja Keras Bebas Cemas! Sri, Anda terlindungi JKK, JKM.")
    assert "Rp16.800/bln" in sms[0]["text"]
    assert mails[0]["to"] == [event.email]
    assert mails[0]["subject"] == "Selamat datang, Sri: Kerja Keras Bebas Cemas"
    assert mails[0]["notification_key"] == f"{pid}|welcome|once|email"
    mime = message_from_bytes(
        (stack.sink_dir / "mail" / mails[0]["file"]).read_bytes(), policy=policy.default
    )
    assert mime["List-Unsubscribe"].startswith("<https://")
    assert mime.get_body(("plain",)).get_content().startswith("Halo Sri Wahyuni,")
    assert "<li>Jaminan Kecelakaan Kerja (JKK)</li>" in mime.get_body(("html",)).get_content()
    sent = wait_for(
        lambda: (
            [e for e in stack.notifications(pid) if e["type"] == "notification.sent"]
            if len(stack.notifications(pid)) >= 2
            else None
        )
    )
    assert sorted(e["data"]["channel"] for e in sent) == ["email", "sms"]
