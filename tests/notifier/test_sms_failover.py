"""Integration: SMS failover between two real gateway processes, on the session's real broker,
with the notifier worker as a process. The breaker's cool-down runs on the notifier's clock,
which the test moves (NOTIFIER_CLOCK_OFFSET_FILE): nothing waits for it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.kafka_settings import KafkaSettings
from tests.notifier.factories import registered
from tests.notifier.harness import Stack, running_stack, wait_for

pytestmark = pytest.mark.integration
COOL_DOWN_S = 120  # longer than the test: only moving the clock ends it
BATCH = 6


@pytest.fixture(scope="module")
def stack(
    kafka_settings: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    env = {
        "NOTIFIER_SMS_BREAKER_FAILURES": "2",
        "NOTIFIER_SMS_BREAKER_COOL_DOWN_SECONDS": str(COOL_DOWN_S),
    }
    root: Path = tmp_path_factory.mktemp("notifier-failover")
    with running_stack(kafka_settings, root, gateways=2, extra_env=env) as running:
        yield running


def _register(stack: Stack, count: int) -> list[str]:
    pids = []
    for _ in range(count):
        event = registered(stack.now(), email=None)
        stack.publish(event, event.participant_id, "bebas.participants")
        pids.append(event.participant_id)
    return pids


def _sent(stack: Stack, pids: list[str]) -> dict[str, dict[str, Any]]:
    wanted = set(pids)
    return {
        e["subject"]: e["data"]
        for e in stack.notifications()
        if e["type"] == "notification.sent" and e["subject"] in wanted
    }


def _all_sent(stack: Stack, pids: list[str]) -> dict[str, dict[str, Any]]:
    def every() -> dict[str, dict[str, Any]] | None:
        sent = _sent(stack, pids)
        return sent if len(sent) == len(pids) else None

    found: dict[str, dict[str, Any]] = wait_for(every, timeout=40)
    return found


def _breaker(stack: Stack, provider: str) -> float:
    text = httpx.get(f"{stack.url}/metrics", timeout=5).text
    line = f'notifier_provider_breaker_state{{channel="sms",provider="{provider}"}} '
    (value,) = [row[len(line) :] for row in text.splitlines() if row.startswith(line)]
    return float(value)


def _keys(stack: Stack, gateway: int) -> list[str]:
    return [row["reference"] for row in stack.sms(gateway=gateway)]


def test_sms_fail_over_to_the_second_gateway_and_come_back_once_the_first_recovers(
    stack: Stack,
) -> None:
    # 1. a timeout after sending: the retry goes back to the first gateway, never the second
    (held,) = _register_with_delay(stack)
    sent = _all_sent(stack, [held])
    assert (sent[held]["provider"], sent[held]["attempt"]) == ("gw-1", 2)
    wait_for(lambda: len(stack.sms_requests(held)) == 2)  # the held request is logged last
    assert not [r for r in stack.sms_requests_all(1) if r["reference"].startswith(held)]

    # 2. the first gateway answers 503 to everything: its breaker opens, the second sends
    stack.gateway_control(0, status=503, count=-1)
    down = _register(stack, BATCH)
    sent = _all_sent(stack, down)
    assert {data["provider"] for data in sent.values()} == {"gw-2"}
    assert {data["attempt"] for data in sent.values()} == {1}  # no message waited in retries
    assert wait_for(lambda: _breaker(stack, "gw-1") == 2)
    before = len(stack.sms_requests_all(0))
    open_ = _register(stack, BATCH)
    sent = _all_sent(stack, open_)
    assert {data["provider"] for data in sent.values()} == {"gw-2"}
    assert len(stack.sms_requests_all(0)) == before  # skipped while open: not even asked

    # 3. the first gateway recovers; once the cool-down is over a probe closes its breaker
    stack.gateway_control(0, reset=True)
    stack.set_clock(stack.now() + timedelta(seconds=COOL_DOWN_S + 1))
    probing = _register(stack, BATCH)
    sent = _all_sent(stack, probing)
    assert "gw-1" in {data["provider"] for data in sent.values()}
    assert wait_for(lambda: _breaker(stack, "gw-1") == 0)
    back = _register(stack, BATCH)
    sent = _all_sent(stack, back)
    assert {data["provider"] for data in sent.values()} == {"gw-1"}

    # every message reached one gateway once, and the event names that gateway
    pids = [held, *down, *open_, *probing, *back]
    everything = _sent(stack, pids)
    on = {0: _keys(stack, 0), 1: _keys(stack, 1)}
    assert sorted(on[0] + on[1]) == sorted(f"{pid}|welcome|once|sms" for pid in pids)
    assert not [key for key, n in Counter(on[0] + on[1]).items() if n > 1]
    for pid, data in everything.items():
        gateway = 0 if data["provider"] == "gw-1" else 1
        assert f"{pid}|welcome|once|sms" in on[gateway]


def _register_with_delay(stack: Stack) -> list[str]:
    event = registered(stack.now(), email=None)
    # the first gateway holds the request past the notifier's 2 s timeout, then accepts it
    stack.gateway_control(0, delay=3, count=1, to=event.phone_e164)
    stack.publish(event, event.participant_id, "bebas.participants")
    return [event.participant_id]
