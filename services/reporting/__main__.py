"""`python -m services.reporting worker`: one reporting worker (faust + HTTP on one loop)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from faust.contrib.asgi import faust_app_running

from schemas.envelope import decode_event
from services.common import deadletter_cli
from services.common.faust_app import GroupTimeouts
from services.common.internals import ExitZeroServer
from services.common.kafka_settings import KafkaSettings
from services.enrollment.replay import deadletter_config as enrollment_deadletter_config
from services.notifier.replay import deadletter_config_for as notifier_deadletter_config
from services.reporting.access import access_of
from services.reporting.api import Services, create_api
from services.reporting.lag import LagCollector, LagReader, LagSnapshot
from services.reporting.settings import Settings
from services.reporting.telemetry import Telemetry
from services.reporting.worker import ReportingWorker, topic_partitions

LOG_LEVELS = {
    "crit": "critical",
    "error": "error",
    "warn": "warning",
    "info": "info",
    "debug": "debug",
}
log = logging.getLogger("services.reporting")


def wait_for_topics(
    kafka: KafkaSettings, topics: tuple[str, ...], timeout: float = 60.0
) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return topic_partitions(kafka, topics)
        except Exception as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("waiting for source topics: %s", exc)
            time.sleep(1.0)


async def keep_lag_fresh(
    reader: LagReader, snapshot: LagSnapshot, collector: LagCollector, every_s: float
) -> None:
    while True:
        try:
            snapshot.partitions = await asyncio.to_thread(reader.read)
            snapshot.taken_at, snapshot.error = time.time(), None
        except Exception as exc:  # a broker hiccup must not end the loop
            collector.failures += 1
            snapshot.error = f"{type(exc).__name__}: {exc}"
            log.warning("reading consumer lag failed: %s", snapshot.error)
            await asyncio.to_thread(reader.close)
        await asyncio.sleep(every_s)


def bootstrap(
    settings: Settings, kafka: KafkaSettings, timeouts: GroupTimeouts | None = None
) -> tuple[Any, ReportingWorker]:
    """The composition root: worker, lag reader, metrics and API, wired together."""
    partitions = wait_for_topics(kafka, settings.source_topics)
    telemetry = Telemetry()
    worker = ReportingWorker(settings, kafka, partitions, telemetry=telemetry, timeouts=timeouts)
    snapshot = LagSnapshot()
    collector = LagCollector(snapshot)
    telemetry.registry.register(collector)
    reader = LagReader(kafka, settings.lag_group_list)

    @contextlib.asynccontextmanager
    async def lifespan(api: Any) -> AsyncIterator[None]:
        lag_task = asyncio.create_task(
            keep_lag_fresh(reader, snapshot, collector, settings.lag_interval_s)
        )
        try:
            async with faust_app_running(worker.app):
                yield
        finally:
            lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag_task
            await asyncio.to_thread(reader.close)

    services = Services(
        worker,
        snapshot,
        telemetry.registry,
        settings.url,
        settings.peer_timeout_s,
        access=access_of(settings),
        dead_letters=every_deadletter_config(settings, kafka),
    )
    return create_api(services, lifespan=lifespan), worker


def serve(settings: Settings, kafka: KafkaSettings) -> int:
    level = LOG_LEVELS[settings.log_level]
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    api, _ = bootstrap(settings, kafka)
    config = uvicorn.Config(
        api,
        host=settings.host,
        port=settings.port,
        log_level=level,
        lifespan="on",
        access_log=False,
    )
    server = ExitZeroServer(config)
    log.warning("reporting worker %s serving on %s", settings.group_id, settings.url)
    server.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reporting")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="consume, count and serve the API and dashboard")
    deadletter_cli.add_commands(sub)
    args = parser.parse_args(argv)
    if args.command == "worker":
        return serve(Settings(), KafkaSettings())
    if args.command == "deadletters":
        return deadletter_cli.run(args, deadletter_config(Settings(), KafkaSettings()))
    return 2


def deadletter_config(settings: Settings, kafka: KafkaSettings) -> deadletter_cli.DeadLetterConfig:
    """Reporting's dead letters go back to the topics it reads, as events."""
    sources = set(settings.source_topics)

    def validate(topic: str, value: bytes) -> object:
        if topic not in sources:
            raise ValueError(f"{topic} is not a topic reporting reads")
        return decode_event(value)

    return deadletter_cli.DeadLetterConfig(
        kafka, settings.deadletter_topic, settings.replay_ledger_topic, validate
    )


def every_deadletter_config(
    settings: Settings, kafka: KafkaSettings
) -> dict[str, deadletter_cli.DeadLetterConfig]:
    """Every service's dead letters, for the API: each replayed by its own service's rules
    (the notifier re-queues a message out of retries; enrollment takes back only requests)."""
    ledger = settings.replay_ledger_topic
    return {
        "reporting": deadletter_config(settings, kafka),
        "notifier": notifier_deadletter_config(
            kafka,
            events={settings.participants_topic, settings.campaigns_topic},
            work=settings.notifier_work_topic,
            deadletter=settings.notifier_deadletter_topic,
            ledger=ledger,
        ),
        "enrollment": enrollment_deadletter_config(
            kafka,
            requests_topic=settings.enrollment_requests_topic,
            deadletter_topic=settings.enrollment_deadletter_topic,
            ledger_topic=ledger,
        ),
    }


if __name__ == "__main__":
    sys.exit(main())
