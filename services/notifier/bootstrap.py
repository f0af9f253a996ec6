"""Composition root: builds the faust app, its topics and tables, the service layer, the
dispatcher, the agents and the web server, from adapters given as parameters.

`create_app(settings, kafka, partitions=..., channels=..., clock=...)`: tests and the bench
pass their own channels and clock; `python -m services.notifier worker` passes the real ones.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import faust

from schemas.deadletter import DeadLetter
from schemas.envelope import encode_event, new_event
from schemas.events import (
    EventData,
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationSentV1,
    NotificationSuppressedV1,
    ParticipantLapsedV1,
    ParticipantOptOutRequestedV1,
    ParticipantReactivatedV1,
    type_of,
)
from schemas.topics import (
    CAMPAIGNS,
    ENROLLMENT_REQUESTS,
    NOTIFICATIONS,
    NOTIFIER_DEADLETTER,
    NOTIFIER_WORK,
    PARTICIPANTS,
)
from services.common.clock import Clock, clock_from
from services.common.faust_app import GroupTimeouts, make_faust_app
from services.common.kafka_settings import KafkaSettings
from services.notifier.access import WebAccess, web_access
from services.notifier.adapters.failover import FailoverSms, Route
from services.notifier.adapters.sms_http import JsonSmsGateway
from services.notifier.adapters.smtp import SmtpChannel
from services.notifier.adapters.twilio import TwilioSms
from services.notifier.adapters.whatsapp import WhatsAppCloud
from services.notifier.agents import install_agents
from services.notifier.dispatcher import Dispatcher, Limits
from services.notifier.domain.breaker import Breaker, BreakerPolicy
from services.notifier.domain.frequency import FrequencyCap
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.domain.schedule import ReminderPolicy
from services.notifier.metrics import Metrics
from services.notifier.ownership import Ownership
from services.notifier.ports import ChannelPort
from services.notifier.readiness import Readiness
from services.notifier.render import Content, Renderer, Unsubscribe
from services.notifier.service import NotifierService, Partitioning
from services.notifier.settings import Settings, SmsProvider
from services.notifier.store import INDEX_OPTIONS, PEOPLE_OPTIONS, TableState, partition_for
from services.notifier.work import Barrier, WorkRecord, encode_work

SOURCE = "urn:bebas-cemas:service:notifier"

log = logging.getLogger("services.notifier")


def default_channels(
    settings: Settings, *, metrics: Metrics | None = None, clock: Clock | None = None
) -> list[ChannelPort]:
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
    channels: list[ChannelPort] = [sms_channel(settings, metrics=metrics, clock=clock), email]
    whatsapp = whatsapp_channel(settings)
    return channels if whatsapp is None else [*channels, whatsapp]


def whatsapp_channel(settings: Settings) -> WhatsAppCloud | None:
    """The WhatsApp Business Cloud API channel, or None when no account is configured."""
    if settings.whatsapp_url is None:
        return None
    # Settings refuses a WhatsApp URL without the number id and token
    assert settings.whatsapp_phone_number_id is not None
    assert settings.whatsapp_token is not None
    return WhatsAppCloud(
        settings.whatsapp_url,
        settings.whatsapp_phone_number_id,
        settings.whatsapp_token.get_secret_value(),
        api_version=settings.whatsapp_api_version,
        timeout=settings.whatsapp_timeout_seconds,
        rate_per_second=settings.whatsapp_rate_per_second,
    )


def sms_adapter(settings: Settings, provider: SmsProvider) -> ChannelPort:
    timeout = provider.timeout_seconds or settings.sms_timeout_seconds
    rate = provider.rate_per_second or settings.sms_rate_per_second
    key = provider.key.get_secret_value()
    if provider.kind == "twilio":
        assert provider.account_sid is not None  # SmsProvider refuses twilio without one
        return TwilioSms(
            provider.url,
            provider.account_sid,
            key,
            timeout=timeout,
            rate_per_second=rate,
            callback_url=settings.sms_callback_url,
            provider=provider.name,
        )
    return JsonSmsGateway(
        provider.url, key, timeout=timeout, rate_per_second=rate, provider=provider.name
    )


def sms_channel(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    clock: Clock | None = None,
    adapters: list[ChannelPort] | None = None,
) -> FailoverSms:
    """The SMS providers in failover order, each behind its breaker on the notifier's clock
    (tests move it). `adapters`: the providers themselves (tests), else from settings."""
    clock = clock or clock_from(settings.clock_offset_file)
    policy = BreakerPolicy(
        consecutive_failures=settings.sms_breaker_failures,
        error_rate=settings.sms_breaker_error_rate,
        window_seconds=settings.sms_breaker_window_seconds,
        min_requests=settings.sms_breaker_min_requests,
        cool_down_seconds=settings.sms_breaker_cool_down_seconds,
    )
    providers = adapters or [sms_adapter(settings, p) for p in settings.sms_route_list]

    def seconds() -> float:
        return clock.now().timestamp()

    routes = []
    for adapter in providers:
        on_change = metrics.breaker_observer("sms", adapter.provider) if metrics else None
        breaker = Breaker(policy, seconds, on_change or (lambda state: None))
        routes.append(Route(adapter, breaker))
    if metrics is None:
        return FailoverSms(routes)
    return FailoverSms(routes, on_request=metrics.request_observer("sms"))


def providers_of(channel: ChannelPort) -> list[str]:
    """The providers a channel may send through (several for the SMS failover list)."""
    return channel.providers if isinstance(channel, FailoverSms) else [channel.provider]


def unsubscribe_from(settings: Settings) -> Unsubscribe | None:
    url, secret = settings.effective_unsubscribe_url, settings.unsubscribe_secret
    if url is None or secret is None:  # Settings refuses a URL without a secret
        return None
    return Unsubscribe(
        url=url,
        secret=secret.get_secret_value().encode(),
        valid_for=timedelta(days=settings.unsubscribe_link_days),
        mailto=settings.unsubscribe_mailto,
    )


@dataclass
class Notifier:
    """Handles to what create_app built (tests, the bench and the CLI use them)."""

    app: faust.App
    service: NotifierService
    dispatcher: Dispatcher
    ownership: Ownership
    readiness: Readiness
    metrics: Metrics
    access: WebAccess
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


class KafkaPublisher:
    """`service.Publisher` on the app's producer. Events go to the topic the catalogue gives
    their type (what the notifier observed: bebas.notifications; what people asked of
    enrollment: bebas.enrollment.requests), keyed by participant; work records to an explicit
    partition."""

    def __init__(self, app: faust.App, settings: Settings, partitioning: Partitioning) -> None:
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        self.notifications = app.topic(settings.topic(NOTIFICATIONS.name), **raw)
        self.requests = app.topic(settings.topic(ENROLLMENT_REQUESTS.name), **raw)
        self.work_topic = app.topic(settings.topic(NOTIFIER_WORK.name), **raw)
        self.deadletters = app.topic(settings.topic(NOTIFIER_DEADLETTER.name), **raw)
        self.partitioning = partitioning

    async def event(self, data: EventData, participant_id: str) -> Awaitable[Any]:
        event = new_event(
            data, source=SOURCE, subject=participant_id, event_id=outcome_event_id(data)
        )
        topic = self.requests if isinstance(data, REQUESTS) else self.notifications
        return await topic.send(key=participant_id.encode(), value=encode_event(event))

    async def work(self, record: WorkRecord, partition: int) -> Awaitable[Any]:
        return await self.work_topic.send(value=encode_work(record), partition=partition)

    async def dead_letter(self, letter: DeadLetter) -> Awaitable[Any]:
        return await self.deadletters.send(
            key=letter.source_topic.encode(),
            value=letter.model_dump_json().encode(),
            headers=letter.kafka_headers(),
        )


def create_app(
    settings: Settings,
    kafka: KafkaSettings,
    *,
    partitions: int = PARTICIPANTS.partitions,
    channels: list[ChannelPort] | None = None,
    clock: Clock | None = None,
    timeouts: GroupTimeouts | None = None,
) -> Notifier:
    """`partitions`: of `bebas.participants` (and so of the work topic and every table)."""
    access = web_access(settings)  # first: a worker that cannot verify callbacks never starts
    clock = clock or clock_from(settings.clock_offset_file)
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    app = make_faust_app(
        settings.app_id,
        kafka,
        store=settings.store,
        data_dir=str(settings.data_dir / "faust"),
        web_port=None,
        timeouts=timeouts,
        # a cold rebuild from the changelog on takeover instead of every worker writing every
        # partition: standbys would double the disk writes of a scaled-out notifier
        table_standby_replicas=0,
        topic_partitions=partitions,
        # every table holds bytes the store adapter encodes itself (JSON records, raw keys)
        key_serializer="raw",
        value_serializer="raw",
    )

    def table(name: str, options: dict[str, int]) -> Any:
        return app.Table(
            name,
            default=None,
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            options=dict(options),
        )

    state = TableState(
        table("people", PEOPLE_OPTIONS),
        table("phone-index", INDEX_OPTIONS),  # a new name: the old "phones" table held JSON
        table("wakeups", INDEX_OPTIONS),
    )
    partitioning = Partitioning(partitions, partition_for)
    publisher = KafkaPublisher(app, settings, partitioning)
    metrics = Metrics()
    quiet = QuietHours(settings.quiet_start, settings.quiet_end)
    ownership = Ownership()
    service = NotifierService(
        state,
        clock,
        ReminderPolicy(
            due_day=settings.due_day,
            local_time=settings.reminder_local_time,
            jht_age=settings.jht_claim_age,
            lapse_after=settings.lapse_after_periods,
        ),
        quiet,
        publisher,
        partitioning,
        routes=settings.route_table,
    )
    renderer = Renderer(
        Content(
            sms_sender=settings.sms_sender_id,
            email_from=settings.smtp_from,
            pay_url=settings.payment_howto_url,
            official_domain=settings.official_domain,
            contact=settings.contact_number,
            due_day=settings.due_day,
            jht_age=settings.jht_claim_age,
            unsubscribe=unsubscribe_from(settings),
            whatsapp_templates=settings.whatsapp_template_names,
        ),
        clock=clock,
    )

    async def dead_letter(letter: DeadLetter) -> Awaitable[Any]:
        metrics.dead_letters.labels(letter.source_topic).inc()
        return await publisher.dead_letter(letter)

    def on_result(channel: str, outcome: str) -> None:
        metrics.messages.labels(channel, outcome).inc()

    def on_request(channel: str, provider: str, result: str) -> None:
        metrics.provider_requests.labels(channel, provider, result).inc()

    def on_overdue(channel: str, seconds: float) -> None:
        metrics.quiet_overdue.labels(channel).set(seconds)

    adapters = (
        channels
        if channels is not None
        else default_channels(settings, metrics=metrics, clock=clock)
    )
    metrics.start_at_zero(
        [(channel.name, name) for channel in adapters for name in providers_of(channel)],
        [
            settings.topic(PARTICIPANTS.name),
            settings.topic(CAMPAIGNS.name),
            publisher.work_topic.get_topic_name(),
        ],
    )
    service.available = frozenset(channel.name for channel in adapters)
    dispatcher = Dispatcher(
        service,
        state,
        adapters,
        renderer,
        quiet=quiet,
        clock=clock,
        limits=Limits(
            batch=settings.scan_batch,
            max_attempts=settings.max_attempts,
            backoff_base=settings.backoff_base_seconds,
            backoff_cap=settings.backoff_max_seconds,
        ),
        concurrency={
            "sms": settings.sms_concurrency,
            "email": settings.smtp_concurrency,
            "whatsapp": settings.whatsapp_concurrency,
        },
        cap=FrequencyCap(
            per_day=settings.frequency_cap_per_day, per_week=settings.frequency_cap_per_week
        ),
        dead_letter=dead_letter,
        retry_source=publisher.work_topic.get_topic_name(),
        on_result=on_result,
        on_request=on_request,
        on_overdue=on_overdue,
    )
    readiness = Readiness(app, ownership, metrics, settings.stuck_after_seconds)
    service.listener = StreamListener(dispatcher, ownership)
    notifier = Notifier(app, service, dispatcher, ownership, readiness, metrics, access)
    install_agents(notifier, settings, publisher, dead_letter)
    _install_rebalance_hooks(notifier, publisher)
    return notifier


class StreamListener:
    """Routes what the stream applied to this worker's dispatcher and ownership."""

    def __init__(self, dispatcher: Dispatcher, ownership: Ownership) -> None:
        self.dispatcher = dispatcher
        self.ownership = ownership

    def applied(self, round_id: str) -> None:
        self.dispatcher.applied(round_id)

    def barrier(self, partition: int, token: str) -> None:
        self.ownership.barrier(partition, token)

    def wake_written(self, partition: int, instant: str) -> None:
        self.dispatcher.wake_written(partition, instant)


def _install_rebalance_hooks(notifier: Notifier, publisher: KafkaPublisher) -> None:
    app, work_name = notifier.app, publisher.work_topic.get_topic_name()

    async def revoked(*args: Any, **kwargs: Any) -> None:  # (app, revoked set)
        # finish (or abandon unsent) rounds before faust lets the partitions go, so the next
        # owner never works on a partition while we still send from it
        notifier.ownership.revoked()
        await notifier.dispatcher.stop_rounds()

    async def assigned(*args: Any, **kwargs: Any) -> None:  # (app, assigned set)
        mine = {tp.partition for tp in args[1] if tp.topic == work_name}
        tokens = notifier.ownership.assigned(mine)
        notifier.dispatcher.resume()
        for partition, token in tokens.items():
            ack = asyncio.ensure_future(await publisher.work(Barrier(token=token), partition))
            ack.add_done_callback(functools.partial(_log_barrier, partition, token))

    app.on_partitions_revoked.connect(revoked)
    app.on_partitions_assigned.connect(assigned)


def _log_barrier(partition: int, token: str, ack: asyncio.Future[Any]) -> None:
    if ack.cancelled() or ack.exception() is not None:
        log.error("partition %s: barrier %s not written: %r", partition, token, ack)
    else:
        log.info(
            "partition %s: barrier %s written at offset %s", partition, token, ack.result().offset
        )


OUTCOME_EVENTS = (
    NotificationSentV1,
    NotificationFailedV1,
    NotificationDeliveredV1,
    NotificationSuppressedV1,
)
#: events for enrollment to act on (the catalogue puts them on bebas.enrollment.requests)
REQUESTS = (ParticipantOptOutRequestedV1,)
OUTCOME_NAMESPACE = uuid.UUID("5b1f0c3e-8d6a-4f53-9a57-2f1f4d1c6e01")


def outcome_event_id(data: EventData) -> uuid.UUID | None:
    """A message's outcome happens once per notification key, and a lapse (and the
    reactivation that ends it) once per participant and lapse instant, so their event ids are
    derived from those: re-emitting one after a crash gives the same id, which consumers drop
    as a duplicate (reporting dedupes by event id). An opt-out request is one per participant,
    door and instant it was made (a STOP's work record applied twice asks once; enrollment
    applies an id once). Other events get a random id."""
    if isinstance(data, OUTCOME_EVENTS):
        return uuid.uuid5(OUTCOME_NAMESPACE, f"{type_of(data)[0]}|{data.notification_key}")
    if isinstance(data, ParticipantLapsedV1 | ParticipantReactivatedV1):
        scope = f"{data.participant_id}|{data.lapsed_at.isoformat()}"
        return uuid.uuid5(OUTCOME_NAMESPACE, f"{type_of(data)[0]}|{scope}")
    if isinstance(data, ParticipantOptOutRequestedV1):
        scope = f"{data.participant_id}|{data.via}|{data.requested_at.isoformat()}"
        return uuid.uuid5(OUTCOME_NAMESPACE, f"{type_of(data)[0]}|{scope}")
    return None
