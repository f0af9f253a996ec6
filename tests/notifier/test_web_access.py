"""The notifier's HTTP server in process (no broker: a refusal never reaches it): callbacks pass
only when signed, for the generic gateway and for Twilio, the participant view needs an
admin key, and an unsubscribe link acts only on POST with a token this service signed. The
service's request methods are recorded by a fake of the notifier's own service; the
real-broker proof that a refusal changes nothing is in test_flow.py."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.common.apikeys import key_digest
from services.common.clock import FrozenClock
from services.common.kafka_settings import KafkaSettings
from services.notifier.bootstrap import create_app
from services.notifier.domain.signatures import signed_headers, twilio_signature
from services.notifier.domain.unsubscribe import sign
from services.notifier.service import NotifierService
from services.notifier.settings import Settings
from services.notifier.web import build_web
from services.notifier.work import Receipt

SECRET = "web-test-callback-secret-2b7e"
TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://sms-callbacks.example.go.id"
ADMIN = "bck_web-test-admin-key-0123456789"
KEY = "P1|welcome|once|sms"


class Requests:
    """Records what the web layer asked the service to do."""

    def __init__(self, service: NotifierService) -> None:
        self.partitioning, self.state = service.partitioning, service.state
        self.clock = FrozenClock(NOW)
        self.receipts: list[Receipt] = []
        self.stops: list[tuple[str, str]] = []
        self.unsubscribes: list[tuple[str, str]] = []

    async def request_unsubscribe(self, participant_id: str, channel: str) -> None:
        self.unsubscribes.append((participant_id, channel))

    async def request_receipt(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)

    async def request_stop(self, phone: str, word: str) -> None:
        self.stops.append((phone, word))


NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
LINK_KEY = "web-test-unsubscribe-link-key"
PID = "0b9f6c1e-3f47-4d3a-9a57-4f1c9d0e2a11"


async def _client(settings: Settings) -> tuple[TestClient[Any, Any], Requests]:
    notifier = create_app(settings, KafkaSettings())
    requests = Requests(notifier.service)
    notifier = dataclasses.replace(notifier, service=cast(NotifierService, requests))
    client: TestClient[Any, Any] = TestClient(TestServer(build_web(notifier, None)))
    await client.start_server()
    return client, requests


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Requests]]:
    settings = Settings(
        data_dir=tmp_path,
        sms_callback_secret=SECRET,
        admin_key_hashes=key_digest(ADMIN),
        unsubscribe_url="http://127.0.0.1:8001/unsubscribe",
        unsubscribe_secret=LINK_KEY,
    )
    client, requests = await _client(settings)
    yield client, requests
    await client.close()


@pytest.fixture
async def twilio(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Requests]]:
    settings = Settings(
        data_dir=tmp_path,
        sms_provider="twilio",
        twilio_account_sid="AC1",
        sms_api_key=TOKEN,
        sms_callback_url=PUBLIC,
    )
    client, requests = await _client(settings)
    yield client, requests
    await client.close()


def _signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    headers = signed_headers(secret.encode(), body, int(time.time() if at is None else at))
    return {**headers, "Content-Type": "application/json"}


RECEIPT = json.dumps({"reference": KEY, "message_id": "gw-1", "status": "delivered"}).encode()
STOP = json.dumps({"from": "+6281234567890", "text": "STOP"}).encode()


@pytest.mark.parametrize("path", ["/receipts", "/inbound-sms"])
@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        _signed(RECEIPT, secret="not-the-shared-secret-0000"),
        _signed(STOP, secret="not-the-shared-secret-0000"),
        _signed(RECEIPT, at=time.time() - 3600),
        _signed(STOP, at=time.time() - 3600),
        _signed(b"{}"),
    ],
    ids=[
        "unsigned",
        "receipt-wrong-secret",
        "stop-wrong-secret",
        "receipt-old",
        "stop-old",
        "other-body",
    ],
)
async def test_a_callback_not_signed_by_the_gateway_is_refused_and_requests_nothing(
    gateway: tuple[TestClient[Any, Any], Requests], path: str, headers: dict[str, str]
) -> None:
    client, requests = gateway
    body = RECEIPT if path == "/receipts" else STOP
    response = await client.post(path, data=body, headers=headers)
    assert response.status == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers["WWW-Authenticate"] == "X-Bebas-Signature"
    problem = await response.json()
    assert problem["status"] == 401
    assert "X-Bebas-" in problem["detail"]
    assert requests.receipts == []
    assert requests.stops == []
    metrics = await (await client.get("/metrics")).text()
    assert f'notifier_http_refused_total{{route="{path}"}} 1.0' in metrics


async def test_signed_callbacks_of_the_gateway_are_taken(
    gateway: tuple[TestClient[Any, Any], Requests],
) -> None:
    client, requests = gateway
    receipt = await client.post("/receipts", data=RECEIPT, headers=_signed(RECEIPT))
    assert receipt.status == 202
    stop = await client.post("/inbound-sms", data=STOP, headers=_signed(STOP))
    assert stop.status == 202
    assert [(r.reference, r.message_id, r.status) for r in requests.receipts] == [
        (KEY, "gw-1", "delivered")
    ]
    assert requests.stops == [("+6281234567890", "STOP")]


def _twilio_post(
    path: str, form: dict[str, str], token: str = TOKEN
) -> tuple[str, bytes, dict[str, str]]:
    body = urlencode(form).encode()
    signature = twilio_signature(token, PUBLIC + path, form.items())
    headers = {"X-Twilio-Signature": signature}
    return path, body, {**headers, "Content-Type": "application/x-www-form-urlencoded"}


STATUS_PATH = "/receipts?reference=P1%7Cwelcome%7Conce%7Csms"


async def test_twilio_callbacks_are_checked_against_the_public_url(
    twilio: tuple[TestClient[Any, Any], Requests],
) -> None:
    client, requests = twilio
    delivered = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+6281234567890"}
    reply = {"From": "+6281234567890", "Body": "berhenti", "MessageSid": "SM2"}
    refused = [
        _twilio_post(STATUS_PATH, delivered, token="not-the-auth-token"),
        # signed for another participant's message: the reference is part of the URL
        (STATUS_PATH.replace("P1", "P2"), *_twilio_post(STATUS_PATH, delivered)[1:]),
        _twilio_post("/inbound-sms", reply, token="not-the-auth-token"),
    ]
    for path, body, headers in refused:
        response = await client.post(path, data=body, headers=headers)
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"] == "X-Twilio-Signature"
    unsigned = await client.post("/inbound-sms", data=urlencode(reply))
    assert unsigned.status == 401
    assert requests.receipts == []
    assert requests.stops == []

    for path, form in ((STATUS_PATH, delivered), ("/inbound-sms", reply)):
        path, body, headers = _twilio_post(path, form)
        assert (await client.post(path, data=body, headers=headers)).status == 202
    assert [(r.reference, r.message_id, r.status) for r in requests.receipts] == [
        (KEY, "SM1", "delivered")
    ]
    assert requests.stops == [("+6281234567890", "BERHENTI")]
    # a progress report (sent, queued…) is acknowledged and changes nothing
    path, body, headers = _twilio_post(STATUS_PATH, {**delivered, "MessageStatus": "sent"})
    response = await client.post(path, data=body, headers=headers)
    assert response.status == 200
    assert await response.json() == {"action": "none"}
    assert len(requests.receipts) == 1


@pytest.mark.parametrize(
    "authorization",
    [None, f"Basic {ADMIN}", "Bearer bck_a-viewer-key-0123456789", f"Bearer {key_digest(ADMIN)}"],
)
async def test_the_participant_view_needs_an_admin_key(
    gateway: tuple[TestClient[Any, Any], Requests], authorization: str | None
) -> None:
    client, _ = gateway
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/participants/P1/notifications", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await response.json())["title"] == "Admin API key missing or not valid"


async def test_an_admin_key_opens_the_participant_view(
    gateway: tuple[TestClient[Any, Any], Requests],
) -> None:
    client, _ = gateway
    headers = {"Authorization": f"Bearer {ADMIN}"}
    response = await client.get("/participants/P1/notifications", headers=headers)
    # past the key check: this worker owns no partition yet, so it says where to ask
    assert response.status == 404
    assert (await response.json())["title"] == "Not on this worker"


def _token(days: float = 60, key: str = LINK_KEY) -> str:
    return sign(key.encode(), PID, "email", NOW + timedelta(days=days))


ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def test_an_unsubscribe_link_shows_a_page_and_only_its_post_unsubscribes(
    gateway: tuple[TestClient[Any, Any], Requests],
) -> None:
    client, requests = gateway
    url = f"/unsubscribe?token={_token()}"
    page = await client.get(url)  # what a mail scanner following the link does
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    html = await page.text()
    assert '<html lang="id">' in html
    assert "Berhenti berlangganan" in html
    assert '<form method="post" action="">' in html  # the button posts to the same URL
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in html
    assert requests.unsubscribes == []

    # RFC 8058: the mail provider POSTs List-Unsubscribe=One-Click, form-encoded or multipart
    done = await client.post(url, data=ONE_CLICK)
    assert done.status == 200
    assert "sudah kami terima" in await done.text()
    assert requests.unsubscribes == [(PID, "email")]


async def test_a_post_without_the_one_click_field_changes_nothing(
    gateway: tuple[TestClient[Any, Any], Requests],
) -> None:
    client, requests = gateway
    for body in ({}, {"List-Unsubscribe": "yes"}):
        response = await client.post(f"/unsubscribe?token={_token()}", data=body)
        assert response.status == 400
        assert "List-Unsubscribe" in await response.text()
    assert requests.unsubscribes == []


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("", 400, "missing"),
        ("?token=", 400, "missing"),
        (f"?token={_token(days=-1)}", 410, "kedaluwarsa"),
        (f"?token={_token(key='a-key-this-service-never-had')}", 403, "signature does not match"),
        (f"?token={_token()[:-3]}", 403, "tidak lengkap"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_bad_or_expired_link_says_why_and_changes_nothing(
    gateway: tuple[TestClient[Any, Any], Requests], method: str, query: str, status: int, says: str
) -> None:
    client, requests = gateway
    response = await client.request(method, f"/unsubscribe{query}", data=ONE_CLICK)
    assert response.status == status
    assert says in await response.text()
    assert requests.unsubscribes == []
    metrics = await (await client.get("/metrics")).text()
    assert 'notifier_http_refused_total{route="/unsubscribe"} 1.0' in metrics


async def test_without_a_link_key_there_is_no_unsubscribe_door(
    twilio: tuple[TestClient[Any, Any], Requests],
) -> None:
    client, requests = twilio
    response = await client.post(f"/unsubscribe?token={_token()}", data=ONE_CLICK)
    assert response.status == 404
    assert requests.unsubscribes == []
