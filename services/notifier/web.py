"""The notifier's own small HTTP server (aiohttp, inside the worker process).

faust's built-in web server would also publish faust's internal routes; this one exposes only:
GET /healthz, GET /readyz, GET /metrics, POST /receipts (provider delivery receipts),
POST /inbound-sms (replies: "STOP"/"BERHENTI" opt the sender out of SMS),
GET /participants/{id}/notifications, GET /messages (what the local sinks received).
Errors are RFC 9457 problem+json naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.events import NotificationDeliveredV1, NotificationFailedV1
from services.notifier.domain.keys import NotificationKey
from services.notifier.listing import read_sinks
from services.notifier.metrics import Metrics
from services.notifier.service import STOP_WORDS, NotifierService


class Receipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str = Field(min_length=1, description="the notification key we sent")
    message_id: str | None = None
    status: Literal["delivered", "failed", "undelivered"] = "delivered"
    at: datetime | None = None


class InboundSms(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    sender: str = Field(alias="from", pattern=r"^\+[1-9]\d{6,14}$")
    text: str = Field(max_length=1600)


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/problem+json"
    )


def _invalid(exc: ValidationError) -> web.Response:
    errors = [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid request body", detail, errors=errors)


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"title": "Body is not JSON", "status": 400, "detail": str(exc)}),
            content_type="application/problem+json",
        ) from exc


def build_web(
    service: NotifierService,
    metrics: Metrics,
    unready_reason: Callable[[], str | None],
    stuck_reason: Callable[[], str | None],
    sink_dir: Path | None,
    refresh_gauges: Callable[[], None],
    on_change: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/healthz")
    async def healthz(request: web.Request) -> web.Response:
        reason = stuck_reason()
        if reason is None:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "stuck", "reason": reason}, status=503)

    def ready() -> bool:
        return unready_reason() is None

    @routes.get("/readyz")
    async def readyz(request: web.Request) -> web.Response:
        reason = unready_reason()
        if reason is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": reason}, status=503)

    @routes.get("/metrics")
    async def prometheus(request: web.Request) -> web.Response:
        refresh_gauges()
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @routes.post("/receipts")
    async def receipts(request: web.Request) -> web.Response:
        if not ready():
            return problem(503, "Not ready", "tables are still recovering; retry shortly")
        try:
            receipt = Receipt.model_validate(await _body(request))
            NotificationKey.parse(receipt.reference)
        except ValidationError as exc:
            return _invalid(exc)
        except ValueError as exc:
            return problem(422, "Invalid request body", f"reference: {exc}")
        facts = service.facts_for_key(receipt.reference)
        at = receipt.at or datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if receipt.status == "delivered":
            await service.emit(
                NotificationDeliveredV1(
                    **facts.model_dump(), provider_message_id=receipt.message_id, delivered_at=at
                ),
                facts.participant_id,
            )
        else:
            await service.emit(
                NotificationFailedV1(
                    **facts.model_dump(),
                    reason=f"provider receipt: {receipt.status}",
                    permanent=True,
                    failed_at=at,
                ),
                facts.participant_id,
            )
        return web.json_response({"accepted": True}, status=202)

    @routes.post("/inbound-sms")
    async def inbound(request: web.Request) -> web.Response:
        if not ready():
            return problem(503, "Not ready", "tables are still recovering; retry shortly")
        try:
            sms = InboundSms.model_validate(await _body(request))
        except ValidationError as exc:
            return _invalid(exc)
        word = sms.text.strip().upper().split()[0] if sms.text.strip() else ""
        if word not in STOP_WORDS:
            return web.json_response({"action": "none"})
        pid = service.participant_for_phone(sms.sender)
        if pid is None:
            return problem(404, "Unknown sender", f"from: no participant has {sms.sender}")
        service.opt_out(pid, ["sms"])
        if on_change:
            await on_change()
        return web.json_response({"action": "opted_out", "participant_id": pid, "channel": "sms"})

    @routes.get("/participants/{pid}/notifications")
    async def notifications(request: web.Request) -> web.Response:
        pid = request.match_info["pid"]
        prefix = f"{pid}|"
        sent = {k: v for k, v in service.s.sent.items() if k.startswith(prefix)}
        queued = {k: v for k, v in service.s.outbox.items() if k.startswith(prefix)}
        person = service.s.participants.get(pid)
        if person is None and not sent:
            return problem(404, "Unknown participant", f"id: no participant {pid!r} here")
        return web.json_response(
            {
                "participant_id": pid,
                "opted_out": (person or {}).get("opted_out", []),
                "paid_periods": (person or {}).get("paid_periods", []),
                "schedule": service.s.schedule.get(pid),
                "sent": sent,
                "queued": queued,
            }
        )

    @routes.get("/messages")
    async def messages(request: web.Request) -> web.Response:
        if sink_dir is None:
            return problem(404, "No local sinks", "NOTIFIER_SINK_DIR is not set")
        sinks = read_sinks(sink_dir)
        pid = request.query.get("participant")
        if pid:
            prefix = f"{pid}|"
            sinks = {
                "sms": [m for m in sinks["sms"] if str(m.get("reference", "")).startswith(prefix)],
                "email": [
                    m
                    for m in sinks["email"]
                    if str(m.get("notification_key", "")).startswith(prefix)
                ],
            }
        return web.json_response(sinks)

    app = web.Application()
    app.add_routes(routes)
    return app
