"""One way to build a faust-streaming app for this platform: credentials, timeouts, store.

Measured here (shared/context/STREAMING-NOTES.md): faust's default group timeouts make a join
take ~30 s; 10 s session/rebalance timeouts with a 1 s heartbeat join in ~5 s and stay stable.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from services.common.broker_epoch import discard_if_stale
from services.common.end_offsets import true_end_offsets
from services.common.internals import (
    correct_recovery_highwaters,
    fetch_only_active_partitions,
    limit_fetch_wait,
    make_flush_durable,
    patch_when_created,
    seek_streams_before_resuming_them,
    stop_fetches_at_offset_gaps,
)
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import fetch_wait_ms, is_embedded_broker


@dataclass(frozen=True)
class GroupTimeouts:
    session_s: float = 10.0
    rebalance_s: float = 10.0
    # Kafka's default. aiokafka leaves the group when no fetch ran for this long, and faust
    # stops fetching while every partition is paused (agent buffers full during a burst);
    # once out of the group it never rejoins, because aiokafka only rejoins after a fetch and
    # faust only fetches assigned partitions (measured: a 5,000-registration burst paused the
    # notifier > 10 s and it stayed out, unready, for good). Not a join-time setting.
    max_poll_s: float = 300.0
    heartbeat_s: float = 1.0


def faust_credentials(kafka: KafkaSettings) -> faust.SASLCredentials | ssl.SSLContext | None:
    """faust's broker_credentials for the configured security protocol."""
    context = kafka.ssl_context()
    if kafka.uses_sasl:
        assert kafka.sasl_password is not None  # guaranteed by KafkaSettings
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            mechanism=kafka.sasl_mechanism,
            ssl_context=context,
        )
    return context


def faust_broker_urls(kafka: KafkaSettings) -> list[str]:
    return [f"kafka://{server}" for server in kafka.servers]


EndsFn = Callable[[Mapping[Any, int | None]], Awaitable[Mapping[Any, int | None]]]


def recovery_ends(kafka: KafkaSettings) -> EndsFn:
    """The changelog ends table recovery reads up to: the true ends on the embedded broker,
    which under-reports them; on Apache Kafka the reported ones, which are exact. Decided when
    a recovery needs them (the broker answers then), not when the consumer is built."""

    async def ends(reported: Mapping[Any, int | None]) -> Mapping[Any, int | None]:
        if is_embedded_broker(kafka):
            return await true_end_offsets(kafka, reported)
        return reported

    return ends


def make_faust_app(
    app_id: str,
    kafka: KafkaSettings,
    *,
    store: str = "memory://",
    data_dir: str | None = None,
    web_port: int | None = None,
    web_host: str = "127.0.0.1",
    timeouts: GroupTimeouts | None = None,
    **extra: Any,
) -> faust.App:
    """A faust.App wired to the platform's Kafka settings; nothing connects until it starts."""
    t = timeouts or GroupTimeouts(session_s=kafka.group_session_timeout_ms / 1000)
    options: dict[str, Any] = {
        "broker": faust_broker_urls(kafka),
        "broker_credentials": faust_credentials(kafka),
        "store": store,
        "broker_session_timeout": t.session_s,
        "broker_rebalance_timeout": t.rebalance_s,
        "broker_max_poll_interval": t.max_poll_s,
        "broker_heartbeat_interval": t.heartbeat_s,
        "consumer_auto_offset_reset": "earliest",
        "topic_allow_declare": True,
        "topic_disable_leader": True,
        "web_enabled": web_port is not None,
        "web_host": web_host,
        "web_port": web_port or 6066,
    }
    if data_dir:
        # tables and offsets kept here describe the topics of the broker they came from; an
        # embedded broker starts empty, and faust refuses to start over such state
        discard_if_stale(Path(data_dir))
        options["datadir"] = data_dir
    if kafka.replication_factor is not None:
        # changelog and repartition topics get the same durability as the catalogue's topics
        options["topic_replication_factor"] = kafka.replication_factor
    options.update(extra)
    # "producer buffer full" is faust's normal backpressure under load, logged at WARNING
    # for every stream event while it lasts (hundreds a second in a burst): not a warning
    logging.getLogger("faust.transport.producer").setLevel(logging.ERROR)
    app = faust.App(app_id, **options)
    # agents get a restarted worker's backlog from the committed offset on, once
    seek_streams_before_resuming_them()
    fetch_only_active_partitions()

    def patch_consumer(consumer: Any) -> None:
        correct_recovery_highwaters(consumer, recovery_ends(kafka))
        limit_fetch_wait(consumer, fetch_wait_ms(kafka))
        if is_embedded_broker(kafka):  # its fetches may skip a batch not yet readable
            stop_fetches_at_offset_gaps()

    patch_when_created(app, "_new_consumer", patch_consumer)
    # offsets are committed only after the table changes they caused are acknowledged
    patch_when_created(app, "_new_producer", make_flush_durable)
    return app
