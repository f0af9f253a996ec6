"""Integration: WhatsApp through the local Cloud API process (which checks token, template and
parameters as Meta does, and posts signed status webhooks back), the notifier worker as a
process, the SMS gateway and SMTP sink as processes, on the session's real broker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.kafka_settings import KafkaSettings
from services.notifier.domain.whatsapp import signature
from tests.notifier.factories import broadcast, registered
from tests.notifier.harness import Stack, running_stack, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(
    kafka_settings: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("notifier-whatsapp")
    with running_stack(kafka_settings, root, whatsapp=True) as running:
        yield running


def _fan(stack: Stack) -> str:
    event = registered(stack.now(), preferred_channel="whatsapp", consent_whatsapp=True, email=None)
    stack.publish(event, event.participant_id, "bebas.participants")
    return event.participant_id


def _events(stack: Stack, pid: str, kind: str) -> list[tuple[str, str]]:
    return [
        (e["type"], e["data"]["channel"])
        for e in stack.notifications(pid)
        if e["data"].get("kind") == kind
    ]


def test_a_template_reaches_whatsapp_and_a_number_off_whatsapp_gets_one_sms(
    stack: Stack,
) -> None:
    on, off = _fan(stack), _fan(stack)
    wait_for(lambda: len(stack.sms(on)) == 1 and len(stack.sms(off)) == 1, timeout=40)
    off_phone = stack.sms(off)[0]["to"]
    stack.whatsapp_control(absent=off_phone)
    request = broadcast(stack.now())
    stack.publish(request, request.campaign_code, "bebas.campaigns")

    # the person on WhatsApp: the template, its parameters, then "delivered" from the webhook
    (message,) = wait_for(lambda: stack.whatsapp_messages(on) or None, timeout=40)
    assert message["template"] == "bebas_campaign_announcement"
    assert message["language"] == "id"
    assert message["parameters"] == ["Ibu Sri Wahyuni", request.params["message"], "175"]
    assert message["text"].startswith("Halo Ibu Sri Wahyuni, Pasar Klewer: iuran mulai")
    wa = ("notification.sent", "whatsapp"), ("notification.delivered", "whatsapp")
    wait_for(lambda: set(wa) <= set(_events(stack, on, "campaign_announcement")), timeout=40)

    # the number off WhatsApp: the Cloud API took it, its webhook said 131026, one SMS went
    def fell_back() -> list[dict[str, Any]] | None:
        sms = [s for s in stack.sms(off) if "campaign_announcement" in s["reference"]]
        return sms or None

    (sms,) = wait_for(fell_back, timeout=40)
    assert sms["reference"].endswith("|sms")
    assert "Pasar Klewer" in sms["text"]
    events = _events(stack, off, "campaign_announcement")
    assert ("notification.failed", "whatsapp") in events
    assert ("notification.sent", "sms") in events
    assert [m["on_whatsapp"] for m in stack.whatsapp_messages(off)] == [False]
    assert stack.state(off)["sent"][message["reference"].replace(on, off)]["state"] == "failed"
    # nobody got anything twice, on any channel
    assert len(stack.sms(on)) == 1
    assert len([s for s in stack.sms(off) if "campaign" in s["reference"]]) == 1
    assert len(stack.whatsapp_messages(on)) == 1


def test_a_webhook_not_signed_by_meta_is_refused_and_changes_nothing(stack: Stack) -> None:
    pid = _fan(stack)
    wait_for(lambda: stack.sms(pid) or None, timeout=40)
    before = stack.notifications(pid)
    key = f"{pid}|welcome|once|whatsapp"
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "statuses": [
                                {
                                    "id": "wamid.forged",
                                    "status": "failed",
                                    "biz_opaque_callback_data": key,
                                    "errors": [{"code": 131026, "title": "undeliverable"}],
                                }
                            ]
                        }
                    }
                ]
            }
        ],
    }
    raw = json.dumps(payload).encode()
    url = f"{stack.url}/webhooks/whatsapp"
    for header in ({}, {"X-Hub-Signature-256": signature(b"not-the-app-secret", raw)}):
        refused = httpx.post(url, content=raw, headers=header)
        assert refused.status_code == 401
        assert "X-Hub-Signature-256" in refused.json()["detail"]
    assert stack.notifications(pid) == before
    assert stack.state(pid)["sent"].get(key) is None

    # the subscription handshake answers our verify token only
    query = {"hub.mode": "subscribe", "hub.challenge": "8421"}
    ok = httpx.get(url, params={**query, "hub.verify_token": "harness-verify-token"})
    assert (ok.status_code, ok.text) == (200, "8421")
    wrong = httpx.get(url, params={**query, "hub.verify_token": "guess"})
    assert wrong.status_code == 403
