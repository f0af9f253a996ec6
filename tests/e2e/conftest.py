"""One whole platform per session, started the way `make run` starts it (separate processes:
embedded broker, enrollment, notifier, reporting, local SMS gateway and SMTP sink).

Tests reach it only through public doors: HTTP APIs, the gateway's message list, the SMTP
sink's mailbox and Kafka topics. Each test works in its own campaign so figures don't mix.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bench.driver import PlatformRun, registration, wait_until
from bench.identities import identity


class Journey:
    """The session's platform plus what the tests registered (for the NIK scan at the end)."""

    def __init__(self, run: PlatformRun) -> None:
        self.run = run
        self.niks: set[str] = set()
        self._counter = itertools.count(int(uuid.uuid4().int % 500) * 1000)

    def new_campaign(self) -> str:
        code = "E2E-" + uuid.uuid4().hex[:8].upper()
        self.run.create_campaign(code)
        return code

    def person(self, campaign: str, **overrides: Any) -> dict[str, Any]:
        i = next(self._counter)
        nik, phone = identity(40_000_000 + i)
        self.niks.add(nik)
        return registration(nik, phone, i, campaign, **overrides)

    def register(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.run.api() as api:
            response = api.post("/v1/participants", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def sms_to(self, phone: str) -> list[dict[str, Any]]:
        return [m for m in self.run.sms_messages() if m["to"] == phone]

    def wait_sms(self, phone: str, kind: str, timeout: float = 60) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((m for m in self.sms_to(phone) if f"|{kind}|" in m["reference"]), None)

        return wait_until(found, timeout, f"{kind} SMS to {phone}")

    def notifier_view(self, participant_id: str) -> dict[str, Any]:
        url = f"{self.run.url('notifier')}/participants/{participant_id}/notifications"
        # the launcher gave the notifier the digest of the run's enrollment admin key
        response = httpx.get(url, headers=self.run.auth, timeout=10)
        return dict(response.json()) if response.status_code == 200 else {}

    def campaign_metrics(self, code: str) -> dict[str, Any]:
        # reporting accepts the run's enrollment admin key too (REPORTING_API_KEYS, by digest)
        url = f"{self.run.url('reporting')}/v1/campaigns/{code}/metrics"
        response = httpx.get(url, headers=self.run.auth, timeout=30)
        return dict(response.json()) if response.status_code == 200 else {}


@pytest.fixture(scope="session")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    run = PlatformRun(tmp_path_factory.mktemp("platform"))
    run.start()
    try:
        yield Journey(run)
    finally:
        run.stop()
