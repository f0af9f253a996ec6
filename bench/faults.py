"""The fault scenarios of issue 6: what each one does to the running platform, and when.

Each scenario is a function run in a thread beside the registration load; it receives the
platform and a `stop` event, does its damage on a schedule, and always repairs it.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from kafka import KafkaProducer

from bench.driver import PlatformRun, wait_until
from services.common.ports import free_port

Fault = Callable[[PlatformRun, "Timing"], dict[str, object]]


@dataclass(frozen=True)
class Timing:
    """Scaled durations: the full run holds faults 30 s, the quick subset a few seconds."""

    outage_s: float
    load_s: float

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def broker_unreachable(run: PlatformRun, t: Timing) -> dict[str, object]:
    """Freeze the embedded broker (SIGSTOP: it keeps its in-memory data), then thaw it."""
    broker = run.live().broker
    if broker is None:
        raise RuntimeError("needs the embedded broker (against a real cluster restart a broker)")
    t.sleep(t.load_s * 0.2)
    broker.freeze()
    try:
        t.sleep(t.outage_s)
    finally:
        broker.thaw()
    return {"frozen_s": t.outage_s}


def notifier_killed_three_times(run: PlatformRun, t: Timing) -> dict[str, object]:
    platform = run.live()
    for _ in range(3):
        t.sleep(t.load_s / 4)
        platform.kill("notifier", signal.SIGKILL)
        platform.restart("notifier")
        platform.wait_ready(timeout=300, names={"notifier"})
    return {"kills": 3}


# longer than the group's rebalance timeout (10 s): the coordinator evicts the stalled worker
STALL_PAST_SESSION_S = 20.0


def notifier_stalled(run: PlatformRun, t: Timing) -> dict[str, object]:
    """Stop the notifier (SIGSTOP), as a starved or swapping host would, until its group
    evicts it; on SIGCONT it must rejoin, recover its tables and finish the work.

    Measured on the embedded broker: a member that is merely silent is not evicted (30 s
    frozen, same generation after). A rebalance evicts it, so a second worker joins during
    the stall (taking every partition once the frozen one misses the rebalance timeout) and
    leaves before the first resumes.
    """
    platform = run.live()
    t.sleep(t.load_s * 0.3)
    stalled = max(t.outage_s, STALL_PAST_SESSION_S)
    platform.kill("notifier", signal.SIGSTOP)
    try:
        _second_worker(run, "notifier")
        t.sleep(stalled)
        platform.kill("notifier-2", signal.SIGTERM)
    finally:
        platform.kill("notifier", signal.SIGCONT)
    return {"stalled_s": stalled, "evicted_by": "notifier-2"}


def _second_worker(run: PlatformRun, service: str, name: str | None = None) -> str:
    """Start another worker of `service` (default name `<service>-2`) with its own port and
    data folder; returns its name."""
    prefix = service.upper()
    name = name or f"{service}-2"
    port = free_port()
    run.live().spawn_copy(
        service,
        name,
        {
            f"{prefix}_PORT": str(port),
            f"{prefix}_DATA_DIR": str(run.root / "data" / name),
        },
        port=port,
    )
    return name


def with_two_notifiers(run: PlatformRun) -> None:
    """Every scenario but the scale-out one runs with two notifier workers from the start."""
    name = _second_worker(run, "notifier", "notifier-b")
    run.live().wait_ready(timeout=300, names={name})


def notifier_scale_out(run: PlatformRun, t: Timing) -> dict[str, object]:
    """One notifier worker at first; a second and a third join mid-burst, one is SIGKILLed and
    one leaves gracefully: the partitions move four times while messages flow."""
    platform = run.live()
    t.sleep(t.load_s * 0.15)
    second = _second_worker(run, "notifier", "notifier-2")
    t.sleep(t.load_s * 0.15)
    third = _second_worker(run, "notifier", "notifier-3")
    t.sleep(t.load_s * 0.2)
    platform.kill(second, signal.SIGKILL)
    t.sleep(t.load_s * 0.2)
    platform.kill(third, signal.SIGTERM)
    return {"joined": [second, third], "killed": second, "stopped": third}


def reporting_killed_and_restarted(run: PlatformRun, t: Timing) -> dict[str, object]:
    platform = run.live()
    t.sleep(t.load_s / 2)
    platform.kill("reporting", signal.SIGKILL)
    platform.restart("reporting")
    platform.wait_ready(timeout=300, names={"reporting"})
    return {"kills": 1}


def _gateway(run: PlatformRun, body: dict[str, object]) -> None:
    httpx.post(f"{run.url('sms_gateway')}/control", json=body, timeout=10).raise_for_status()


def providers_down(run: PlatformRun, t: Timing) -> dict[str, object]:
    """SMS gateway answers 500 and times out for a while; then the SMTP server is down."""
    platform = run.live()
    t.sleep(t.load_s * 0.2)
    _gateway(run, {"status": 500, "count": -1})
    t.sleep(t.outage_s / 2)
    _gateway(run, {"reset": True})
    _gateway(run, {"delay": 15, "count": 20})  # beyond the adapter's timeout
    t.sleep(t.outage_s / 2)
    _gateway(run, {"reset": True})
    platform.kill("smtp-sink", signal.SIGKILL)
    t.sleep(t.outage_s)
    platform.restart("smtp-sink")
    return {"sms_outage_s": t.outage_s, "smtp_outage_s": t.outage_s}


#: NOTIFIER_SMS_BREAKER_COOL_DOWN_SECONDS (default): the first gateway gets a probe this long
#: after its breaker opened, so it takes traffic again at most this long after it is back
BREAKER_COOL_DOWN_S = 15.0


def sms_failover(run: PlatformRun, t: Timing) -> dict[str, object]:
    """The first of two SMS gateways dies (SIGKILL: connections refused) for twice the outage
    (60 s in the full run) under the load, then comes back. Messages must go through the
    second within seconds, and to the first again once it is back."""
    platform = run.live()
    first, second = run.gateway_urls()
    t.sleep(t.load_s * 0.2)
    platform.kill("sms-gateway", signal.SIGKILL)
    down_at = time.time()
    t.sleep(2 * t.outage_s)
    platform.restart("sms-gateway")
    platform.wait_ready(timeout=60, names={"sms-gateway"})
    up_at = time.time()
    took_over = _first_after(run, second, down_at)
    if took_over is None:
        raise RuntimeError("the second gateway accepted nothing while the first was down")
    back = wait_until(
        lambda: _first_after(run, first, up_at), 2 * BREAKER_COOL_DOWN_S + 30, "the first again"
    )
    return {
        "first_down_s": round(up_at - down_at, 1),
        "second_took_over_after_s": round(took_over - down_at, 2),
        "first_took_traffic_again_after_s": round(back - up_at, 2),
    }


def _first_after(run: PlatformRun, gateway: str, moment: float) -> float | None:
    """When the gateway accepted its first message after `moment` (epoch seconds)."""
    stamps = [
        datetime.fromisoformat(m["received_at"]).timestamp() for m in run.sms_messages(gateway)
    ]
    later = [stamp for stamp in stamps if stamp > moment]
    return min(later) if later else None


def rate_limited(run: PlatformRun, t: Timing) -> dict[str, object]:
    t.sleep(t.load_s * 0.2)
    _gateway(run, {"status": 429, "count": 50, "retry_after": 2})
    return {"answered_429": 50}


MALFORMED: tuple[bytes, ...] = (
    b"\x00\xffnot json at all",
    b'{"specversion": "1.0", "type": "participant.registered"}',
    json.dumps(
        {
            "specversion": "1.0",
            "id": "00000000-0000-4000-8000-000000000000",
            "source": "/bench/poison",
            "type": "participant.registered",
            "time": "2026-11-29T00:00:00Z",
            "subject": "poison",
            "dataschema": "urn:bebas-cemas:schema:participant.registered:v2",
            "data": {"participant_id": "poison", "full_name": ""},
        }
    ).encode(),
)
INPUT_TOPICS = (
    "bebas.participants",
    "bebas.campaigns",
    "bebas.notifications",
    "bebas.notifier.work",
    "bebas.enrollment.requests",
)


def malformed_everywhere(run: PlatformRun, t: Timing) -> dict[str, object]:
    platform = run.live()
    assert platform.ctx is not None
    producer = KafkaProducer(bootstrap_servers=platform.ctx.bootstrap_servers)
    t.sleep(t.load_s * 0.3)
    for topic in INPUT_TOPICS:
        for poison in MALFORMED:
            producer.send(topic, key=b"poison", value=poison)
    producer.flush()
    producer.close()
    return {"injected": len(INPUT_TOPICS) * len(MALFORMED)}


def workers_join_and_leave(run: PlatformRun, t: Timing) -> dict[str, object]:
    """A second reporting and a second notifier worker join mid-run, then leave."""
    platform = run.live()
    t.sleep(t.load_s * 0.2)
    _second_worker(run, "reporting")
    _second_worker(run, "notifier")
    t.sleep(t.outage_s)
    platform.kill("notifier-2", signal.SIGTERM)
    platform.kill("reporting-2", signal.SIGTERM)
    return {"joined": ["reporting-2", "notifier-2"]}


SCENARIOS: dict[str, Fault] = {
    "broker_unreachable": broker_unreachable,
    "notifier_sigkill_x3": notifier_killed_three_times,
    "notifier_stalled": notifier_stalled,
    "reporting_restart": reporting_killed_and_restarted,
    "providers_down": providers_down,
    "rate_limited_429": rate_limited,
    "malformed_input": malformed_everywhere,
    "workers_join_and_leave": workers_join_and_leave,
    "notifier_scale_out": notifier_scale_out,
    "sms_failover": sms_failover,
}


def run_in_thread(
    fault: Fault, run: PlatformRun, timing: Timing
) -> Callable[[], dict[str, object]]:
    """Start the fault; the returned join() waits for it and re-raises what it raised."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["result"] = fault(run, timing)
        except BaseException as exc:  # reported by join()
            box["error"] = exc

    thread = threading.Thread(target=target, name="fault", daemon=True)
    thread.start()

    def join() -> dict[str, object]:
        thread.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["result"]  # type: ignore[return-value]

    return join
