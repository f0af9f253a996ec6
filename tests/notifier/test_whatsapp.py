"""WhatsApp's rules (pure): error mapping, webhook signature and handshake, status payloads,
template names; our approved copies against the parameters we send; the adapter's request and
its reading of the Cloud API's answers (against a local HTTP server answering as the API does:
the real API is not reachable here; the local sink stands in for it in
tests/notifier/test_whatsapp_flow.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.notifier.adapters.whatsapp import WhatsAppCloud
from services.notifier.domain import whatsapp
from services.notifier.domain.model import SmsMessage, WhatsAppMessage
from services.notifier.ports import PermanentError, SendReceipt, TransientError
from services.notifier.render import Content, Renderer
from services.notifier.sinks.whatsapp_sink import TEMPLATE_DIR, approved_templates, placeholders
from tests.notifier.http_stub import REFUSED, Answer, Seen, provider, respond


def _error(code: int) -> dict[str, Any]:
    return {"error": {"message": "m", "type": "OAuthException", "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "transient", "not_on_whatsapp"),
    [
        (400, _error(131026), False, True),  # message undeliverable: not on WhatsApp
        (400, _error(130429), True, False),  # throughput limit
        (400, _error(131056), True, False),  # pair rate limit
        (400, _error(131048), True, False),  # spam rate limit
        (401, _error(190), True, False),  # token expired: fix the settings, keep the message
        (500, _error(131000), True, False),
        (503, None, True, False),  # a proxy's answer without the Cloud API's body
        (429, None, True, False),
        (404, _error(132001), False, False),  # template does not exist
        (400, _error(132000), False, False),  # parameter count
        (400, _error(131009), False, False),  # parameter value (a bad number)
        (400, _error(100), False, False),
    ],
)
def test_cloud_api_errors_are_transient_or_permanent(
    status: int, body: dict[str, Any] | None, transient: bool, not_on_whatsapp: bool
) -> None:
    verdict = whatsapp.classify(status, body)
    assert (verdict.transient, verdict.not_on_whatsapp) == (transient, not_on_whatsapp)
    assert f"HTTP {status}" in verdict.reason


def test_a_failed_status_says_whether_the_number_is_off_whatsapp() -> None:
    off = whatsapp.failed_status([{"code": 131026, "title": "Message undeliverable"}])
    assert off == whatsapp.Verdict(False, "whatsapp 131026: Message undeliverable", True)
    other = whatsapp.failed_status([{"code": 131050, "title": "User stopped marketing"}])
    assert not other.not_on_whatsapp
    assert not whatsapp.failed_status([]).not_on_whatsapp


SECRET = b"meta-app-secret-0123456789"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (None, "missing X-Hub-Signature-256"),
        ("", "missing X-Hub-Signature-256"),
        ("sha1=abc", "must start with sha256="),
        (whatsapp.signature(b"another-secret", BODY), "does not match"),
        (whatsapp.signature(SECRET, BODY + b" "), "does not match"),  # the body was changed
        ("sha256=é", "does not match"),  # non-ASCII is a mismatch, not a crash
    ],
)
def test_a_webhook_not_signed_with_the_app_secret_is_refused(header: str | None, says: str) -> None:
    refusal = whatsapp.signature_refusal(SECRET, BODY, header)
    assert refusal is not None
    assert says in refusal


def test_a_webhook_signed_with_the_app_secret_passes() -> None:
    assert whatsapp.signature_refusal(SECRET, BODY, whatsapp.signature(SECRET, BODY)) is None


def test_the_subscription_handshake_echoes_the_challenge_only_for_our_token() -> None:
    ok = {"hub.mode": "subscribe", "hub.verify_token": "ours", "hub.challenge": "1158201444"}
    assert whatsapp.handshake(ok, "ours") == "1158201444"
    assert whatsapp.handshake({**ok, "hub.verify_token": "theirs"}, "ours") is None
    assert whatsapp.handshake({**ok, "hub.mode": "unsubscribe"}, "ours") is None
    assert whatsapp.handshake({"hub.challenge": "1"}, "ours") is None


def test_statuses_are_read_from_a_webhook_with_our_key() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "statuses": [
                                {
                                    "id": "wamid.1",
                                    "status": "failed",
                                    "timestamp": "1764907200",
                                    "biz_opaque_callback_data": "p1|welcome|once|whatsapp",
                                    "errors": [{"code": 131026, "title": "undeliverable"}],
                                },
                                {"id": "wamid.2", "status": "read", "timestamp": "1764907201"},
                            ]
                        },
                    },
                    {"field": "messages", "value": {"messages": [{"from": "62811"}]}},
                ],
            }
        ],
    }
    failed, read = whatsapp.statuses(payload)
    assert failed.reference == "p1|welcome|once|whatsapp"
    assert failed.timestamp == 1764907200
    assert failed.errors[0]["code"] == 131026
    assert (read.status, read.reference) == ("read", None)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"object": "page", "entry": []}, "object"),
        ({"object": "whatsapp_business_account", "entry": {}}, "entry"),
        ({"object": "whatsapp_business_account", "entry": [{"changes": [1]}]}, "entry.changes"),
        (
            {
                "object": "whatsapp_business_account",
                "entry": [{"changes": [{"value": {"statuses": [{"id": 1}]}}]}],
            },
            "each needs an id and a status",
        ),
    ],
)
def test_a_payload_that_is_not_a_whatsapp_notification_is_refused(payload: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        whatsapp.statuses(payload)


def test_template_names_default_and_override_per_kind_or_language() -> None:
    names = whatsapp.template_names('{"welcome": "bpjs_welcome_v2", "jht_claim": {"en": "jht_en"}}')
    assert names[("welcome", "id")] == names[("welcome", "en")] == "bpjs_welcome_v2"
    assert names[("jht_claim", "en")] == "jht_en"
    assert names[("jht_claim", "id")] == "bebas_jht_claim"
    for text, says in [
        ("[]", "an object"),
        ('{"birthday": "x"}', "birthday: not a message kind"),
        ('{"welcome": {"fr": "x"}}', "welcome.fr: not a message language"),
        ('{"welcome": "Welcome Template"}', "welcome.id: a template name"),
    ]:
        with pytest.raises(ValueError, match=says):
            whatsapp.template_names(text)


def test_every_approved_copy_has_as_many_placeholders_as_we_send_values() -> None:
    copies = sorted(TEMPLATE_DIR.glob("*.txt"))
    assert len(copies) == 2 * len(whatsapp.BODY_PARAMETERS)
    for path in copies:
        kind = path.name.split(".")[0]
        body = path.read_text("utf-8")
        numbers = sorted({int(n) for n in re.findall(r"\{\{(\d+)\}\}", body)})
        assert numbers == list(range(1, len(whatsapp.BODY_PARAMETERS[kind]) + 1)), path.name
    assert len(approved_templates()) == len(copies)


PERSON: dict[str, Any] = {
    "participant_id": "p1",
    "full_name": "Sri Wahyuni",
    "sex": "F",
    "phone_e164": "+6281234567890",
    "language": "id",
    "programmes": ["JKK", "JKM"],
    "monthly_contribution": 16_800,
    "participant_number": None,
    "paid_periods": [],
}


@pytest.mark.parametrize("kind", sorted(whatsapp.BODY_PARAMETERS))
@pytest.mark.parametrize("language", ["id", "en"])
def test_every_kind_renders_values_the_cloud_api_takes(kind: str, language: str) -> None:
    params: dict[str, Any] = {
        "period": "2026-12",
        "unpaid_periods": ["2026-09", "2026-10", "2026-11"],
        "amount_owed": 50_400,
        "campaign_params": {"message": "Daftar di\npasar Klewer   hari ini."},
    }
    renderer = Renderer(Content())
    message = renderer.render(
        key=f"p1|{kind}|once|whatsapp",
        kind=kind,
        channel="whatsapp",
        person={**PERSON, "language": language},
        params=params,
    )
    assert isinstance(message, WhatsAppMessage)
    assert (message.template, message.language, message.to) == (
        f"bebas_{kind}",
        language,
        "+6281234567890",
    )
    assert len(message.parameters) == placeholders(
        approved_templates()[(message.template, language)]
    )
    for value in message.parameters:
        assert value
        assert not re.search(r"[\n\t]| {5,}", value)
    assert message.parameters[0] == ("Ibu Sri Wahyuni" if language == "id" else "Ms Sri Wahyuni")


def test_the_campaign_message_is_the_broadcasts_own_else_the_slogan() -> None:
    renderer = Renderer(Content())

    def rendered(params: dict[str, Any]) -> tuple[str, ...]:
        message = renderer.render(
            key="k", kind="campaign_announcement", channel="whatsapp", person=PERSON, params=params
        )
        assert isinstance(message, WhatsAppMessage)
        return message.parameters

    assert rendered({"campaign_params": {"message": "Ayo daftar!"}})[1] == "Ayo daftar!"
    assert rendered({})[1].startswith("Kerja Keras Bebas Cemas")


MESSAGE = WhatsAppMessage(
    key="p1|welcome|once|whatsapp",
    to="+6281234567890",
    template="bebas_welcome",
    language="id",
    parameters=("Ibu Sri", "-"),
)


async def _sent(answer: Answer) -> tuple[Exception | SendReceipt, list[Seen]]:
    """What the adapter makes of one send to a local server answering `answer`."""
    async with provider(answer) as (url, seen):
        adapter = WhatsAppCloud(url, "1234567890", "token-1", rate_per_second=1000)
        try:
            outcome: Exception | SendReceipt = await adapter.send(MESSAGE)
        except (PermanentError, TransientError) as exc:
            outcome = exc
        await adapter.close()
    return outcome, seen


async def test_the_adapter_sends_the_documented_template_request() -> None:
    ok = respond(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.9"}]})
    receipt, seen = await _sent(ok)
    assert isinstance(receipt, SendReceipt)
    assert (receipt.provider, receipt.provider_message_id) == ("whatsapp-cloud", "wamid.9")
    (request,) = seen
    assert request.path == "/v21.0/1234567890/messages"
    assert request.headers["Authorization"] == "Bearer token-1"
    assert json.loads(request.body) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "template",
        "biz_opaque_callback_data": "p1|welcome|once|whatsapp",
        "template": {
            "name": "bebas_welcome",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ibu Sri"},
                        {"type": "text", "text": "-"},
                    ],
                }
            ],
        },
    }


async def test_the_adapter_reports_not_on_whatsapp_with_an_sms_fallback() -> None:
    absent, _ = await _sent(respond(400, _error(131026)))
    assert isinstance(absent, PermanentError)
    assert absent.fallback == "sms"
    unknown, _ = await _sent(respond(404, _error(132001)))
    assert isinstance(unknown, PermanentError)
    assert unknown.fallback is None


async def test_the_adapter_reports_rate_limits_as_transient_with_the_hint() -> None:
    limited, _ = await _sent(respond(429, _error(130429), headers={"Retry-After": "7"}))
    assert isinstance(limited, TransientError)
    assert limited.retry_after == 7.0
    adapter = WhatsAppCloud(REFUSED, "1234567890", "token-1")
    with pytest.raises(PermanentError, match="only sends WhatsAppMessage"):
        await adapter.send(SmsMessage(key="k", to="+62811", text="t", sender="S"))
