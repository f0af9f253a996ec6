"""One opt-out, everywhere: a person's SMS reply `Berhenti` (through the local gateway, signed
as a provider signs it) and the one-click unsubscribe link of their e-mail (RFC 8058) reach
enrollment's record (`GET /v1/participants/{id}`) and reporting's opt-out count, through
one path: the notifier asks (`bebas.enrollment.requests`), enrollment decides and publishes
`participant.opted_out`, and the notifier and reporting learn it from bebas.participants.
Opening the link (GET) and a forged link change nothing."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from typing import Any

import httpx

from bench.driver import wait_until
from services.common.kafka_settings import KafkaSettings
from services.common.topic_reader import partitions_of, read_to_end
from tests.e2e.conftest import Journey

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _participant(journey: Journey, pid: str) -> dict[str, Any]:
    with journey.run.api() as api:
        response = api.get(f"/v1/participants/{pid}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _opt_outs(journey: Journey, campaign: str, total: int) -> dict[str, Any]:
    def counted() -> dict[str, Any] | None:
        figures = journey.campaign_metrics(campaign).get("opt_outs", {})
        return figures if figures.get("total") == total else None

    return wait_until(counted, 60, f"reporting to count {total} opt-out(s) in {campaign}")


def _requests_for(journey: Journey, pid: str) -> list[dict[str, Any]]:
    """Every opt-out request on the requests topic for one participant, read to its end."""
    ctx = journey.run.live().ctx
    assert ctx is not None
    kafka = KafkaSettings(bootstrap_servers=ctx.bootstrap_servers)
    tps = partitions_of(kafka, ["bebas.enrollment.requests"])
    return [
        json.loads(record.value)
        for _, record in read_to_end(kafka, tps)
        if record.key == pid.encode()
    ]


def test_stop_by_sms_is_seen_by_enrollment_reporting_and_the_notifier(journey: Journey) -> None:
    campaign = journey.new_campaign()
    person = journey.person(campaign, branch_code="SURAKARTA")
    registered = journey.register(person)
    pid, phone = registered["id"], registered["phone_e164"]
    journey.wait_sms(phone, "welcome")

    reply = httpx.post(
        f"{journey.run.url('sms_gateway')}/inbound",
        json={"from": phone, "text": "Berhenti"},
        timeout=30,
    )
    assert reply.json()["notifier_status"] == 202, reply.text

    wait_until(
        lambda: _participant(journey, pid)["opted_out_channels"] == ["sms"] or None,
        60,
        "enrollment to record the STOP",
    )
    assert _opt_outs(journey, campaign, 1)["by_channel"] == {"sms": 1}
    wait_until(
        lambda: journey.notifier_view(pid).get("opted_out") == ["sms"] or None,
        60,
        "the notifier to learn the opt-out from enrollment",
    )
    [request] = _requests_for(journey, pid)
    assert request["data"]["via"] == "sms_reply"
    assert request["data"]["keyword"] == "BERHENTI"


def test_one_click_unsubscribe_from_the_email_and_only_its_post(journey: Journey) -> None:
    campaign = journey.new_campaign()
    person = journey.person(
        campaign, branch_code="SURAKARTA", email=f"unsub-{campaign.lower()}@example.co.id"
    )
    pid = journey.register(person)["id"]

    def welcome_mail() -> Any:
        for mail in journey.run.mails():
            if mail["notification_key"].startswith(f"{pid}|welcome|"):
                [path] = list(journey.run.root.rglob(f"mail/{mail['file']}"))
                return message_from_bytes(path.read_bytes(), policy=policy.default)
        return None

    mail = wait_until(welcome_mail, 60, "the welcome e-mail")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(mail["List-Unsubscribe"]).strip().removeprefix("<").removesuffix(">")
    # the link points at what `make run` serves: the notifier's own /unsubscribe
    assert url.startswith(f"{journey.run.url('notifier')}/unsubscribe?token=")

    page = httpx.get(url, timeout=30)  # what a mail scanner does: nothing may change
    assert page.status_code == 200
    assert "Berhenti berlangganan" in page.text
    token = url.split("token=")[1]
    forged = url.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert httpx.post(forged, data=ONE_CLICK, timeout=30).status_code == 403

    done = httpx.post(url, data=ONE_CLICK, timeout=30)  # what the mail provider does
    assert done.status_code == 200, done.text
    wait_until(
        lambda: _participant(journey, pid)["opted_out_channels"] == ["email"] or None,
        60,
        "enrollment to record the unsubscribe",
    )
    assert _opt_outs(journey, campaign, 1)["by_channel"] == {"email": 1}
    # the GET and the forged link asked for nothing: the one request is the POST's
    [request] = _requests_for(journey, pid)
    assert (request["data"]["via"], request["data"]["channels"]) == ("email_link", ["email"])
