"""Composition root: the faust app, its topics, tables, agents, dispatch loops and web server.

`create_app(settings, kafka, channels=..., clock=...)` takes the adapters as parameters, so
tests may wire their own; `python -m services.notifier worker` runs the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from aiohttp import web

from schemas.deadletter import DeadLetter
from schemas.envelope import DecodeError, decode_event, encode_event, new_event
from schemas.events import (
    EventData,
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationSentV1,
    type_of,
)
from schemas.topics import (
    CAMPAIGNS,
    NOTIFICATIONS,
    NOTIFIER_DEADLETTER,
    NOTIFIER_RETRY,
    PARTICIPANTS,
)
from services.common.clock import Clock, clock_from
from services.common.faust_app import GroupTimeouts, make_faust_app
from services.common.kafka_settings import KafkaSettings
from services.notifier.adapters.sms_http import JsonSmsGateway
from services.notifier.adapters.smtp import SmtpChannel
from services.notifier.adapters.twilio import TwilioSms
from services.notifier.dispatcher import Dispatcher
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.domain.schedule import ReminderPolicy
from services.notifier.liveness import Liveness
from services.notifier.metrics import Metrics
from services.notifier.ports import ChannelPort
from services.notifier.render import Content, Renderer
from services.notifier.service import NotifierService, Stores
from services.notifier.settings import Settings
from services.notifier.web import build_web

log = logging.getLogger("services.notifier")
SOURCE = "urn:bebas-cemas:service:notifier"
TABLE_PARTITIONS = PARTICIPANTS.partitions


def default_channels(settings: Settings) -> list[ChannelPort]:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    email = SmtpChannel(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=password,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_use_tls,
        timeout=settings.smtp_timeout_seconds,
        rate_per_second=settings.smtp_rate_per_second,
    )
    sms: ChannelPort
    if settings.sms_provider == "twilio":
        if not settings.twilio_account_sid:
            raise ValueError("NOTIFIER_SMS_PROVIDER=twilio needs NOTIFIER_TWILIO_ACCOUNT_SID")
        sms = TwilioSms(
            settings.sms_gateway_url,
            settings.twilio_account_sid,
            settings.sms_api_key.get_secret_value(),
            timeout=settings.sms_timeout_seconds,
            rate_per_second=settings.sms_rate_per_second,
        )
    else:
        sms = JsonSmsGateway(
            settings.sms_gateway_url,
            settings.sms_api_key.get_secret_value(),
            timeout=settings.sms_timeout_seconds,
            rate_per_second=settings.sms_rate_per_second,
        )
    return [sms, email]


@dataclass
class Notifier:
    """Handles to what create_app built (tests and the CLI use them)."""

    app: faust.App
    service: NotifierService
    dispatchers: dict[str, Dispatcher]
    metrics: Metrics
    wake: dict[str, asyncio.Event] = field(default_factory=dict)


def create_app(
    settings: Settings,
    kafka: KafkaSettings,
    *,
    channels: list[ChannelPort] | None = None,
    clock: Clock | None = None,
    timeouts: GroupTimeouts | None = None,
) -> Notifier:
    clock = clock or clock_from(settings.clock_offset_file)
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {"table_standby_replicas": 0, "topic_partitions": TABLE_PARTITIONS}
    app = make_faust_app(
        settings.app_id,
        kafka,
        store=settings.store,
        data_dir=str(settings.data_dir / "faust"),
        web_port=None,
        timeouts=timeouts,
        **extra,
    )
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    participants_topic = app.topic(settings.topic(PARTICIPANTS.name), **raw)
    campaigns_topic = app.topic(settings.topic(CAMPAIGNS.name), **raw)
    retry_topic = app.topic(settings.topic(NOTIFIER_RETRY.name), **raw)
    notifications_topic = app.topic(settings.topic(NOTIFICATIONS.name), **raw)
    deadletter_topic = app.topic(settings.topic(NOTIFIER_DEADLETTER.name), **raw)

    def table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            partitions=TABLE_PARTITIONS,
            use_partitioner=True,  # written from dispatch loops and web handlers too
        )  # keys and values are JSON (faust's default for untyped tables)

    stores = Stores(
        participants=table("participants"),
        schedule=table("schedule"),
        outbox=table("outbox"),
        sent=table("sent"),
        phones=table("phones"),
    )
    metrics = Metrics()

    async def emit(data: EventData, participant_id: str) -> None:
        """Returns once the broker has the event (callers mark state final only after it)."""
        event = new_event(
            data, source=SOURCE, subject=participant_id, event_id=outcome_event_id(data)
        )
        fut = await notifications_topic.send(key=participant_id.encode(), value=encode_event(event))
        await fut

    service = NotifierService(
        stores,
        clock,
        ReminderPolicy(
            due_day=settings.due_day,
            local_time=settings.reminder_local_time,
            jht_age=settings.jht_claim_age,
        ),
        emit,
    )
    renderer = Renderer(
        Content(
            sms_sender=settings.sms_sender_id,
            email_from=settings.smtp_from,
            pay_url=settings.payment_howto_url,
            contact=settings.contact_number,
            due_day=settings.due_day,
            jht_age=settings.jht_claim_age,
            unsubscribe_url=settings.unsubscribe_url,
            unsubscribe_mailto=settings.unsubscribe_mailto,
        )
    )

    async def dead_letter(letter: DeadLetter) -> None:
        fut = await deadletter_topic.send(
            key=letter.source_topic.encode(), value=letter.model_dump_json().encode()
        )
        await fut
        metrics.dead_letters.labels(letter.source_topic).inc()

    async def publish_retry(record: dict[str, Any]) -> None:
        fut = await retry_topic.send(key=record["key"].encode(), value=json.dumps(record).encode())
        await fut

    async def flush() -> None:
        await app.producer.flush()

    def on_result(channel: str, outcome: str) -> None:
        metrics.messages.labels(channel, outcome).inc()

    dispatchers = {
        channel.name: Dispatcher(
            service,
            channel,
            renderer,
            quiet=QuietHours(settings.quiet_start, settings.quiet_end),
            max_attempts=settings.max_attempts,
            backoff_base=settings.backoff_base_seconds,
            backoff_cap=settings.backoff_max_seconds,
            flush=flush,
            publish_retry=publish_retry,
            publish_dead_letter=dead_letter,
            retry_topic=retry_topic.get_topic_name(),
            on_result=on_result,
            concurrency=settings.sms_concurrency
            if channel.name == "sms"
            else settings.smtp_concurrency,
        )
        for channel in (channels if channels is not None else default_channels(settings))
    }
    notifier = Notifier(app, service, dispatchers, metrics)
    notifier.wake = {name: asyncio.Event() for name in dispatchers}

    participants_name = participants_topic.get_topic_name()
    warned: list[bool] = []

    def partitions_missing() -> str | None:
        """Tables are written outside stream iteration, which is only consistent while one
        worker owns every partition: a second replica makes both unready instead of wrong."""
        try:
            assigned = app.consumer.assignment()
        except Exception:  # not started yet
            return "consumer not started"
        mine = {tp.partition for tp in assigned if tp.topic == participants_name}
        if len(mine) == PARTICIPANTS.partitions:
            warned.clear()
            return None
        if mine and not warned:
            warned.append(True)
            log.error(
                "this worker owns %d of %d partitions of %s: the notifier must run as a single "
                "replica (see README, Scaling); not ready",
                len(mine),
                PARTICIPANTS.partitions,
                participants_name,
            )
        return f"owns {len(mine)} of {PARTICIPANTS.partitions} partitions of {participants_name}"

    liveness = Liveness(settings.stuck_after_seconds)

    def unready_reason() -> str | None:
        """Why this worker must not dispatch or answer now (None: ready)."""
        reason: str | None = None
        if not app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
            reason = "tables recovering"
        elif app.rebalancing:
            reason = "consumer group rebalancing"
        else:
            reason = partitions_missing()
        metrics.ready.set(1 if reason is None else 0)
        if reason is not None:
            service.forget_scan_watermark()
        liveness.observe(reason)
        return reason

    def stuck_reason() -> str | None:
        unready_reason()  # a fresh observation: nothing else may be asking while wedged
        reason = liveness.stuck()
        if reason:
            log.error("worker stuck, /healthz fails so it is restarted: %s", reason)
        return reason

    def ready() -> bool:
        return unready_reason() is None

    def nudge() -> None:
        for event in notifier.wake.values():
            event.set()

    async def nudge_async() -> None:
        nudge()

    async def consume(stream: faust.StreamT[Any], source: str) -> AsyncIterator[None]:
        async for event in stream.events():
            message = event.message
            value: bytes = message.value if isinstance(message.value, bytes) else b""
            try:
                if source == retry_topic.get_topic_name():
                    service.on_retry(_retry_record(value))
                    metrics.events.labels("retry").inc()
                else:
                    decoded = decode_event(value)
                    await service.handle(decoded)
                    metrics.events.labels(decoded.type).inc()
            except (DecodeError, ValueError, KeyError, TypeError) as exc:
                await dead_letter(
                    DeadLetter.of(
                        service="notifier",
                        source_topic=source,
                        value=value,
                        key=message.key if isinstance(message.key, bytes) else None,
                        partition=message.partition,
                        offset=message.offset,
                        reason=str(exc) or repr(exc),
                    )
                )
            except Exception as exc:  # a bug must not stall the partition: keep the input
                log.exception("handler failed for %s@%s", source, message.offset)
                await dead_letter(
                    DeadLetter.of(
                        service="notifier",
                        source_topic=source,
                        value=value,
                        partition=message.partition,
                        offset=message.offset,
                        reason=f"handler error: {exc!r}",
                    )
                )
            nudge()
            yield None

    for topic in (participants_topic, campaigns_topic, retry_topic):
        name = topic.get_topic_name()

        async def agent(stream: faust.StreamT[Any], _source: str = name) -> AsyncIterator[None]:
            async for item in consume(stream, _source):
                yield item

        app.agent(topic, name=f"notifier-{name}", concurrency=1)(agent)

    async def dispatch_loop(name: str, dispatcher: Dispatcher) -> None:
        wake = notifier.wake[name]
        while True:
            handled = 0
            if ready():
                try:
                    handled = await dispatcher.run_once(settings.scan_batch)
                except Exception:
                    log.exception("%s dispatcher round failed", name)
            if handled == 0:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), settings.tick_seconds)

    def dispatch_task(name: str, dispatcher: Dispatcher) -> Callable[[], Awaitable[None]]:
        async def run_dispatcher() -> None:  # faust passes the app to tasks with arguments
            await dispatch_loop(name, dispatcher)

        return run_dispatcher

    for name, dispatcher in dispatchers.items():
        app.task(dispatch_task(name, dispatcher))

    async def scan() -> None:
        if ready():
            try:
                if service.scan_reminders(settings.scan_batch):
                    nudge()
            except Exception:
                log.exception("reminder scan failed")

    app.timer(interval=settings.tick_seconds, name="reminder-scan")(scan)

    def refresh_gauges() -> None:
        counts: dict[str, int] = {name: 0 for name in dispatchers}
        for entry in list(stores.outbox.values()):
            counts[entry["channel"]] = counts.get(entry["channel"], 0) + 1
        for name, count in counts.items():
            metrics.outbox.labels(name).set(count)
        ready()

    http = build_web(
        service,
        metrics,
        unready_reason,
        stuck_reason,
        settings.sink_dir,
        refresh_gauges,
        nudge_async,
    )

    async def serve_http() -> None:
        runner = web.AppRunner(http, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        log.info("notifier HTTP on http://%s:%s", settings.host, settings.port)

    app.task(serve_http)

    return notifier


OUTCOME_EVENTS = (NotificationSentV1, NotificationFailedV1, NotificationDeliveredV1)
OUTCOME_NAMESPACE = uuid.UUID("5b1f0c3e-8d6a-4f53-9a57-2f1f4d1c6e01")


def outcome_event_id(data: EventData) -> uuid.UUID | None:
    """A message's outcome happens once per notification key, so its event id is derived from
    the key: re-emitting it after a crash gives the same id, which consumers drop as a
    duplicate (reporting dedupes by event id). Other events get a random id."""
    if isinstance(data, OUTCOME_EVENTS):
        return uuid.uuid5(OUTCOME_NAMESPACE, f"{type_of(data)[0]}|{data.notification_key}")
    return None


def _retry_record(value: bytes) -> dict[str, Any]:
    record = json.loads(value)
    if not isinstance(record, dict):
        raise ValueError("retry record is not a JSON object")
    for name in ("key", "attempt", "not_before", "entry"):
        if name not in record:
            raise KeyError(f"retry record misses {name!r}")
    return record
