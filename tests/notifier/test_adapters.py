"""Channel adapters: the SMS gateway and Twilio contracts against a real local HTTP server
standing in for the provider (`http_stub`), and SMTP against a real aiosmtpd server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiosmtpd.controller import Controller

from services.common.ports import free_port
from services.notifier.adapters.http_post import HttpFailure, HttpPoster
from services.notifier.adapters.sms_http import JsonSmsGateway
from services.notifier.adapters.smtp import SmtpChannel, message_id_for
from services.notifier.adapters.twilio import TwilioSms
from services.notifier.domain.model import EmailMessage, SmsMessage
from services.notifier.ports import PermanentError, TransientError
from tests.notifier.http_stub import (
    REFUSED,
    UNROUTABLE,
    closes_mid_answer,
    no_answer,
    provider,
    raw_provider,
    respond,
    trickles,
)

SMS = SmsMessage(key="P1|welcome|once|sms", to="+6281234567890", text="Halo", sender="BEBAS")
MAIL = EmailMessage(
    key="P1|welcome|once|email",
    to="sri@example.id",
    sender="no-reply@bebas.example",
    subject="Halo",
    text="Halo Sri\n",
    html="<p>Halo Sri</p>",
    headers={"X-Bebas-Notification-Key": "P1|welcome|once|email"},
)


def gateway(url: str, timeout: float = 5.0) -> JsonSmsGateway:
    return JsonSmsGateway(url, "secret", rate_per_second=1000, timeout=timeout)


async def test_sms_request_shape_and_accepted_answer() -> None:
    async with provider(respond(202, {"message_id": "gw-1", "status": "accepted"})) as (url, seen):
        adapter = gateway(url)
        receipt = await adapter.send(SMS)
        await adapter.close()
    assert receipt.provider_message_id == "gw-1"
    assert (seen[0].method, seen[0].path) == ("POST", "/v1/messages")
    assert seen[0].headers["X-API-Key"] == "secret"
    assert json.loads(seen[0].body) == {
        "to": "+6281234567890",
        "text": "Halo",
        "sender": "BEBAS",
        "reference": "P1|welcome|once|sms",
    }


async def test_sms_connections_are_reused() -> None:
    async with provider(respond(202, {"message_id": "gw-1"})) as (url, seen):
        adapter = gateway(url)
        for _ in range(3):
            await adapter.send(SMS)
        await adapter.close()
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (500, {}, TransientError, None),
        (503, {}, TransientError, None),
        (429, {"Retry-After": "12"}, TransientError, 12.0),
        (429, {"retry-after": "3"}, TransientError, 3.0),  # header names in any case
        (408, {}, TransientError, None),
        (400, {}, PermanentError, None),
        (422, {}, PermanentError, None),
        (401, {}, PermanentError, None),
    ],
)
async def test_sms_error_classification(
    status: int, headers: dict[str, str], error: type[Exception], retry_after: float | None
) -> None:
    async with provider(respond(status, {"error": "x"}, headers)) as (url, _):
        adapter = gateway(url)
        with pytest.raises(error) as caught:
            await adapter.send(SMS)
        await adapter.close()
    if isinstance(caught.value, TransientError):
        assert caught.value.retry_after == retry_after
    assert f"HTTP {status}" in str(caught.value)


async def test_sms_network_errors_are_transient() -> None:
    for url in (REFUSED, UNROUTABLE):
        adapter = gateway(url, timeout=0.5)
        with pytest.raises(TransientError):
            await adapter.send(SMS)
        await adapter.close()
    for behaviour in (no_answer, closes_mid_answer):
        async with raw_provider(behaviour) as url:
            adapter = gateway(url, timeout=0.5)
            with pytest.raises(TransientError):
                await adapter.send(SMS)
            await adapter.close()


async def test_a_request_that_never_left_says_so() -> None:
    """Waiting in vain for a connection is not sending: the next provider may take it."""
    async with raw_provider(trickles) as url:
        poster = HttpPoster(url, timeout=0.3, connections=1)
        first = asyncio.create_task(poster.post("/v1/messages", json={}))
        await asyncio.sleep(0.05)  # the first request holds the only connection for a second
        with pytest.raises(HttpFailure) as waited:
            await poster.post("/v1/messages", json={})
        assert (await first).status == 200
        await poster.close()
    assert (waited.value.sent, waited.value.timeout) == (False, True)


async def test_a_request_sent_but_unanswered_says_so() -> None:
    async with raw_provider(no_answer) as url:
        poster = HttpPoster(url, timeout=0.3)
        with pytest.raises(HttpFailure) as unanswered:
            await poster.post("/v1/messages", json={})
        await poster.close()
    assert (unanswered.value.sent, unanswered.value.timeout) == (True, True)


async def test_sms_channel_refuses_an_email() -> None:
    with pytest.raises(PermanentError):
        await gateway(REFUSED).send(MAIL)


async def test_twilio_compatible_request() -> None:
    async with provider(respond(201, {"sid": "SM1"})) as (url, seen):
        twilio = TwilioSms(url, "AC1", "tok", rate_per_second=9)
        assert (await twilio.send(SMS)).provider_message_id == "SM1"
        await twilio.close()
    assert seen[0].path == "/2010-04-01/Accounts/AC1/Messages.json"
    assert b"To=%2B6281234567890" in seen[0].body
    assert seen[0].headers["Authorization"].startswith("Basic ")
    assert b"StatusCallback" not in seen[0].body  # no public URL: no status callbacks


async def test_twilio_asks_for_status_callbacks_carrying_the_key() -> None:
    async with provider(respond(201, {"sid": "SM1"})) as (url, seen):
        twilio = TwilioSms(url, "AC1", "tok", callback_url="https://sms-callbacks.example.go.id/")
        await twilio.send(SMS)
        await twilio.close()
    form = dict(parse_qsl(seen[0].body.decode()))
    # Twilio has no client reference: the key rides in the URL its signature covers
    assert form["StatusCallback"] == (
        "https://sms-callbacks.example.go.id/receipts?reference=P1%7Cwelcome%7Conce%7Csms"
    )


class Recorder:
    def __init__(self, answer: str = "250 OK") -> None:
        self.answer = answer
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return self.answer


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Recorder]]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, recorder
    controller.stop()


async def test_smtp_sends_multipart_with_deterministic_message_id(
    smtp_server: tuple[Controller, Recorder],
) -> None:
    controller, recorder = smtp_server
    channel = SmtpChannel("127.0.0.1", controller.port, timeout=5)
    receipt = await channel.send(MAIL)
    assert receipt.provider_message_id == message_id_for(MAIL.key)
    raw = recorder.envelopes[0].content.decode()
    assert "multipart/alternative" in raw
    assert f"Message-ID: {message_id_for(MAIL.key)}" in raw
    assert "X-Bebas-Notification-Key: P1|welcome|once|email" in raw
    assert recorder.envelopes[0].rcpt_tos == ["sri@example.id"]


@pytest.mark.parametrize(
    ("answer", "error"), [("550 no such user", PermanentError), ("451 try later", TransientError)]
)
async def test_smtp_error_classification(
    smtp_server: tuple[Controller, Recorder], answer: str, error: type[Exception]
) -> None:
    controller, recorder = smtp_server
    recorder.answer = answer
    with pytest.raises(error):
        await SmtpChannel("127.0.0.1", controller.port, timeout=5).send(MAIL)


async def test_smtp_server_down_is_transient() -> None:
    with pytest.raises(TransientError):
        await SmtpChannel("127.0.0.1", free_port(), timeout=2).send(MAIL)


async def test_rate_limiter_spaces_sends_after_the_burst() -> None:
    from services.notifier.adapters.ratelimit import RateLimiter

    now = [0.0]
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(2.0, burst=2, monotonic=lambda: now[0], sleep=fake_sleep)
    for _ in range(5):
        await limiter.acquire()
    assert waits == [0.5, 0.5, 0.5]  # two at once, then one every 1/rate seconds
    assert now[0] == 1.5
