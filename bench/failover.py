"""notifier.failover_switch_*: under a steady registration load one notifier worker sends
welcome SMS through two local gateways in failover order; the first one fails, and the figure
is the time from that moment to the first message the second one accepts.

Two ways of failing, one after the other on the same worker:
 - `hung`: the first gateway still takes connections but answers nothing (`/control` delay):
   each request waits for the adapter's timeout (NOTIFIER_SMS_TIMEOUT_SECONDS), may have been
   taken, so stays with that gateway; the breaker opens after NOTIFIER_SMS_BREAKER_FAILURES
   timeouts and only the messages after that go to the second. The switch cannot be quicker
   than one timeout.
 - `killed` (`notifier.failover_switch_ms`, the target): the first gateway's process dies, so
   connections are refused: surely not taken, the same send passes the message on.
Between the two the first gateway recovers and the worker's clock is moved past the breaker's
cool-down, so the first gateway takes the traffic again before it is killed.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from kafka import KafkaProducer

from bench.context import BenchContext
from bench.driver import daytime_offset, wait_until
from bench.kafka_load import registrations
from bench.notifier import API_KEY, _gateway, _namespaced_topics, _received
from bench.processes import serving
from services.common.ports import free_port

RATE_PER_S = 50.0
BREAKER_COOL_DOWN_S = 15.0  # NOTIFIER_SMS_BREAKER_COOL_DOWN_SECONDS default


def _steady(ctx: BenchContext, topic: str, since: datetime, stop: threading.Event) -> None:
    """Registrations at RATE_PER_S until `stop`, each acknowledged before the next is due."""
    producer = KafkaProducer(**ctx.kafka.kafka_python_config(), linger_ms=0)
    try:
        started = time.monotonic()
        for i, (key, value) in enumerate(registrations(10_000_000, since=since)):
            if stop.is_set():
                return
            time.sleep(max(0.0, started + i / RATE_PER_S - time.monotonic()))
            producer.send(topic, key=key.encode(), value=value)
            if i % 10 == 0:
                producer.flush()
    finally:
        producer.close()


def _accepted_after(gateway: str, moment: float) -> float | None:
    """When the gateway accepted its first message after `moment` (epoch seconds)."""
    stamps = [datetime.fromisoformat(m["received_at"]).timestamp() for m in _received(gateway)]
    later = [stamp for stamp in stamps if stamp > moment]
    return min(later) if later else None


def _control(gateway: str, body: dict[str, Any]) -> None:
    httpx.post(f"{gateway}/control", json=body, timeout=10).raise_for_status()


def _switch(first: str, second: str, fail: Any, timeout: float) -> float:
    """Milliseconds from `fail()` (the first gateway fails) to the second's next acceptance."""

    def first_only() -> bool:
        # the first takes the traffic, the second nothing lately (a half-open breaker passes
        # messages on while its probe is under way)
        now = time.time()
        return bool(_accepted_after(first, now - 1.0)) and not _accepted_after(second, now - 2.0)

    wait_until(first_only, 60, "traffic on the first gateway only")
    failed_at = time.time()
    fail()
    accepted = wait_until(
        lambda: _accepted_after(second, failed_at), timeout, "a message on the second gateway"
    )
    return (accepted - failed_at) * 1000


def measure(ctx: BenchContext) -> dict[str, float]:
    folder = ctx.folder("notifier-failover")
    first_argv, first = _gateway(ctx, folder / "gw-1")
    second_argv, second = _gateway(ctx, folder / "gw-2")
    topic = _namespaced_topics(ctx, f"{folder.name}.")
    offset = daytime_offset(datetime.now(UTC))
    clock = folder / "clock-offset"
    clock.write_text(str(offset), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    providers = [
        {"name": f"gw-{n}", "kind": "gateway", "url": gateway, "key": API_KEY}
        for n, gateway in ((1, first), (2, second))
    ]
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": ctx.kafka.bootstrap_servers,
        "NOTIFIER_PORT": str(port),
        "NOTIFIER_DATA_DIR": str(folder / "notifier"),
        "NOTIFIER_APP_ID": f"bench-notifier-{uuid.uuid4().hex[:8]}",
        "NOTIFIER_TOPIC_NAMESPACE": f"{folder.name}.",
        "NOTIFIER_SMS_PROVIDERS": json.dumps(providers),
        "NOTIFIER_SMS_CALLBACK_SECRET": secrets.token_urlsafe(32),
        "NOTIFIER_CLOCK_OFFSET_FILE": str(clock),
        "NOTIFIER_LOGLEVEL": "warn",
    }
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        gw1 = stack.enter_context(serving(first_argv, f"{first}/healthz", folder / "gw-1.log"))
        stack.enter_context(serving(second_argv, f"{second}/healthz", folder / "gw-2.log"))
        argv = ["-m", "services.notifier", "worker"]
        stack.enter_context(serving(argv, f"{url}/readyz", folder / "notifier.log", env))
        since = datetime.now(UTC) + timedelta(seconds=offset)
        load = threading.Thread(target=_steady, args=(ctx, topic, since, stop), daemon=True)
        load.start()
        stack.callback(load.join)
        stack.callback(stop.set)
        hung = _switch(first, second, lambda: _control(first, {"delay": 3600, "count": -1}), 120)
        # recovery: the first answers again, the worker's clock passes the cool-down
        _control(first, {"reset": True})
        offset += BREAKER_COOL_DOWN_S + 1
        clock.write_text(str(offset), encoding="utf-8")
        killed = _switch(first, second, gw1.kill, 60)
    return {"notifier.failover_switch_ms": killed, "notifier.failover_switch_hung_ms": hung}
