"""notifier.*: welcome SMS per second from registration events to the local HTTP gateway,
against a plain async httpx loop posting the same bodies to the same gateway; template
renders per second; and memory with many participants held in the notifier's tables.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.context import BenchContext
from bench.driver import daytime_offset, wait_until
from bench.kafka_load import produce, registrations
from bench.processes import serving
from bench.rss import current_rss_mb, peak_rss_mb
from schemas.topics import CATALOGUE
from services.common.broker import free_port
from services.common.topic_admin import create_topic
from services.notifier.render import Content, Renderer

API_KEY = "bench-key"


def _gateway(ctx: BenchContext, folder: Path) -> tuple[list[str], str]:
    port = free_port()
    argv = ["-m", "services.notifier.sinks.sms_gateway", "--port", str(port)]
    argv += ["--data-dir", str(folder), "--api-key", API_KEY]
    return argv, f"http://127.0.0.1:{port}"


def _notifier_env(
    ctx: BenchContext, folder: Path, gateway: str, port: int, offset_s: float
) -> dict[str, str]:
    clock = folder / "clock-offset"
    clock.write_text(str(offset_s), encoding="utf-8")
    return {
        "KAFKA_BOOTSTRAP_SERVERS": ctx.kafka.bootstrap_servers,
        "NOTIFIER_PORT": str(port),
        "NOTIFIER_DATA_DIR": str(folder / "notifier"),
        "NOTIFIER_APP_ID": f"bench-notifier-{uuid.uuid4().hex[:8]}",
        "NOTIFIER_TOPIC_NAMESPACE": f"{folder.name}.",
        "NOTIFIER_SMS_GATEWAY_URL": gateway,
        "NOTIFIER_SMS_API_KEY": API_KEY,
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


def sms_against_raw_httpx(ctx: BenchContext) -> dict[str, float]:
    count = ctx.size(5_000, 1_000)
    folder = ctx.folder("notifier-sms")
    gateway_argv, gateway = _gateway(ctx, folder / "gateway")
    port = free_port()
    topic = _namespaced_topics(ctx, f"{folder.name}.")
    env = _notifier_env(ctx, folder, gateway, port, daytime_offset(datetime.now(UTC)))
    notifier_argv = ["-m", "services.notifier", "worker"]
    with (
        serving(gateway_argv, f"{gateway}/healthz", folder / "gateway.log"),
        serving(notifier_argv, f"http://127.0.0.1:{port}/readyz", folder / "n.log", env),
    ):
        produce(ctx.kafka, topic, registrations(count, campaign="BENCH"))
        sent = wait_until(
            lambda: m if len(m := _received(gateway)) >= count else None,
            ctx.size(900, 300),
            f"{count} welcome SMS at the gateway",
            every=2.0,
        )
        notifier_rate = _rate(sent)
        bodies = [
            {"to": m["to"], "text": m["text"], "sender": m["sender"], "reference": f"raw-{i}"}
            for i, m in enumerate(sent)
        ]
        raw_rate = asyncio.run(_post_all(gateway, bodies, concurrency=8))
    return {
        "notifier.sms_per_s": notifier_rate,
        "notifier.raw_httpx_per_s": raw_rate,
        "notifier.ratio": notifier_rate / raw_rate,
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


def memory_with_many_participants(ctx: BenchContext) -> dict[str, float]:
    # The notifier takes people in at a few hundred per second on the embedded broker, so
    # 1,000,000 would take hours: measure 20,000 and
    # report the per-person slope and the straight-line estimate for a million beside it.
    count = ctx.size(20_000, 2_000)
    folder = ctx.folder("notifier-memory")
    gateway_argv, gateway = _gateway(ctx, folder / "gateway")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    topic = _namespaced_topics(ctx, f"{folder.name}.")
    env = _notifier_env(ctx, folder, gateway, port, _night_offset(datetime.now(UTC)))
    with (
        serving(gateway_argv, f"{gateway}/healthz", folder / "gateway.log"),
        serving(["-m", "services.notifier", "worker"], f"{url}/readyz", folder / "n.log", env) as n,
    ):
        baseline = current_rss_mb(n.pid)
        started = time.perf_counter()
        produce(ctx.kafka, topic, registrations(count, campaign="BENCH"))
        wait_until(
            lambda: _input_events(url) >= count,
            ctx.size(1800, 300),
            f"the notifier to take in {count} registrations",
            every=5.0,
        )
        ingest = count / (time.perf_counter() - started)
        held, peak = current_rss_mb(n.pid), peak_rss_mb(n.pid)
        if _received(gateway):
            raise RuntimeError("messages were sent during quiet hours: the figure would be wrong")
    per_person_kb = (held - baseline) * 1024 / count
    return {
        f"memory.notifier_{count}_participants_rss_mb": peak,
        "memory.notifier_kb_per_participant": per_person_kb,
        "memory.notifier_1m_participants_rss_mb_estimate": baseline + per_person_kb * 1000,
        "notifier.ingest_per_s": ingest,
    }


def measure(ctx: BenchContext) -> dict[str, float]:
    return {
        **render_rate(ctx),
        **sms_against_raw_httpx(ctx),
        **memory_with_many_participants(ctx),
    }
