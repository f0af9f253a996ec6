"""The notifier's stream processors and background tasks, installed on a faust app.

- `state` agent: `bebas.participants` and `bebas.notifier.work` in one stream (both partitioned
  by participant id, so faust assigns the same partitions of both to one worker). It is the
  only place state changes: decode, call the service, and on bad input write a dead letter and
  go on. One stream with `concurrency=1` applies a partition's records strictly in order.
- `broadcasts` agent: `bebas.campaigns` (keyed by campaign) → one work record per partition.
- `dispatch` task: scans the partitions this worker may dispatch, woken by the stream or a tick.
- `http` task: the small aiohttp server (`web.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import faust
from aiohttp import web

from schemas.deadletter import DeadLetter
from schemas.envelope import DecodeError
from schemas.events import CampaignBroadcastRequestedV1
from schemas.fast_decode import decode
from schemas.topics import CAMPAIGNS, PARTICIPANTS
from services.common.version import SERVICE_VERSION
from services.notifier.dispatcher import DeadLetterSink
from services.notifier.settings import Settings
from services.notifier.web import build_web
from services.notifier.work import decode_work

if TYPE_CHECKING:
    from services.notifier.bootstrap import KafkaPublisher, Notifier

log = logging.getLogger("services.notifier")

#: input we can name the fault of: a dead letter with the reason, and the stream goes on
BAD_INPUT = (DecodeError, ValueError, KeyError, TypeError)


def rejected(message: Any, exc: BaseException, reason: str, now: datetime) -> DeadLetter:
    """The dead letter of an input record the stream could not apply: it is never retried,
    so its one attempt is both the first and the last."""
    return DeadLetter.of(
        service="notifier",
        source_topic=message.topic,
        value=message.value if isinstance(message.value, bytes) else b"",
        key=message.key if isinstance(message.key, bytes) else None,
        partition=message.partition,
        offset=message.offset,
        reason=reason,
        error=exc,
        service_version=SERVICE_VERSION,
        first_attempt_at=now,
        last_attempt_at=now,
        attempts=1,
    )


def install_agents(
    notifier: Notifier, settings: Settings, publisher: KafkaPublisher, dead_letter: DeadLetterSink
) -> None:
    app, service, metrics = notifier.app, notifier.service, notifier.metrics
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    participants_name = settings.topic(PARTICIPANTS.name)
    work_name = publisher.work_topic.get_topic_name()
    state_topic = app.topic(participants_name, work_name, **raw)
    campaigns_topic = app.topic(settings.topic(CAMPAIGNS.name), **raw)
    wake = asyncio.Event()

    async def reject(message: Any, exc: Exception, reason: str) -> None:
        await dead_letter(rejected(message, exc, reason, notifier.dispatcher.clock.now()))
        # acknowledged before the input offset is committed

    async def apply(message: Any) -> str:
        value: bytes = message.value if isinstance(message.value, bytes) else b""
        if message.topic == work_name:
            record = decode_work(value)
            await service.on_work(record, message.partition)
            return f"work.{record.type}"
        event = decode(value)
        await service.handle(event, message.partition)
        return event.type

    # the agents yield nothing: faust consumes a yielding agent through `_slurp`, which logs
    # and looks for a reply address for every value (py-spy: ≈ 2 % of a worker in a burst)
    async def state_agent(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                metrics.events.labels(await apply(message)).inc()
            except BAD_INPUT as exc:
                await reject(message, exc, str(exc) or repr(exc))
            except Exception as exc:  # a bug must not stall the partition: keep the input
                log.exception("handler failed for %s@%s", message.topic, message.offset)
                await reject(message, exc, f"handler error: {exc!r}")
            # a work record may free keys or hand a partition over; a participant event only
            # matters to the dispatcher when it wrote something due now (at night, nothing is)
            if message.topic == work_name or notifier.dispatcher.take_due_news():
                wake.set()

    async def broadcasts_agent(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                decoded = decode(message.value)
                if isinstance(decoded.data, CampaignBroadcastRequestedV1):
                    await service.fan_out(decoded.data)
                metrics.events.labels(decoded.type).inc()
            except BAD_INPUT as exc:
                await reject(message, exc, str(exc) or repr(exc))

    app.agent(state_topic, name="notifier-state", concurrency=1)(state_agent)
    app.agent(campaigns_topic, name="notifier-broadcasts", concurrency=1)(broadcasts_agent)

    async def dispatch_loop() -> None:
        readiness, dispatcher, ownership = (
            notifier.readiness,
            notifier.dispatcher,
            notifier.ownership,
        )
        round_ended = asyncio.Event()

        def on_round_end() -> None:
            round_ended.set()
            wake.set()

        dispatcher.on_round_end = on_round_end
        while True:
            # cleared before the scan: what happens during it wakes the wait below at once
            wake.clear()
            round_ended.clear()
            started = 0
            if readiness.reason() is None:
                try:
                    started = await dispatcher.scan(ownership.dispatchable)
                except Exception:
                    log.exception("dispatch scan failed")
            # blocked: every record the stream writes would be read again for nothing (it cost
            # most of a worker's CPU in a burst, py-spy), so wait for a round to end
            event = round_ended if dispatcher.blocked else wake
            if started == 0 or dispatcher.blocked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), settings.tick_seconds)

    app.task(dispatch_loop)

    http = build_web(notifier, settings.sink_dir, settings.contact_number)

    async def serve_http() -> None:
        runner = web.AppRunner(http, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        log.info("notifier HTTP on http://%s:%s", settings.host, settings.port)

    app.task(serve_http)
