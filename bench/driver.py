"""Drive the whole platform as a user would: the same launcher as `make run`, public doors only.

Used by the end-to-end tests, `make reliability` and the e2e part of `make bench`. Everything
it reads comes through a public interface: the HTTP APIs, the SMS gateway's message list, the
SMTP sink's mailbox, Kafka topics.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from services.common.clock import move_offset_clock
from services.common.ports import free_port
from services.notifier.launch import SECOND_GATEWAY_PORT
from services.platform import DEFAULT_PORTS, Platform

T = TypeVar("T")
BRANCHES = ("SURAKARTA", "SEMARANG", "DENPASAR", "MAKASSAR", "JAYAPURA")
SEGMENTS = ("trader", "ojek", "farmer", "fisher", "labourer", "other")


def daytime_offset(now: datetime) -> float:
    """Seconds to push a clock to the next 02:00 UTC: 09:00 WIB, 10:00 WITA, 11:00 WIT.

    From there every Indonesian zone stays outside the 21:00-08:00 SMS quiet hours for 12
    hours, so a run started at any hour sees its SMS sent, not deferred.
    """
    target = now.astimezone(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return (target - now).total_seconds()


def registration(nik: str, phone: str, i: int, campaign: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "full_name": f"Peserta Uji {i}",
        "nik": nik,
        "phone": phone,
        "segment": SEGMENTS[i % len(SEGMENTS)],
        "branch_code": BRANCHES[i % len(BRANCHES)],
        "campaign_code": campaign,
        "programmes": ["JKK", "JKM"],
        "declared_income": 1_000_000,
        "preferred_channel": "sms",
        "language": "id",
        "consent_reminders": True,
        "source": "field",
    }
    body.update(overrides)
    return body


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, every: float = 0.25) -> T:
    """Poll probe until it returns something truthy; raise naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@dataclass
class PlatformRun:
    """One platform (broker + services + local sinks) under a scratch folder."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    admin_key: str = field(default_factory=lambda: "bc_admin_" + secrets.token_urlsafe(24))
    platform: Platform | None = None
    #: 2: a second local SMS gateway the notifier fails over to (services/notifier/launch.py)
    sms_gateways: int = 1

    @property
    def clock_file(self) -> Path:
        return self.root / "clock-offset-seconds"

    @property
    def enrollment_clock_file(self) -> Path:
        return self.root / "enrollment-clock-offset-seconds"

    def start(self, ready_timeout: float = 180) -> None:
        ports = {name: free_port() for name in DEFAULT_PORTS}
        if self.sms_gateways > 1:
            ports[SECOND_GATEWAY_PORT] = free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        self.clock_file.write_text(str(daytime_offset(datetime.now(UTC))), encoding="utf-8")
        self.enrollment_clock_file.write_text("0", encoding="utf-8")  # real time until moved
        env = {
            "ENROLLMENT_BOOTSTRAP_ADMIN_KEY": self.admin_key,
            "ENROLLMENT_CLOCK_OFFSET_FILE": str(self.enrollment_clock_file),
            "NOTIFIER_CLOCK_OFFSET_FILE": str(self.clock_file),
            **self.extra_env,
        }
        self.platform = Platform(self.root / "data", ports, env=env)
        try:
            self.platform.start()
            self.platform.wait_ready(timeout=ready_timeout)
        except BaseException:
            self.platform.stop()  # callers only stop runs that started: leave nothing behind
            raise

    def stop(self) -> None:
        if self.platform:
            self.platform.stop()

    def live(self) -> Platform:
        assert self.platform is not None, "start() first"
        return self.platform

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.live().ports[service]}"

    def advance_clock(self, delta: timedelta) -> None:
        """Move the notifier's clock forward; returns once the running notifier sees it."""
        offset = float(self.clock_file.read_text(encoding="utf-8")) + delta.total_seconds()
        move_offset_clock(self.clock_file, offset)

    def notifier_now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=float(self.clock_file.read_text("utf-8")))

    def move_clocks_to(self, when: datetime) -> None:
        """Put enrollment's and the notifier's clocks on `when` (a registration stamped on a
        chosen day), forward only: a clock that went back would re-live its own past."""
        for path in (self.enrollment_clock_file, self.clock_file):
            offset = float(path.read_text(encoding="utf-8"))
            now = datetime.now(UTC) + timedelta(seconds=offset)
            if when < now:
                raise ValueError(f"{path.name} is already at {now.isoformat()}, after {when}")
            # a running service reads its clock file at most every REREAD_S: until then it
            # still stamps the old day (a registration right after a move was dated two days
            # early); this returns once it reads the new one
            move_offset_clock(path, offset + (when - now).total_seconds())

    def enrollment_now(self) -> datetime:
        offset = float(self.enrollment_clock_file.read_text("utf-8"))
        return datetime.now(UTC) + timedelta(seconds=offset)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url("enrollment"), headers=self.auth, timeout=30)

    def create_campaign(self, code: str, branches: Iterable[str] = ()) -> dict[str, Any]:
        """A campaign running in the given branches (none: every branch), starting today."""
        body = {
            "code": code,
            "name": f"Kerja Keras Bebas Cemas – {code}",
            "branch_codes": list(branches),
            "starts_on": datetime.now(UTC).date().isoformat(),
        }
        with self.api() as api:
            response = api.post("/v1/campaigns", json=body)
        response.raise_for_status()
        return dict(response.json())

    def gateway_urls(self) -> list[str]:
        names = ["sms_gateway"] + ([SECOND_GATEWAY_PORT] if self.sms_gateways > 1 else [])
        return [self.url(name) for name in names]

    def sms_messages(self, gateway: str | None = None) -> list[dict[str, Any]]:
        """What the local SMS gateways accepted (all of them, or the one at `gateway`)."""
        messages: list[dict[str, Any]] = []
        for url in [gateway] if gateway else self.gateway_urls():
            response = httpx.get(f"{url}/messages", timeout=30)
            response.raise_for_status()
            body = response.json()
            messages += body["messages"] if isinstance(body, dict) else body
        return messages

    def mails(self) -> list[dict[str, Any]]:
        found = list((self.root / "data").rglob("mail.jsonl"))
        if not found:
            return []
        lines = found[0].read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def register_all(
        self,
        bodies: Iterable[dict[str, Any]],
        concurrency: int = 8,
        rate: float | None = None,
        sent_at: list[float] | None = None,
    ) -> list[httpx.Response]:
        """POST every body (paced at `rate`/s when given); `sent_at` receives each request's
        wall-clock send time (epoch seconds), in body order."""
        bodies = list(bodies)
        stamps = sent_at if sent_at is not None else []
        stamps[:] = [0.0] * len(bodies)
        return asyncio.run(self._register_all(bodies, concurrency, rate, stamps))

    async def _register_all(
        self,
        bodies: list[dict[str, Any]],
        concurrency: int,
        rate: float | None,
        stamps: list[float],
    ) -> list[httpx.Response]:
        results: list[httpx.Response | None] = [None] * len(bodies)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(bodies)):
            queue.put_nowait(i)
        start = time.monotonic()

        async def worker(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                i = queue.get_nowait()
                if rate:  # open-loop pacing: request i leaves at start + i/rate
                    await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                stamps[i] = time.time()
                results[i] = await client.post("/v1/participants", json=bodies[i])

        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=self.url("enrollment"), headers=self.auth, timeout=60, limits=limits
        ) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return [r for r in results if r is not None]
