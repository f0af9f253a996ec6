"""Integration: real broker, the notifier worker process, the local SMS gateway and SMTP sink."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from schemas.vocab import Channel, IndonesianTimeZone
from services.notifier.domain.schedule import D1, D7, OVERDUE, ReminderPolicy, period_reminders
from services.notifier.domain.signatures import signed_headers
from tests.notifier.factories import broadcast, opted_out, paid, registered
from tests.notifier.harness import (
    CALLBACK_SECRET,
    UNSUBSCRIBE_URL,
    Stack,
    daytime_base,
    wait_for,
)

pytestmark = pytest.mark.integration
POLICY = ReminderPolicy()


def test_registration_sends_welcome_sms_and_email(stack: Stack) -> None:
    event = registered(stack.now())
    pid = event.participant_id
    stack.publish(event, pid, "bebas.participants")

    sms = wait_for(lambda: stack.sms(pid), timeout=40)
    mails = wait_for(lambda: stack.mails(pid), timeout=20)
    assert len(sms) == 1
    assert len(mails) == 1
    assert sms[0]["to"] == event.phone_e164
    # a v2 event: no participant number yet, so the SMS leaves it out rather than show a hole
    assert sms[0]["text"].startswith("BPJS Ketenagakerjaan: Ibu Sri terdaftar. Terlindungi")
    assert "stlh bayar iuran Rp16.800 di Indomaret/Alfamart/JMO" in sms[0]["text"]
    assert mails[0]["to"] == [event.email]
    assert mails[0]["subject"] == "BPJS Ketenagakerjaan: Anda terdaftar, Ibu Sri"
    assert mails[0]["notification_key"] == f"{pid}|welcome|once|email"
    mime = message_from_bytes(
        (stack.sink_dir / "mail" / mails[0]["file"]).read_bytes(), policy=policy.default
    )
    assert mime["List-Unsubscribe"].startswith(f"<{UNSUBSCRIBE_URL}?token=")
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mime.get_body(("plain",)).get_content().startswith("Halo Ibu Sri Wahyuni,")
    assert "<li>Jaminan Kecelakaan Kerja (JKK)</li>" in mime.get_body(("html",)).get_content()
    listed = httpx.get(f"{stack.url}/messages", params={"participant": pid}).json()
    assert [m["text"] for m in listed["sms"]] == [sms[0]["text"]]
    assert [m["subject"] for m in listed["email"]] == [mails[0]["subject"]]
    sent = wait_for(
        lambda: (
            [e for e in stack.notifications(pid) if e["type"] == "notification.sent"]
            if len(stack.notifications(pid)) >= 2
            else None
        )
    )
    assert sorted(e["data"]["channel"] for e in sent) == ["email", "sms"]


def _sent(stack: Stack, pid: str, channel: str) -> list[dict[str, object]]:
    return [
        e
        for e in stack.notifications(pid)
        if e["type"] == "notification.sent" and e["data"]["channel"] == channel
    ]


def test_malformed_input_goes_to_dead_letter_and_agent_keeps_going(stack: Stack) -> None:
    stack.publish_raw("bebas.participants", b"junk", b"{not json")
    bad = registered(stack.now()).model_dump(mode="json")
    bad.pop("phone_e164")
    envelope = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:test",
        "type": "participant.registered",
        "time": stack.now().isoformat(),
        "subject": bad["participant_id"],
        "dataschema": "urn:bebas-cemas:schema:participant.registered:v2",
        "correlationid": "c",
        "data": bad,
    }
    stack.publish_raw("bebas.participants", b"bad", json.dumps(envelope).encode())
    good = registered(stack.now())
    stack.publish(good, good.participant_id, "bebas.participants")

    letters = wait_for(
        lambda: (rows := stack.read("bebas.notifier.deadletter")) and len(rows) >= 2 and rows
    )
    junk = [r for r in letters if r["reason"].startswith("not JSON")]
    invalid = [r for r in letters if r["reason"].startswith("schema-invalid")]
    assert len(junk) == 1
    assert len(invalid) == 1
    assert "phone_e164" in invalid[0]["reason"]
    assert base64.b64decode(junk[0]["value_b64"]) == b"{not json"
    assert junk[0]["key"] == "junk"
    assert all(r["source_topic"] == stack.topic("bebas.participants") for r in letters)
    assert wait_for(lambda: stack.sms(good.participant_id))


def test_gateway_500_then_200_sends_exactly_one_sms(stack: Stack) -> None:
    event = registered(stack.now())
    pid = event.participant_id
    stack.gateway_control(status=500, count=2, to=event.phone_e164)
    stack.publish(event, pid, "bebas.participants")

    sent = wait_for(lambda: _sent(stack, pid, "sms"), timeout=30)
    assert len(stack.sms(pid)) == 1
    outcomes = [r["outcome"] for r in stack.sms_requests(pid)]
    assert outcomes == ["injected 500", "injected 500", "accepted"]
    assert sent[0]["data"]["attempt"] == 3
    retries = [r for r in stack.retries() if r["key"].startswith(pid)]
    assert [r["attempt"] for r in retries] == [2, 3]


def test_gateway_400_fails_at_once_without_retry(stack: Stack) -> None:
    event = registered(stack.now())
    pid = event.participant_id
    stack.gateway_control(status=400, count=-1, to=event.phone_e164)
    stack.publish(event, pid, "bebas.participants")

    failed = wait_for(
        lambda: [e for e in stack.notifications(pid) if e["type"] == "notification.failed"]
    )
    assert failed[0]["data"]["channel"] == "sms"
    assert failed[0]["data"]["permanent"] is True
    assert "HTTP 400" in failed[0]["data"]["reason"]
    assert wait_for(lambda: _sent(stack, pid, "email"))  # the other channel is unaffected
    assert len(stack.sms_requests(pid)) == 1
    assert stack.sms(pid) == []
    assert not [r for r in stack.retries() if r["key"].startswith(pid)]
    key = f"{pid}|welcome|once|sms"
    # the round's outcome reaches the participant's record through the work topic
    wait_for(lambda: stack.state(pid).get("sent", {}).get(key, {}).get("state") == "failed")


def test_gateway_timeout_then_retry_reaches_the_person_once(stack: Stack) -> None:
    event = registered(stack.now(), email=None)
    pid = event.participant_id
    # the gateway holds the first request past the notifier's 2 s timeout, then accepts it:
    # the retry carries the same reference and the gateway does not send it again
    stack.gateway_control(delay=3, count=1, to=event.phone_e164)
    stack.publish(event, pid, "bebas.participants")

    sent = wait_for(lambda: _sent(stack, pid, "sms"), timeout=30)
    assert sent[0]["data"]["attempt"] == 2
    wait_for(lambda: len(stack.sms_requests(pid)) == 2)  # the held request is logged last
    assert len(stack.sms(pid)) == 1


def test_gateway_always_503_ends_in_the_dead_letter_topic(stack: Stack) -> None:
    event = registered(stack.now(), email=None)
    pid = event.participant_id
    key = f"{pid}|welcome|once|sms"
    stack.gateway_control(status=503, count=-1, to=event.phone_e164)
    stack.publish(event, pid, "bebas.participants")

    letter = wait_for(
        lambda: [r for r in stack.read("bebas.notifier.deadletter") if r["key"] == key],
        timeout=60,
    )
    assert letter[0]["reason"].startswith("gave up after 8 attempts: gateway HTTP 503")
    failed = [e for e in stack.notifications(pid) if e["type"] == "notification.failed"]
    assert failed[0]["data"]["permanent"] is False
    assert len(stack.sms_requests(pid)) == 8
    assert stack.sms(pid) == []


def test_smtp_down_then_up_mail_arrives_once(stack: Stack) -> None:
    stack.stop("smtp")
    event = registered(stack.now())
    pid = event.participant_id
    stack.publish(event, pid, "bebas.participants")
    key = f"{pid}|welcome|once|email"

    # SMS is not held up by the dead SMTP server
    assert wait_for(lambda: stack.sms(pid), timeout=30)
    wait_for(lambda: [r for r in stack.retries() if r["key"] == key])
    assert stack.mails(pid) == []
    stack.start_smtp()

    sent = wait_for(lambda: _sent(stack, pid, "email"), timeout=30)
    assert [m["notification_key"] for m in stack.mails(pid)] == [key]
    assert sent[0]["data"]["attempt"] >= 2


def test_opt_out_event_and_stop_reply_stop_sms(stack: Stack) -> None:
    segment = f"seg{uuid.uuid4().hex[:6]}"
    people = [registered(stack.now(), segment=segment) for _ in range(3)]
    for person in people:
        stack.publish(person, person.participant_id, "bebas.participants")
    for person in people:
        wait_for(lambda p=person: stack.sms(p.participant_id))
    by_event, by_reply, control = people
    stack.publish(
        opted_out(by_event.participant_id, [Channel.SMS], stack.now()),
        by_event.participant_id,
        "bebas.participants",
    )
    # the reply comes through the real gateway, which signs it for the notifier
    reply = stack.reply(by_reply.phone_e164, " berhenti ")
    # any worker takes the reply; the one owning the number's partition applies it
    assert reply["notifier_status"] == 202
    assert json.loads(reply["notifier_answer"]) == {
        "action": "opt_out_requested",
        "channel": "sms",
    }
    # the reply is a request to enrollment, the only writer of participant state; its answer
    # (participant.opted_out, here published by the test in enrollment's place) opts out
    wait_for(
        lambda: [
            r
            for r in stack.read("bebas.enrollment.requests")
            if r["subject"] == by_reply.participant_id
        ]
    )
    stack.publish(
        opted_out(by_reply.participant_id, [Channel.SMS], stack.now()),
        by_reply.participant_id,
        "bebas.participants",
    )
    wait_for(lambda: "sms" in stack.state(by_event.participant_id).get("opted_out", []))
    wait_for(lambda: "sms" in stack.state(by_reply.participant_id).get("opted_out", []))
    stack.publish(broadcast(stack.now(), segments=[segment]), "KKBC-KLEWER", "bebas.campaigns")

    def campaign_sms(pid: str) -> list[dict[str, object]]:
        return [s for s in stack.sms(pid) if "|campaign_announcement|" in str(s["reference"])]

    def campaign_mail(pid: str) -> list[dict[str, object]]:
        return [m for m in stack.mails(pid) if "|campaign_announcement|" in m["notification_key"]]

    assert wait_for(lambda: campaign_sms(control.participant_id))
    assert wait_for(lambda: campaign_mail(by_event.participant_id))  # falls back to e-mail
    assert wait_for(lambda: campaign_mail(by_reply.participant_id))
    assert campaign_sms(by_event.participant_id) == []
    assert campaign_sms(by_reply.participant_id) == []
    assert campaign_mail(control.participant_id) == []
    assert "Pasar Klewer: iuran mulai Rp16.800." in campaign_sms(control.participant_id)[0]["text"]


def _settled(stack: Stack, pid: str) -> dict[str, Any] | None:
    """The participant's state once both welcomes are recorded sent, else None."""
    state = stack.state(pid)
    sent = [v for v in state.get("sent", {}).values() if v["state"] == "sent"]
    return state if len(sent) == 2 else None


def test_tables_survive_a_restart(stack: Stack) -> None:
    # a burst, so changelog partitions get multi-record batches (whose end offset the
    # embedded broker under-reports: recovery must still read every record)
    people = [registered(stack.now()) for _ in range(25)]
    for person in people:
        stack.publish(person, person.participant_id, "bebas.participants")
    before = {
        p.participant_id: wait_for(lambda p=p: _settled(stack, p.participant_id)) for p in people
    }
    stack.stop("notifier")
    stack.start_notifier()

    for pid, state in before.items():
        after = stack.state(pid)
        assert after["sent"] == state["sent"], pid
        assert after["schedule"] == state["schedule"], pid
    # a redelivered registration sends nothing again: the sent table came back
    event = people[0]
    pid = event.participant_id
    stack.publish(event, pid, "bebas.participants")
    marker = registered(stack.now())
    stack.publish(marker, marker.participant_id, "bebas.participants")
    wait_for(lambda: stack.sms(marker.participant_id))
    assert len(stack.sms_requests(pid)) == 1
    assert len(stack.mails(pid)) == 1


def _first_period_after(moment: datetime) -> tuple[str, dict[str, datetime]]:
    local = moment.astimezone(ZoneInfo("Asia/Jakarta"))
    for months in range(0, 3):
        index = local.year * 12 + local.month - 1 + months
        period = f"{index // 12:04d}-{index % 12 + 1:02d}"
        fires = {r.kind: r.fire_at for r in period_reminders(period, "Asia/Jakarta", POLICY)}
        if fires[D7] > moment + timedelta(minutes=5):
            return period, fires
    raise AssertionError("no period found")


def test_payment_before_d1_cancels_the_d1_and_overdue_reminders(stack: Stack) -> None:
    payer, other = registered(stack.now()), registered(stack.now())
    for person in (payer, other):
        stack.publish(person, person.participant_id, "bebas.participants")
        wait_for(lambda p=person: stack.sms(p.participant_id))
    period, fires = _first_period_after(stack.now())

    def reminders(pid: str, kind: str) -> list[dict[str, object]]:
        return [s for s in stack.sms(pid) if f"|{kind}|{period}|" in str(s["reference"])]

    stack.set_clock(fires[D7] + timedelta(minutes=1))
    d7_text = wait_for(lambda: reminders(payer.participant_id, D7))[0]["text"]
    assert f"batas {POLICY.due_day} " in d7_text  # the D-7 names its deadline
    assert wait_for(lambda: reminders(other.participant_id, D7))

    stack.publish(
        paid(payer.participant_id, period, stack.now()), payer.participant_id, "bebas.participants"
    )
    wait_for(lambda: period in stack.state(payer.participant_id).get("paid_periods", []))

    stack.set_clock(fires[D1] + timedelta(minutes=1))
    assert "BESOK" in wait_for(lambda: reminders(other.participant_id, D1))[0]["text"]
    stack.set_clock(fires[OVERDUE] + timedelta(minutes=1))
    assert wait_for(lambda: reminders(other.participant_id, OVERDUE))
    assert reminders(payer.participant_id, D1) == []
    assert reminders(payer.participant_id, OVERDUE) == []
    assert len(reminders(other.participant_id, D7)) == 1  # each exactly once
    assert len(reminders(other.participant_id, D1)) == 1


def test_quiet_hours_defer_sms_until_the_window_opens(stack: Stack) -> None:
    # the next 22:00 in Jayapura (WIT, UTC+9) = 13:00 UTC
    now = stack.now()
    evening = now.replace(hour=13, minute=0, second=0, microsecond=0)
    if evening <= now:
        evening += timedelta(days=1)
    stack.set_clock(evening)
    event = registered(stack.now(), branch_timezone=IndonesianTimeZone.WIT, branch_code="JAP")
    pid = event.participant_id
    stack.publish(event, pid, "bebas.participants")

    assert wait_for(lambda: stack.mails(pid))  # e-mail has no quiet hours
    deferred = wait_for(
        lambda: [e for e in stack.notifications(pid) if e["type"] == "notification.deferred"]
    )
    opens = datetime.fromisoformat(deferred[0]["data"]["deliver_after"])
    assert opens.astimezone(ZoneInfo("Asia/Jayapura")).hour == 8
    assert stack.sms(pid) == []
    stack.set_clock(opens + timedelta(minutes=1))
    assert len(wait_for(lambda: stack.sms(pid))) == 1
    assert len(deferred) == 1


def test_delivery_receipt_becomes_notification_delivered_and_bad_input_a_problem(
    stack: Stack,
) -> None:
    stack.set_clock(daytime_base(stack.now()))  # earlier tests may have left it at night
    event = registered(stack.now(), email=None)
    pid = event.participant_id
    stack.publish(event, pid, "bebas.participants")
    sms = wait_for(lambda: stack.sms(pid))
    receipt = {"reference": sms[0]["reference"], "message_id": sms[0]["message_id"]}
    assert stack.callback("/receipts", receipt).status_code == 202
    delivered = wait_for(
        lambda: [e for e in stack.notifications(pid) if e["type"] == "notification.delivered"]
    )
    assert delivered[0]["data"]["provider_message_id"] == sms[0]["message_id"]
    assert delivered[0]["data"]["branch_code"] == "SKT"

    bad = stack.callback("/receipts", {"status": "lost"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"reference", "status"}
    unknown = stack.callback("/inbound-sms", {"from": "+6289999999999", "text": "STOP"})
    assert unknown.status_code == 202  # no worker knows every number: nobody is opted out
    assert stack.state(pid)["opted_out"] == []
    not_a_phone = stack.callback("/inbound-sms", {"from": "0812", "text": "STOP"})
    assert not_a_phone.status_code == 422
    assert not_a_phone.json()["errors"][0]["field"] == "from"
    metrics = httpx.get(f"{stack.url}/metrics").text
    assert 'notifier_messages_total{channel="sms",outcome="sent"}' in metrics
    assert "notifier_ready 1.0" in metrics


def test_unsigned_or_wrongly_signed_callbacks_are_refused_and_change_nothing(
    stack: Stack,
) -> None:
    stack.set_clock(daytime_base(stack.now()))
    event = registered(stack.now(), email=None)
    pid = event.participant_id
    stack.publish(event, pid, "bebas.participants")
    sms = wait_for(lambda: stack.sms(pid))[0]
    key = sms["reference"]
    wait_for(lambda: stack.state(pid).get("sent", {}).get(key, {}).get("state") == "sent")
    before = stack.state(pid)

    secret, now = CALLBACK_SECRET.encode(), int(time.time())
    forged = {
        "/receipts": {"reference": key, "message_id": sms["message_id"], "status": "failed"},
        "/inbound-sms": {"from": event.phone_e164, "text": "STOP"},
    }
    for path, body in forged.items():
        raw = json.dumps(body).encode()
        attempts = {
            "unsigned": {},
            "wrong secret": signed_headers(b"a-secret-the-gateway-lacks", raw, now),
            "replayed an hour later": signed_headers(secret, raw, now - 3600),
            "signature of another body": signed_headers(secret, b"{}", now),
            "no timestamp": {
                "X-Bebas-Signature": signed_headers(secret, raw, now)["X-Bebas-Signature"]
            },
        }
        for why, headers in attempts.items():
            response = httpx.post(
                f"{stack.url}{path}",
                content=raw,
                headers={**headers, "Content-Type": "application/json"},
            )
            assert response.status_code == 401, (path, why, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["WWW-Authenticate"] == "X-Bebas-Signature"

    # A 202 is answered once the work record is on the broker, a 401 before any is written:
    # the work topic holds no receipt for the key and no STOP for the number.
    work = stack.read("bebas.notifier.work")
    assert [r for r in work if r.get("reference") == key] == []
    assert [r for r in work if r.get("phone") == event.phone_e164] == []
    assert stack.state(pid) == before
    outcomes = {e["type"] for e in stack.notifications(pid)}
    assert outcomes == {"notification.sent"}  # neither delivered nor failed
    metrics = httpx.get(f"{stack.url}/metrics").text
    for path in forged:
        assert f'notifier_http_refused_total{{route="{path}"}} 5.0' in metrics

    # the same STOP signed by the real gateway asks enrollment, the only writer of participant
    # state, to opt the person out (enrollment's answer, participant.opted_out, is what
    # changes the notifier's copy: tests/e2e/test_opt_out.py)
    assert stack.reply(event.phone_e164, "STOP")["notifier_status"] == 202
    [request] = wait_for(
        lambda: [r for r in stack.read("bebas.enrollment.requests") if r["subject"] == pid]
    )
    assert request["type"] == "participant.opt_out_requested"
    assert (request["data"]["channels"], request["data"]["via"]) == (["sms"], "sms_reply")
    assert stack.state(pid)["opted_out"] == []


def test_the_participant_view_needs_an_admin_key(stack: Stack) -> None:
    event = registered(stack.now(), email=None)
    pid = event.participant_id
    stack.publish(event, pid, "bebas.participants")
    assert wait_for(lambda: stack.state(pid))  # the harness reads it with the admin key
    url = f"{stack.url}/participants/{pid}/notifications"
    for headers in ({}, {"Authorization": "Bearer bck_not-an-admin-key-0123456789"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert set(response.json()) == {"type", "title", "status", "detail"}  # no state
