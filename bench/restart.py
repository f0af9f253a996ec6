"""platform.restart_s: `make run` again in the same folder after a stop, with 10,000
participants registered before it, until its URLs are printed and reporting's figures equal
those before the stop.

The platform runs as `make run` runs it (`services.platform`: a fresh embedded broker each
start, given the topics the stop copied, services/common/topic_copy.py). The figures are the
campaign's (enrolments, messages sent and delivered by kind, payments). `platform.stop_s` is the
stop itself: the services, the copy of the broker's topics, the broker.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from bench.context import BenchContext
from bench.driver import PlatformRun, wait_until
from bench.enrollment import BRANCH, write_sheet


def measure(ctx: BenchContext) -> dict[str, float]:
    people = ctx.size(10_000, 300)
    run = PlatformRun(ctx.folder("restart"))
    run.start()
    try:
        campaign = "RESTART-" + uuid.uuid4().hex[:6].upper()
        run.create_campaign(campaign, branches=[BRANCH])
        _import(run, people, campaign)
        before = wait_until(
            lambda: _settled(run, campaign, people), 900, "every welcome counted", every=2.0
        )
        stopping = time.monotonic()
        run.stop()  # services, then the copy of the broker's topics, then the broker
        stop = time.monotonic() - stopping
        started = time.monotonic()
        run.start(ready_timeout=600)
        ready = time.monotonic() - started
        wait_until(
            lambda: _metrics(run, campaign) == before,
            900,
            "reporting's figures as before the stop",
            every=0.5,
        )
        restart = time.monotonic() - started
    finally:
        run.stop()
    return {
        "platform.restart_s": restart,
        "platform.restart_ready_s": ready,
        "platform.stop_s": stop,
        "platform.restart_participants": float(people),
    }


def _import(run: PlatformRun, rows: int, campaign: str) -> None:
    sheet = run.root / "sheet.csv"
    write_sheet(sheet, rows, salt=7000 + uuid.uuid4().int % 1000, campaign=campaign)
    with sheet.open("rb") as upload, run.api() as api:
        response = api.post(
            "/v1/imports", files={"file": ("sheet.csv", upload, "text/csv")}, timeout=600
        )
    response.raise_for_status()
    if (registered := response.json()["registered"]) != rows:
        raise RuntimeError(f"import registered {registered} of {rows} rows")


def _metrics(run: PlatformRun, campaign: str) -> dict[str, Any]:
    url = f"{run.url('reporting')}/v1/campaigns/{campaign}/metrics"
    try:
        response = httpx.get(url, headers=run.auth, timeout=30)
    except httpx.HTTPError:
        return {}
    return dict(response.json()) if response.status_code == 200 else {}


def _settled(run: PlatformRun, campaign: str, people: int) -> dict[str, Any] | None:
    """The figures once every welcome SMS is counted as sent and delivered (the gateway's
    receipts), so they no longer move."""
    metrics = _metrics(run, campaign)
    welcome = metrics.get("messages", {}).get("by_kind", {}).get("welcome", {})
    if welcome.get("sent") == people and welcome.get("delivered") == people:
        return metrics
    return None
