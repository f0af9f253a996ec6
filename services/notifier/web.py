"""The notifier's own small HTTP server (aiohttp, inside the worker process).

faust's built-in web server would also publish faust's internal routes; this one exposes only:
GET /healthz, GET /readyz, GET /metrics, POST /receipts (provider delivery receipts),
POST /inbound-sms (replies: STOP/BERHENTI/UNREG ask enrollment to opt the sender out of SMS),
GET|POST /unsubscribe?token=… (an e-mail's one-click unsubscribe, RFC 8058: GET shows a page
with a button and changes nothing, POST asks enrollment to opt the person out of e-mail),
GET|POST /webhooks/whatsapp (the WhatsApp Cloud API's subscription handshake and status
webhooks, signed with the Meta app secret: X-Hub-Signature-256),
GET /participants/{id}/notifications, GET /messages (what the local sinks received).
Errors are RFC 9457 problem+json naming the field (HTML pages at /unsubscribe, for people).

The two callbacks pass only when the provider signed them (`access.py`: X-Bebas-Signature of
the generic gateway, X-Twilio-Signature of Twilio), checked before the body is even parsed;
the participant view needs an admin key. Either refusal is a 401 that changes nothing. An
unsubscribe link passes only with a token this service signed that has not expired (403 for a
broken or forged one, 410 for an expired one); nothing changes either way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.common.problem import PROBLEM_JSON, problem_body
from services.notifier import pages
from services.notifier.access import Callback, twilio_signed
from services.notifier.domain import unsubscribe, whatsapp
from services.notifier.domain.keys import NotificationKey
from services.notifier.domain.replies import stop_word
from services.notifier.domain.signatures import admin_refusal
from services.notifier.listing import of_participant, read_sinks
from services.notifier.work import Receipt as ReceiptWork

if TYPE_CHECKING:
    from services.notifier.bootstrap import Notifier

log = logging.getLogger(__name__)
#: Twilio's MessageStatus values that end a message's story; the others (queued, sending,
#: sent, …) are progress reports, acknowledged and ignored
TWILIO_FINAL = frozenset({"delivered", "undelivered", "failed"})


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
    body = problem_body(status, title, detail, **extra)
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_JSON)


def _invalid(exc: ValidationError) -> web.Response:
    errors = [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid request body", detail, errors=errors)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"title": "Body is not JSON", "status": 400, "detail": str(exc)}),
            content_type=PROBLEM_JSON,
        ) from exc


def _form(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _twilio_receipt(request: web.Request, raw: bytes) -> dict[str, Any] | None:
    """Twilio's status callback in our receipt's shape (None: not a final status). The
    notification key rides in the StatusCallback URL the adapter gave (`?reference=`)."""
    form = _form(raw)
    if form.get("MessageStatus") not in TWILIO_FINAL:
        return None
    return {
        "reference": request.query.get("reference", ""),
        "message_id": form.get("MessageSid"),
        "status": form["MessageStatus"],
    }


def _twilio_inbound(raw: bytes) -> dict[str, str]:
    form = _form(raw)
    return {"from": form.get("From", ""), "text": form.get("Body", "")}


def _whatsapp_receipt(status: whatsapp.Status) -> ReceiptWork | None:
    """A final status of one of our messages as a receipt; None for progress (`sent`), reads
    (counted, not published: reporting measures reach, and a read receipt is the person's
    to switch off) and statuses of messages that are not ours."""
    if status.status not in ("delivered", "failed") or status.reference is None:
        return None
    try:
        NotificationKey.parse(status.reference)
    except ValueError:
        log.warning("WhatsApp status for %s: not one of our keys", status.reference)
        return None
    stamp = status.timestamp
    at = datetime.fromtimestamp(stamp, UTC) if stamp is not None else datetime.now(UTC)
    if status.status == "delivered":
        return ReceiptWork(
            reference=status.reference,
            message_id=status.message_id,
            status="delivered",
            at=at.isoformat(),
        )
    verdict = whatsapp.failed_status(list(status.errors))
    return ReceiptWork(
        reference=status.reference,
        message_id=status.message_id,
        status="failed",
        at=at.isoformat(),
        reason=verdict.reason,
        fallback="sms" if verdict.not_on_whatsapp else None,
    )


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def _unauthorized(title: str, detail: str, challenge: str) -> web.Response:
    response = problem(401, title, detail)
    response.headers["WWW-Authenticate"] = challenge
    return response


def _html(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"  # a token is in the URL
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def build_web(notifier: Notifier, sink_dir: Path | None, contact: str = "175") -> web.Application:
    """Any worker answers: requests that change state become work records for the owner, or
    requests to enrollment."""
    service, metrics, readiness = notifier.service, notifier.metrics, notifier.readiness
    guard, admins = notifier.access.callbacks, notifier.access.admin_digests
    routes = web.RouteTableDef()

    async def signed(request: web.Request) -> bytes | web.Response:
        """The raw body when the provider signed the request, else the 401 to answer."""
        raw = await request.read()
        refusal = guard.refusal(Callback(request.raw_path, request.headers, raw))
        if refusal is None:
            return raw
        metrics.refused.labels(_route(request)).inc()
        log.warning("refused %s from %s: %s", request.path, request.remote, refusal)
        return _unauthorized("Callback signature not valid", refusal, guard.header)

    def refused_admin(request: web.Request) -> web.Response | None:
        refusal = admin_refusal(request.headers.get("Authorization"), admins)
        if refusal is None:
            return None
        metrics.refused.labels(_route(request)).inc()
        return _unauthorized("Admin API key missing or not valid", refusal, "Bearer")

    @routes.get("/healthz")
    async def healthz(request: web.Request) -> web.Response:
        reason = readiness.stuck()
        if reason is None:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "stuck", "reason": reason}, status=503)

    @routes.get("/readyz")
    async def readyz(request: web.Request) -> web.Response:
        reason = readiness.reason()
        body = {"worker": notifier.worker_id, **readiness.describe()}
        if reason is None:
            return web.json_response({"status": "ready", **body})
        return web.json_response({"status": "not ready", "reason": reason, **body}, status=503)

    @routes.get("/metrics")
    async def prometheus(request: web.Request) -> web.Response:
        metrics.in_hand.set(notifier.dispatcher.in_hand())
        readiness.reason()
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @routes.post("/receipts")
    async def receipts(request: web.Request) -> web.Response:
        raw = await signed(request)
        if isinstance(raw, web.Response):
            return raw
        payload = (
            _twilio_receipt(request, raw) if twilio_signed(guard, request.headers) else _json(raw)
        )
        if payload is None:
            return web.json_response({"action": "none"})
        try:
            receipt = Receipt.model_validate(payload)
            NotificationKey.parse(receipt.reference)
        except ValidationError as exc:
            return _invalid(exc)
        except ValueError as exc:
            return problem(422, "Invalid request body", f"reference: {exc}")
        at = receipt.at or datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        await service.request_receipt(
            ReceiptWork(
                reference=receipt.reference,
                message_id=receipt.message_id,
                status=receipt.status,
                at=at.isoformat(),
            )
        )
        return web.json_response({"accepted": True}, status=202)

    @routes.get("/webhooks/whatsapp")
    async def whatsapp_handshake(request: web.Request) -> web.Response:
        token = notifier.access.whatsapp_verify_token
        if token is None:
            return problem(404, "No WhatsApp channel", "NOTIFIER_WHATSAPP_URL is not set")
        challenge = whatsapp.handshake(request.query, token)
        if challenge is None:
            metrics.refused.labels(_route(request)).inc()
            return problem(403, "Not subscribed", "hub.verify_token: not this webhook's token")
        return web.Response(text=challenge)

    @routes.post("/webhooks/whatsapp")
    async def whatsapp_statuses(request: web.Request) -> web.Response:
        secret = notifier.access.whatsapp_app_secret
        if secret is None:
            return problem(404, "No WhatsApp channel", "NOTIFIER_WHATSAPP_URL is not set")
        raw = await request.read()
        header = request.headers.get(whatsapp.SIGNATURE_HEADER)
        refusal = whatsapp.signature_refusal(secret, raw, header)
        if refusal is not None:
            metrics.refused.labels(_route(request)).inc()
            log.warning("refused %s from %s: %s", request.path, request.remote, refusal)
            return _unauthorized("Webhook signature not valid", refusal, whatsapp.SIGNATURE_HEADER)
        try:
            found = whatsapp.statuses(_json(raw))
        except ValueError as exc:
            return problem(422, "Invalid request body", str(exc))
        receipts = [r for r in (_whatsapp_receipt(s) for s in found) if r is not None]
        for status in found:
            metrics.whatsapp_statuses.labels(status.status).inc()
        for receipt in receipts:
            await service.request_receipt(receipt)
        return web.json_response({"accepted": len(receipts)})

    @routes.post("/inbound-sms")
    async def inbound(request: web.Request) -> web.Response:
        raw = await signed(request)
        if isinstance(raw, web.Response):
            return raw
        payload = _twilio_inbound(raw) if twilio_signed(guard, request.headers) else _json(raw)
        try:
            sms = InboundSms.model_validate(payload)
        except ValidationError as exc:
            return _invalid(exc)
        word = stop_word(sms.text)
        if word is None:
            return web.json_response({"action": "none"})
        await service.request_stop(sms.sender, word)
        return web.json_response({"action": "opt_out_requested", "channel": "sms"}, status=202)

    def unsubscribe_grant(request: web.Request) -> unsubscribe.Grant | web.Response:
        """What the link's token allows, else the page that says why nothing happens."""
        secret = notifier.access.unsubscribe_secret
        if secret is None:
            return problem(404, "No unsubscribe links", "NOTIFIER_UNSUBSCRIBE_SECRET is not set")
        token = request.query.get("token", "")
        try:
            if not token:
                raise unsubscribe.TokenRefused("token: missing from the link")
            return unsubscribe.verify(secret, token, service.clock.now())
        except unsubscribe.TokenRefused as exc:
            metrics.refused.labels(_route(request)).inc()
            log.info("unsubscribe link refused: %s", exc.reason)
            status = 410 if exc.expired else 400 if not token else 403
            return _html(status, pages.refused(exc, contact))

    @routes.get("/unsubscribe")
    async def unsubscribe_page(request: web.Request) -> web.Response:
        grant = unsubscribe_grant(request)
        return grant if isinstance(grant, web.Response) else _html(200, pages.confirm(contact))

    @routes.post("/unsubscribe")
    async def unsubscribe_now(request: web.Request) -> web.Response:
        grant = unsubscribe_grant(request)
        if isinstance(grant, web.Response):
            return grant
        form = await request.post()  # urlencoded or multipart, as RFC 8058 allows
        if form.get("List-Unsubscribe") != "One-Click":
            return _html(400, pages.not_one_click())
        await service.request_unsubscribe(grant.participant_id, grant.channel)
        return _html(200, pages.done())

    @routes.get("/participants/{pid}/notifications")
    async def notifications(request: web.Request) -> web.Response:
        denied = refused_admin(request)
        if denied is not None:
            return denied
        pid = request.match_info["pid"]
        partition = service.partitioning.of(pid)
        if partition not in notifier.ownership.owned:
            return problem(
                404,
                "Not on this worker",
                f"id: participant {pid!r} is in partition {partition}, which this worker "
                "does not own; ask the worker whose /readyz lists it",
                partition=partition,
            )
        record = service.state.get(partition, pid)
        if record is None:
            return problem(404, "Unknown participant", f"id: no participant {pid!r} here")
        person = record["person"]
        return web.json_response(
            {
                "participant_id": pid,
                "partition": partition,
                # where SMS go now (an admin checks a correction arrived)
                "phone_e164": person.get("phone_e164"),
                "opted_out": person.get("opted_out", []),
                "paid_periods": person.get("paid_periods", []),
                "lapse": record.get("lapse"),
                "reactivated_at": record.get("reactivated_at"),
                "schedule": {"after": record["after"], "next_at": record["next_at"]},
                "sent": record["sent"],
                "queued": record["queue"],
            }
        )

    @routes.get("/messages")
    async def messages(request: web.Request) -> web.Response:
        if sink_dir is None:
            return problem(404, "No local sinks", "NOTIFIER_SINK_DIR is not set")
        sinks = read_sinks(sink_dir)
        pid = request.query.get("participant")
        return web.json_response(of_participant(sinks, pid) if pid else sinks)

    app = web.Application()
    app.add_routes(routes)
    return app
