"""A local SMS gateway speaking the generic JSON contract (see adapters/sms_http.py).

Stores every accepted SMS as one JSON line in `<data-dir>/sms.jsonl`, every request (also
rejected and duplicate ones) in `<data-dir>/requests.jsonl`, and lists them:
`GET /messages`, `GET /requests`, `GET /healthz`.

Test knobs (`POST /control`, JSON) make it misbehave for a while, like a real provider:
  {"status": 500, "count": 2}                 answer HTTP 500 to the next 2 requests
  {"status": 429, "count": 1, "retry_after": 1}
  {"status": 400, "count": -1, "to": "+62..."} always 400 for that number (-1 = forever)
  {"delay": 10, "count": 1}                   hold the next request 10 s (client timeout)
  {"reset": true}                             forget every knob
With `--receipt-url`, it posts a delivery receipt for every accepted SMS to that URL; with
`--inbound-url`, `POST /inbound {"from": "+62…", "text": "STOP"}` passes a reply on to that
URL, as a provider does when a person answers. Both are signed like a real gateway's callbacks
(X-Bebas-Timestamp, X-Bebas-Signature: services/notifier/domain/signatures.py) with
`--callback-secret` (or SMS_GATEWAY_CALLBACK_SECRET), the notifier's NOTIFIER_SMS_CALLBACK_SECRET.

Run: python -m services.notifier.sinks.sms_gateway --port 8025 --data-dir data/sinks
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from services.notifier.domain.signatures import signed_headers
from services.notifier.sinks.jsonl import append_line, now_iso, read_lines

log = logging.getLogger("services.notifier.sinks.sms_gateway")
# how long a delivery receipt is offered to the notifier before the gateway gives up
RECEIPT_RETRY_FOR_S = 900.0
#: receipt posts under way at once. Unbounded, thousands of receipts queued in httpx's pool
#: while the notifier restarted, and the pool's scan of its queue on every request kept the
#: gateway at 100 % CPU for minutes (py-spy, reliability notifier_sigkill_x3)
RECEIPT_POSTS_AT_ONCE = 16

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class Fault:
    status: int | None = None
    delay: float = 0.0
    count: int = 1  # -1: forever
    to: str | None = None
    retry_after: float | None = None

    def applies(self, to: str) -> bool:
        return self.count != 0 and (self.to is None or self.to == to)


@dataclass
class Gateway:
    data_dir: Path
    api_key: str | None = None
    receipt_url: str | None = None
    inbound_url: str | None = None
    callback_secret: bytes = b""
    faults: list[Fault] = field(default_factory=list)
    by_reference: dict[str, str] = field(default_factory=dict)
    #: when each message was delivered (at once, here): a repeated receipt says the same time,
    #: as a provider reporting a delivery again does
    delivered_at: dict[str, str] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None
    _posting: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(RECEIPT_POSTS_AT_ONCE)
    )

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for line in read_lines(self.sms_file):
            if line.get("reference"):
                self.by_reference[line["reference"]] = line["message_id"]
                self.delivered_at[line["message_id"]] = line["received_at"]

    @property
    def sms_file(self) -> Path:
        return self.data_dir / "sms.jsonl"

    @property
    def requests_file(self) -> Path:
        return self.data_dir / "requests.jsonl"

    def take_fault(self, to: str) -> Fault | None:
        for fault in self.faults:
            if fault.applies(to):
                if fault.count > 0:
                    fault.count -= 1
                return fault
        return None

    async def send(self, request: web.Request) -> web.Response:
        if self.api_key is not None and request.headers.get("X-API-Key") != self.api_key:
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        to, text = str(body.get("to", "")), body.get("text")
        reference = body.get("reference")
        outcome = await self._decide(to, text)
        append_line(self.requests_file, {**body, "outcome": outcome[0], "at": now_iso()})
        if outcome[1] is not None:
            return outcome[1]
        if reference and reference in self.by_reference:
            # A resend is a sender that does not know what became of its message (after a
            # crash, or rebuilding on a new local broker): it hears of the delivery again.
            self._offer_receipt(self.by_reference[reference], reference)
            return web.json_response(
                {
                    "message_id": self.by_reference[reference],
                    "status": "accepted",
                    "duplicate": True,
                }
            )
        message_id = f"gw-{uuid.uuid4().hex[:16]}"
        received_at = now_iso()
        record = {
            "message_id": message_id,
            "to": to,
            "text": text,
            "sender": body.get("sender"),
            "reference": reference,
            "received_at": received_at,
        }
        append_line(self.sms_file, record)
        if reference:
            self.by_reference[reference] = message_id
        self.delivered_at[message_id] = received_at
        self._offer_receipt(message_id, reference)
        return web.json_response(
            {"message_id": message_id, "status": "accepted", "duplicate": False}, status=202
        )

    def _offer_receipt(self, message_id: str, reference: str | None) -> None:
        if self.receipt_url:
            task = asyncio.create_task(self._receipt(message_id, reference))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _decide(self, to: str, text: Any) -> tuple[str, web.Response | None]:
        fault = self.take_fault(to)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                response = web.json_response(
                    {"error": "injected", "status": fault.status},
                    status=fault.status,
                    headers=headers,
                )
                return f"injected {fault.status}", response
        if not E164.match(to):
            return "invalid_number", web.json_response(
                {"error": "invalid_number", "detail": f"{to!r} is not E.164"}, status=400
            )
        if not isinstance(text, str) or not text:
            return "invalid_text", web.json_response(
                {"error": "invalid_text", "detail": "text must be a non-empty string"},
                status=400,
            )
        return "accepted", None

    async def _receipt(self, message_id: str, reference: str | None) -> None:
        assert self.receipt_url is not None
        payload = {
            "message_id": message_id,
            "reference": reference,
            "status": "delivered",
            # a receipt offered again after a resend (a rebuilt notifier) keeps the delivery's
            # time: reporting dates the outcome by it, so its day does not move
            "at": self.delivered_at.get(message_id) or now_iso(),
        }
        # like real providers, keep offering a receipt while the notifier restarts, recovers
        # or rejoins its group (it answers 503 until ready): backoff 1 s doubling to 30 s
        delay, deadline = 1.0, time.monotonic() + RECEIPT_RETRY_FOR_S
        while True:
            try:
                async with self._posting:
                    response = await self._callback(self.receipt_url, payload)
                if response.status_code == 401:
                    log.warning("the notifier refused the receipt's signature: %s", response.text)
                if response.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() + delay > deadline:
                log.warning("gave up posting the receipt of %s (%s)", message_id, reference)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _callback(self, url: str, payload: dict[str, Any]) -> httpx.Response:
        """POST `payload` to the notifier, signed afresh (each retry gets a new timestamp)."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5)
        body = json.dumps(payload).encode()
        headers = signed_headers(self.callback_secret, body, int(time.time()))
        headers["Content-Type"] = "application/json"
        return await self._client.post(url, content=body, headers=headers)

    async def inbound(self, request: web.Request) -> web.Response:
        """A person's reply, passed on to the notifier once; answers what the notifier said."""
        if self.inbound_url is None:
            return web.json_response({"error": "no --inbound-url"}, status=404)
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        reply = {"from": str(body.get("from", "")), "text": str(body.get("text", ""))}
        try:
            response = await self._callback(self.inbound_url, reply)
        except httpx.HTTPError as exc:
            detail = {"error": "notifier_unreachable", "detail": repr(exc)}
            return web.json_response(detail, status=502)
        answer = {"notifier_status": response.status_code, "notifier_answer": response.text}
        return web.json_response(answer)

    async def control(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("reset"):
            self.faults.clear()
        else:
            self.faults.append(
                Fault(
                    status=body.get("status"),
                    delay=float(body.get("delay", 0)),
                    count=int(body.get("count", 1)),
                    to=body.get("to"),
                    retry_after=body.get("retry_after"),
                )
            )
        return web.json_response({"faults": len(self.faults)})

    async def messages(self, request: web.Request) -> web.Response:
        return web.json_response(read_lines(self.sms_file))

    async def requests(self, request: web.Request) -> web.Response:
        return web.json_response(read_lines(self.requests_file))

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self.send)
        app.router.add_post("/control", self.control)
        app.router.add_post("/inbound", self.inbound)
        app.router.add_get("/messages", self.messages)
        app.router.add_get("/requests", self.requests)
        app.router.add_get("/healthz", self.healthz)
        return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local JSON SMS gateway (stores, never sends)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--data-dir", type=Path, default=Path("data/sinks"))
    parser.add_argument("--api-key", default=os.environ.get("SMS_GATEWAY_API_KEY"))
    parser.add_argument("--receipt-url", default=None)
    parser.add_argument("--inbound-url", default=None)
    parser.add_argument(
        "--callback-secret",
        default=os.environ.get("SMS_GATEWAY_CALLBACK_SECRET"),
        help="signs receipts and replies (the notifier's NOTIFIER_SMS_CALLBACK_SECRET)",
    )
    args = parser.parse_args(argv)
    if (args.receipt_url or args.inbound_url) and not args.callback_secret:
        parser.error(
            "--receipt-url and --inbound-url need --callback-secret: unsigned "
            "callbacks are refused by the notifier"
        )
    gateway = Gateway(
        args.data_dir,
        api_key=args.api_key,
        receipt_url=args.receipt_url,
        inbound_url=args.inbound_url,
        callback_secret=(args.callback_secret or "").encode(),
    )
    web.run_app(gateway.app(), host=args.host, port=args.port, print=None)


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    """The request's JSON object, or the 400 that says it is not one."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return web.json_response({"error": "bad_request", "detail": "not JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "bad_request"}, status=400)
    return body


if __name__ == "__main__":
    main()
