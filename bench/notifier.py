"""notifier.*: welcome SMS per second from registration events to the local HTTP gateway,
against a plain async httpx loop posting the same bodies to the same gateway, and through two
workers against one; template renders per second; registrations taken in per second and peak
memory of one worker holding 1,000,000 participants.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.context import BenchContext
from bench.cpu import CpuTimes, shares
from bench.driver import daytime_offset, wait_until
from bench.kafka_load import produce, registrations
from bench.processes import serving
from bench.rss import peak_rss_mb
from schemas.topics import CATALOGUE, PARTICIPANTS
from services.common.ports import free_port
from services.common.topic_admin import create_topic
from services.notifier.render import Content, Renderer

API_KEY = "bench-key"


def _gateway(ctx: BenchContext, folder: Path) -> tuple[list[str], str]:
    port = free_port()
    argv = ["-m", "services.notifier.sinks.sms_gateway", "--port", str(port)]
    argv += ["--data-dir", str(folder), "--api-key", API_KEY]
    return argv, f"http://127.0.0.1:{port}"


def _notifier_env(
    ctx: BenchContext,
    folder: Path,
    gateway: str,
    port: int,
    offset_s: float,
    *,
    app_id: str | None = None,
    worker: int = 0,
) -> dict[str, str]:
    clock = folder / "clock-offset"
    clock.write_text(str(offset_s), encoding="utf-8")
    return {
        "KAFKA_BOOTSTRAP_SERVERS": ctx.kafka.bootstrap_servers,
        "NOTIFIER_PORT": str(port),
        "NOTIFIER_DATA_DIR": str(folder / f"notifier-{worker}"),
        "NOTIFIER_APP_ID": app_id or f"bench-notifier-{uuid.uuid4().hex[:8]}",
        "NOTIFIER_TOPIC_NAMESPACE": f"{folder.name}.",
        "NOTIFIER_SMS_GATEWAY_URL": gateway,
        "NOTIFIER_SMS_API_KEY": API_KEY,
        # the worker needs one to start; the bench's gateway posts no callbacks
        "NOTIFIER_SMS_CALLBACK_SECRET": secrets.token_urlsafe(32),
        "NOTIFIER_SMS_RATE_PER_SECOND": "100000",  # rate limits off, as issue 6 asks
        "NOTIFIER_CLOCK_OFFSET_FILE": str(clock),
        "NOTIFIER_LOGLEVEL": "warn",
    }


def _namespaced_topics(ctx: BenchContext, namespace: str) -> str:
    for topic in CATALOGUE:
        create_topic(ctx.kafka, namespace + topic.name, partitions=topic.partitions)
    return namespace + "bebas.participants"


def _received(gateway: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{gateway}/messages", timeout=60).json())


def _rate(messages: list[dict[str, Any]]) -> float:
    """Sustained rate at the gateway: first to last arrival (start-up and join excluded)."""
    stamps = sorted(datetime.fromisoformat(m["received_at"]) for m in messages)
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]).total_seconds()


async def _post_all(gateway: str, bodies: list[dict[str, str]], concurrency: int) -> float:
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(base_url=gateway, headers={"X-API-Key": API_KEY}) as client:

        async def worker() -> None:
            while queue:
                (await client.post("/v1/messages", json=queue.pop())).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(bodies) / (time.perf_counter() - started)


def _ready_workers(urls: list[str]) -> bool:
    """Every worker dispatches some partitions (so a burst is shared from its start)."""
    try:
        bodies = [httpx.get(f"{url}/readyz", timeout=2).json() for url in urls]
    except httpx.HTTPError:
        return False
    return all(body.get("dispatching") for body in bodies)


def _burst(
    ctx: BenchContext, name: str, workers: int, count: int
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """`count` registrations through `workers` notifier workers of one group to a fresh
    gateway, in daytime; returns what the gateway received and how busy the machine was."""
    folder = ctx.folder(name)
    gateway_argv, gateway = _gateway(ctx, folder / "gateway")
    topic = _namespaced_topics(ctx, f"{folder.name}.")
    offset = daytime_offset(datetime.now(UTC))
    app_id = f"bench-notifier-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        stack.enter_context(serving(gateway_argv, f"{gateway}/healthz", folder / "gateway.log"))
        urls = []
        for i in range(workers):
            port = free_port()
            env = _notifier_env(ctx, folder, gateway, port, offset, app_id=app_id, worker=i)
            url = f"http://127.0.0.1:{port}"
            argv = ["-m", "services.notifier", "worker"]
            stack.enter_context(serving(argv, f"{url}/readyz", folder / f"n{i}.log", env))
            urls.append(url)
        wait_until(lambda: _ready_workers(urls), 120, "every worker dispatching", every=1.0)
        # registered "now" on the workers' clock, as in the field: a fixed past date made every
        # participant wake for reminders already past, work a real burst does not have
        since = datetime.now(UTC) + timedelta(seconds=offset)
        before = CpuTimes.now()
        produce(ctx.kafka, topic, registrations(count, campaign="BENCH", since=since))
        received = wait_until(
            lambda: m if len(m := _received(gateway)) >= count else None,
            ctx.size(900, 300),
            f"{count} welcome SMS at the gateway",
            every=2.0,
        )
        return received, shares(before, CpuTimes.now())


def _raw_bodies(sent: list[dict[str, Any]], prefix: str) -> list[dict[str, str]]:
    return [
        {"to": m["to"], "text": m["text"], "sender": m["sender"], "reference": f"{prefix}-{i}"}
        for i, m in enumerate(sent)
    ]


async def _two_loops(gateway: str, bodies: list[dict[str, str]], concurrency: int) -> float:
    half = len(bodies) // 2
    started = time.perf_counter()
    await asyncio.gather(
        _post_all(gateway, bodies[:half], concurrency),
        _post_all(gateway, bodies[half:], concurrency),
    )
    return len(bodies) / (time.perf_counter() - started)


def _one_round(ctx: BenchContext, count: int) -> dict[str, float]:
    """One worker's burst, the raw httpx loop on its bodies, the gateway's ceiling for two
    raw loops, then the same burst through two workers."""
    one, one_cpu = _burst(ctx, "notifier-sms", 1, count)
    folder = ctx.folder("notifier-raw")
    gateway_argv, gateway = _gateway(ctx, folder / "gateway")
    with serving(gateway_argv, f"{gateway}/healthz", folder / "gateway.log"):
        raw_rate = asyncio.run(_post_all(gateway, _raw_bodies(one, "raw"), concurrency=8))
        ceiling = asyncio.run(_two_loops(gateway, _raw_bodies(one, "two"), concurrency=8))
    two, two_cpu = _burst(ctx, "notifier-sms-2", 2, count)
    return {
        "sms": _rate(one),
        "raw": raw_rate,
        "ceiling": ceiling,
        "two": _rate(two),
        "one_busy": one_cpu["busy"],
        "two_busy": two_cpu["busy"],
        "two_steal": two_cpu["steal"],
    }


def sms_against_raw_httpx(ctx: BenchContext) -> dict[str, float]:
    """One worker against a raw httpx loop (same gateway, same concurrency), then the same
    burst through two workers against one, with the gateway's own ceiling for two senders.
    Rounds alternate the three, so drift on a shared machine hits each alike; each figure is
    the median of its rounds and each ratio the median of the rounds' ratios (one burst
    varied by ±20 % from run to run)."""
    count = ctx.size(5_000, 1_000)
    rounds = [_one_round(ctx, count) for _ in range(ctx.repetitions())]

    def median(name: str) -> float:
        return statistics.median(r[name] for r in rounds)

    return {
        # the machine's cores during each burst (worker(s), gateway, broker, producer): a
        # speedup can only be as large as the idle time the one-worker burst left
        "notifier.one_worker_machine_busy": median("one_busy"),
        "notifier.two_workers_machine_busy": median("two_busy"),
        "notifier.two_workers_machine_steal": median("two_steal"),
        "notifier.sms_per_s": median("sms"),
        "notifier.raw_httpx_per_s": median("raw"),
        "notifier.ratio": statistics.median(r["sms"] / r["raw"] for r in rounds),
        "notifier.two_workers_sms_per_s": median("two"),
        "notifier.two_worker_speedup": statistics.median(r["two"] / r["sms"] for r in rounds),
        "notifier.gateway_two_raw_loops_per_s": median("ceiling"),
    }


def render_rate(ctx: BenchContext) -> dict[str, float]:
    """Welcome renders per second, SMS and e-mail alternately (one render = one message)."""
    renderer = Renderer(Content())
    person = json.loads(next(registrations(1))[1])["data"]
    person["email"] = "sri.wahyuni@example.co.id"
    count = ctx.size(20_000, 2_000)
    started = time.perf_counter()
    for i in range(count):
        channel = "sms" if i % 2 else "email"
        renderer.render(key=f"k{i}", kind="welcome", channel=channel, person=person, params={})
    return {"notifier.render_per_s": count / (time.perf_counter() - started)}


def _night_offset(now: datetime) -> float:
    """Seconds to the next 16:00 UTC: 23:00 WIB, 00:00 WITA, 01:00 WIT, quiet hours in every
    zone, so welcomes are deferred and the notifier only holds people, it sends nothing."""
    target = now.replace(hour=16, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return (target - now).total_seconds()


def _input_events(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("notifier_input_events_total{")
    )


def _take_in(ctx: BenchContext, url: str, topic: str, count: int, since: datetime) -> float:
    """Registrations taken in per second by the worker at `url` between 10 % and 100 % of a
    burst of `count` (producer start-up and group join excluded)."""
    producer = threading.Thread(
        target=produce,
        args=(ctx.kafka, topic, registrations(count, campaign="BENCH", since=since)),
    )
    producer.start()

    def reached(share: int) -> float:
        def mark() -> float | None:
            return time.perf_counter() if _input_events(url) >= share else None

        return wait_until(
            mark, ctx.size(3600, 300), f"the worker to take in {share} registrations", every=1.0
        )

    tenth, done = reached(count // 10), reached(count)
    producer.join()
    return (count - count // 10) / (done - tenth)


def _intake_floor(ctx: BenchContext, count: int, since: datetime) -> float:
    """The same burst through `bench.ingest_floor` (one table write, one event each)."""
    folder = ctx.folder("notifier-floor")
    topic = _namespaced_topics(ctx, f"{folder.name}.")
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": ctx.kafka.bootstrap_servers,
        "FLOOR_APP_ID": f"bench-floor-{uuid.uuid4().hex[:8]}",
        "FLOOR_TOPIC_NAMESPACE": f"{folder.name}.",
        "FLOOR_PARTITIONS": str(PARTICIPANTS.partitions),
        "FLOOR_DATA_DIR": str(folder / "faust"),
        "FLOOR_PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}"
    argv = ["-m", "bench.ingest_floor"]
    with serving(argv, f"{url}/metrics", folder / "floor.log", env):
        return _take_in(ctx, url, topic, count, since)


def memory_with_many_participants(ctx: BenchContext) -> dict[str, float]:
    """One worker takes in 1,000,000 registrations through the real topics during quiet hours
    (every welcome deferred, nothing sent): its peak RSS, and registrations taken in per second
    between 10 % and 100 % of the burst; the same burst through the intake floor beside it."""
    count = ctx.size(1_000_000, 2_000)
    folder = ctx.folder("notifier-memory")
    gateway_argv, gateway = _gateway(ctx, folder / "gateway")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    topic = _namespaced_topics(ctx, f"{folder.name}.")
    offset = _night_offset(datetime.now(UTC))
    env = _notifier_env(ctx, folder, gateway, port, offset)
    # registered "now" on the worker's clock, as in the field: the first reminder lies ahead
    since = datetime.now(UTC) + timedelta(seconds=offset)
    floor = _intake_floor(ctx, count, since)
    with (
        serving(gateway_argv, f"{gateway}/healthz", folder / "gateway.log"),
        serving(["-m", "services.notifier", "worker"], f"{url}/readyz", folder / "n.log", env) as n,
    ):
        rate = _take_in(ctx, url, topic, count, since)
        peak = peak_rss_mb(n.pid)
        if _received(gateway):
            raise RuntimeError("messages were sent during quiet hours: the figure would be wrong")
    label = "1m" if count == 1_000_000 else str(count)
    return {
        f"memory.notifier_{label}_participants_rss_mb": peak,
        "notifier.ingest_per_s": rate,
        "notifier.ingest_floor_per_s": floor,
        "notifier.ingest_vs_floor": rate / floor,
    }


def measure(ctx: BenchContext) -> dict[str, float]:
    return {**render_rate(ctx), **sms_against_raw_httpx(ctx)}


def measure_memory(ctx: BenchContext) -> dict[str, float]:
    """A section of its own: a million registrations take most of an hour here."""
    return memory_with_many_participants(ctx)
