"""The composition root: builds every adapter from settings (or takes them as parameters)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from sqlalchemy import Engine

from schemas.topics import CAMPAIGNS, PARTICIPANTS
from services.common.clock import Clock, clock_from
from services.common.kafka_settings import KafkaSettings
from services.enrollment.adapters.contacts import LibraryContactRules
from services.enrollment.adapters.db import make_engine, migrate
from services.enrollment.adapters.relay import OutboxRelay, Producer, kafka_producer
from services.enrollment.adapters.requests import (
    RequestReader,
    kafka_consumer,
    kafka_dead_letter_producer,
)
from services.enrollment.adapters.unit_of_work import SqlUnitOfWork
from services.enrollment.apikeys import ApiKeys
from services.enrollment.domain.broadcast import BroadcastRules
from services.enrollment.domain.reference import ReferenceData, load_reference
from services.enrollment.group_commit import GroupCommitter
from services.enrollment.handlers import Enrollment, Idempotency, PreparedRegistration
from services.enrollment.imports import CsvImporter
from services.enrollment.opt_out_requests import record_handler
from services.enrollment.outbox import OutboxWriter
from services.enrollment.republish import republish_for_new_broker
from services.enrollment.settings import Settings

RegistrationWriter = GroupCommitter[tuple[PreparedRegistration, Idempotency | None], dict[str, Any]]


class BrokerProbe:
    """Answers 'is Kafka reachable?' with a real metadata request, cached for a few seconds."""

    def __init__(self, kafka: KafkaSettings, ttl: float = 5.0) -> None:
        self.kafka = kafka
        self.ttl = ttl
        self._until = 0.0
        self._ok = False
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        with self._lock:
            if time.monotonic() < self._until:
                return self._ok
            self._ok = self._probe()
            self._until = time.monotonic() + self.ttl
            return self._ok

    def _probe(self) -> bool:
        try:
            client = KafkaAdminClient(
                client_id="bebas-enrollment-readyz",
                bootstrap_timeout_ms=1500,
                request_timeout_ms=2000,
                **self.kafka.kafka_python_config(),
            )
        except (KafkaError, OSError):
            return False
        try:
            client.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            client.close()


@dataclass
class Container:
    settings: Settings
    kafka: KafkaSettings
    engine: Engine
    reference: ReferenceData
    enrollment: Enrollment
    api_keys: ApiKeys
    importer: CsvImporter
    relay: OutboxRelay | None
    broker_ready: Callable[[], bool]
    registrations: RegistrationWriter
    requests: RequestReader | None = None

    def start(self) -> None:
        if self.settings.bootstrap_admin_key is not None:
            self.api_keys.ensure_admin(self.settings.bootstrap_admin_key.get_secret_value())
        if self.relay is not None:
            self.relay.start()
        if self.requests is not None:
            self.requests.start()

    def stop(self) -> None:
        if self.requests is not None:
            self.requests.stop()
        if self.relay is not None:
            self.relay.stop()


def reference_from(settings: Settings) -> ReferenceData:
    folder = settings.reference_dir
    if folder is None:
        return load_reference()

    def pick(name: str) -> object:
        path = folder / name
        return path if path.exists() else None

    return load_reference(
        provinces=pick("provinces.json"),  # type: ignore[arg-type]
        branches=pick("branches.json"),  # type: ignore[arg-type]
        segments=pick("segments.json"),  # type: ignore[arg-type]
        rates=pick("rates.json"),  # type: ignore[arg-type]
    )


def bootstrap(
    settings: Settings | None = None,
    kafka: KafkaSettings | None = None,
    clock: Clock | None = None,
    engine: Engine | None = None,
    producer_factory: Callable[[], Producer] | None = None,
    relay: bool | None = None,
    run_migrations: bool = True,
    requests: bool | None = None,
) -> Container:
    settings = settings or Settings()
    kafka = kafka or KafkaSettings()
    clock = clock or clock_from(settings.clock_offset_file)
    engine = engine or make_engine(settings.sqlalchemy_url)
    if run_migrations:
        migrate(engine)
    republish_for_new_broker(engine, settings.data_dir)
    reference = reference_from(settings)
    outbox_relay = None
    if settings.relay_enabled if relay is None else relay:
        outbox_relay = OutboxRelay(
            engine,
            producer_factory or (lambda: kafka_producer(kafka)),
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval,
            bulk_interval=settings.relay_import_interval,
        )
    writer = OutboxWriter(
        settings.event_source,
        {PARTICIPANTS.name: settings.participants_topic, CAMPAIGNS.name: settings.campaigns_topic},
    )

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    enrollment = Enrollment(
        uow,
        reference,
        LibraryContactRules(),
        clock,
        writer,
        settings.nik_secret(),
        on_commit=outbox_relay.wake if outbox_relay else (lambda: None),
        broadcast_rules=BroadcastRules(
            max_segments=settings.broadcast_max_segments,
            price_per_segment=settings.broadcast_price_per_segment,
            template_chars=settings.broadcast_template_chars,
        ),
        due_day=settings.contribution_due_day,
    )
    reader = None
    if settings.requests_enabled if requests is None else requests:
        reader = RequestReader(
            lambda: kafka_consumer(kafka, settings.requests_topic, settings.requests_group),
            lambda: kafka_dead_letter_producer(kafka),
            record_handler(enrollment),
            settings.deadletter_topic,
        )
    return Container(
        settings=settings,
        kafka=kafka,
        engine=engine,
        reference=reference,
        enrollment=enrollment,
        api_keys=ApiKeys(uow, reference, clock, settings.api_key_cache_seconds),
        importer=CsvImporter(
            enrollment,
            settings.import_chunk_size,
            outbox_relay.bulk_write if outbox_relay else contextlib.nullcontext,
        ),
        relay=outbox_relay,
        broker_ready=BrokerProbe(kafka),
        registrations=GroupCommitter(enrollment.store_registrations),
        requests=reader,
    )
