"""A local WhatsApp Business Cloud API: takes template messages like Meta's, stores, never sends.

`POST /{version}/{phone-number-id}/messages` checks what the Cloud API checks — the bearer
token, the request's shape, that the template is registered (our approved copies,
`services/notifier/templates/whatsapp/`, under the names of `--templates`, default
`bebas_<kind>`) and gets as many body parameters as it has placeholders — and answers with the
Cloud API's own shapes and error codes. Every accepted message is one JSON line in
`<data-dir>/whatsapp.jsonl` with the text the person would read; a message whose
`biz_opaque_callback_data` (the notifier's key) was taken before is kept once, like a chat
shows one bubble per message, and the repeat is logged in `whatsapp-duplicates.jsonl` and
answered as that message (its id; its statuses dated when it first came).

With `--webhook-url` and `--app-secret` it posts status webhooks as Meta does, signed with
`X-Hub-Signature-256`: `sent` then `delivered`, or, for a number that is not on WhatsApp,
`failed` with error 131026 (the send itself is accepted: that is how the Cloud API reports
it). Which numbers are not on WhatsApp: `--absent +62…` (repeatable), or
`POST /control {"absent": "+62…"}`; `{"status": 503, "count": 2}` fails the next two sends
with a Cloud API service error; `{"reset": true}` forgets both.

`GET /messages`, `GET /healthz`.
Run: python -m services.notifier.sinks.whatsapp_sink --port 8026 --data-dir data/sinks
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
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from services.notifier.domain.whatsapp import LANGUAGE_CODES, signature, template_names
from services.notifier.sinks.jsonl import append_line, now_iso, read_lines

log = logging.getLogger("services.notifier.sinks.whatsapp_sink")
TEMPLATE_DIR = Path(__file__).parent.parent / "templates" / "whatsapp"
PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")
WEBHOOK_RETRY_FOR_S = 900.0


def approved_templates(names_json: str = "") -> dict[tuple[str, str], str]:
    """(registered name, language code) -> approved body text, from our copies."""
    bodies: dict[tuple[str, str], str] = {}
    for (kind, language), name in template_names(names_json).items():
        path = TEMPLATE_DIR / f"{kind}.{language}.txt"
        bodies[(name, LANGUAGE_CODES[language])] = path.read_text(encoding="utf-8").strip()
    return bodies


def placeholders(body: str) -> int:
    return len(set(PLACEHOLDER.findall(body)))


def fill(body: str, values: list[str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[int(m.group(1)) - 1], body)


def error(status: int, code: int, message: str, details: str = "") -> web.Response:
    """The Cloud API's error shape."""
    body = {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or message},
            "fbtrace_id": uuid.uuid4().hex[:20],
        }
    }
    return web.json_response(body, status=status)


@dataclass
class CloudApi:
    data_dir: Path
    token: str
    templates: dict[tuple[str, str], str]
    webhook_url: str | None = None
    app_secret: bytes = b""
    absent: set[str] = field(default_factory=set)
    failures: list[int] = field(default_factory=list)  # HTTP status of the next sends
    by_reference: dict[str, str] = field(default_factory=dict)
    #: reference -> when its first send arrived: a status about a repeat reports that time
    first_at: dict[str, str] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for line in read_lines(self.messages_file):
            if line.get("reference"):
                self.by_reference[line["reference"]] = line["message_id"]
                self.first_at[line["reference"]] = line["received_at"]

    @property
    def messages_file(self) -> Path:
        return self.data_dir / "whatsapp.jsonl"

    async def send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return error(401, 190, "Invalid OAuth access token")
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return error(400, 100, "Invalid parameter", "the body is not JSON")
        if self.failures:
            status = self.failures.pop(0)
            return error(status, 131000, "Something went wrong", "injected by /control")
        checked = self._check(body)
        if isinstance(checked, web.Response):
            return checked
        to, reference, text = checked
        # a repeat is the message already taken: its id, and statuses dated when it came (a
        # rebuilt notifier resending across midnight must not move a delivery to the next day)
        taken = self.by_reference.get(reference) if reference else None
        repeat = taken is not None
        message_id = taken or f"wamid.{uuid.uuid4().hex}"
        record = {
            "message_id": message_id,
            "to": f"+{to}",
            "template": body["template"]["name"],
            "language": body["template"]["language"]["code"],
            "parameters": _parameters(body),
            "text": text,
            "reference": reference,
            "on_whatsapp": f"+{to}" not in self.absent,
            "received_at": now_iso(),
        }
        if repeat:
            append_line(self.data_dir / "whatsapp-duplicates.jsonl", record)
        else:
            append_line(self.messages_file, record)
            if reference:
                self.by_reference[reference] = message_id
                self.first_at[reference] = record["received_at"]
        first = self.first_at[reference] if reference else record["received_at"]
        self._offer_statuses({**record, "received_at": first})
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": message_id}],
            }
        )

    def _check(self, body: Any) -> tuple[str, str | None, str] | web.Response:
        """(recipient digits, reference, text the person reads), or the Cloud API's error."""
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return error(400, 100, "Invalid parameter", "messaging_product must be whatsapp")
        to = str(body.get("to", ""))
        if not re.fullmatch(r"[1-9]\d{6,14}", to):
            return error(400, 131009, "Parameter value is not valid", f"to: {to!r}")
        template = body.get("template") if body.get("type") == "template" else None
        if not isinstance(template, dict):
            return error(400, 131047, "Re-engagement message", "only templates may start a chat")
        name = template.get("name")
        language = (template.get("language") or {}).get("code")
        approved = self.templates.get((str(name), str(language)))
        if approved is None:
            return error(
                404, 132001, "Template name does not exist in the translation", f"{name} {language}"
            )
        values = _parameters(body)
        if len(values) != placeholders(approved) or not all(values):
            return error(
                400,
                132000,
                "Number of parameters does not match the expected number of params",
                f"{name} needs {placeholders(approved)}, got {len(values)}",
            )
        if any(re.search(r"[\n\t]| {5,}", v) for v in values):
            return error(400, 132018, "There was an issue with the parameters in your template")
        reference = body.get("biz_opaque_callback_data")
        return to, reference if isinstance(reference, str) else None, fill(approved, values)

    def _offer_statuses(self, record: dict[str, Any]) -> None:
        if self.webhook_url:
            task = asyncio.create_task(self._statuses(record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _statuses(self, record: dict[str, Any]) -> None:
        if record["on_whatsapp"]:
            for status in ("sent", "delivered"):
                await self._webhook(_status(record, status))
            return
        failed = _status(record, "failed")
        failed["errors"] = [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "the recipient is not on WhatsApp"},
            }
        ]
        await self._webhook(failed)

    async def _webhook(self, status: dict[str, Any]) -> None:
        """POST one status as Meta does, again and again while the notifier is away."""
        assert self.webhook_url is not None
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "local-waba",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"phone_number_id": "local"},
                                "statuses": [status],
                            },
                        }
                    ],
                }
            ],
        }
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": ""}
        headers["X-Hub-Signature-256"] = signature(self.app_secret, raw)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5)
        delay, deadline = 1.0, time.monotonic() + WEBHOOK_RETRY_FOR_S
        while True:
            try:
                response = await self._client.post(self.webhook_url, content=raw, headers=headers)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        log.warning("the notifier refused a status: %s", response.text)
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() + delay > deadline:
                log.warning("gave up posting status %s of %s", status["status"], status["id"])
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def control(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("reset"):
            self.absent.clear()
            self.failures.clear()
        if body.get("absent"):
            self.absent.add(str(body["absent"]))
        if body.get("status"):
            self.failures.extend([int(body["status"])] * int(body.get("count", 1)))
        return web.json_response({"absent": sorted(self.absent), "failures": len(self.failures)})

    async def messages(self, request: web.Request) -> web.Response:
        return web.json_response(read_lines(self.messages_file))

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self.send)
        app.router.add_post("/control", self.control)
        app.router.add_get("/messages", self.messages)
        app.router.add_get("/healthz", self.healthz)
        return app


def _parameters(body: dict[str, Any]) -> list[str]:
    values: list[str] = []
    for component in body["template"].get("components") or []:
        if isinstance(component, dict) and component.get("type") == "body":
            for parameter in component.get("parameters") or []:
                values.append(str((parameter or {}).get("text") or ""))
    return values


def _status(record: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "id": record["message_id"],
        "status": status,
        "timestamp": str(int(datetime.fromisoformat(record["received_at"]).timestamp())),
        "recipient_id": record["to"].removeprefix("+"),
        "biz_opaque_callback_data": record["reference"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local WhatsApp Cloud API (stores, never sends)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--data-dir", type=Path, default=Path("data/sinks"))
    parser.add_argument("--token", default=os.environ.get("WHATSAPP_SINK_TOKEN", "local-wa-token"))
    parser.add_argument("--templates", default="", help="as NOTIFIER_WHATSAPP_TEMPLATES")
    parser.add_argument("--webhook-url", default=None, help="the notifier's /webhooks/whatsapp")
    parser.add_argument(
        "--app-secret",
        default=os.environ.get("WHATSAPP_SINK_APP_SECRET"),
        help="signs status webhooks (the notifier's NOTIFIER_WHATSAPP_APP_SECRET)",
    )
    parser.add_argument("--absent", action="append", default=[], help="a number not on WhatsApp")
    args = parser.parse_args(argv)
    if args.webhook_url and not args.app_secret:
        parser.error("--webhook-url needs --app-secret: unsigned webhooks are refused")
    api = CloudApi(
        args.data_dir,
        args.token,
        approved_templates(args.templates),
        webhook_url=args.webhook_url,
        app_secret=(args.app_secret or "").encode(),
        absent=set(args.absent),
    )
    web.run_app(api.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
