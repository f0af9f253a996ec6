"""The HTTP layer over a fake worker (the API's port): problems, coverage, formats."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.common.apikeys import key_digest
from services.reporting.access import Access
from services.reporting.api import Services, create_api
from services.reporting.cluster import PEER_HEADER
from services.reporting.domain.access import parse_keys, peer_token, peer_token_ok
from services.reporting.lag import LagSnapshot, PartitionLag
from services.reporting.telemetry import Telemetry

ROWS: list[tuple[str, tuple[str, ...], int]] = [
    ("enr", ("K1", "SKA", "pedagang", "field", "-", "2023-12-16"), 7)
]


@dataclass
class FakeSource:
    partitions: int


@dataclass
class FakeWorker:
    owned_now: dict[str, list[int]]
    ready: bool = True
    telemetry: Telemetry = field(default_factory=Telemetry)
    sources: dict[str, FakeSource] = field(
        default_factory=lambda: {"participants": FakeSource(2), "campaigns": FakeSource(1)}
    )

    def owned(self) -> dict[str, list[int]]:
        return self.owned_now

    def counters(self) -> list[tuple[str, tuple[str, ...], int]]:
        return ROWS

    def peers(self) -> set[str]:
        return {"http://self"}


ADMIN = "bck_test-admin-key-for-reporting-0001"
ACCESS = Access(parse_keys(f"{key_digest(ADMIN)}:admin"))


def client(worker: Any, lag: LagSnapshot | None = None, key: str | None = ADMIN) -> TestClient:
    services = Services(worker, lag or LagSnapshot(), CollectorRegistry(), "http://self")
    services.access = ACCESS
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return TestClient(create_api(services), headers=headers)


def test_full_coverage_answers_with_figures() -> None:
    api = client(FakeWorker({"participants": [0, 1], "campaigns": [0]}))
    body = api.get("/v1/campaigns/K1/metrics").json()
    assert body["enrolments"]["total"] == 7


def test_missing_partitions_give_503_problem_naming_them() -> None:
    api = client(FakeWorker({"participants": [1], "campaigns": [0]}))
    response = api.get("/v1/overview")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    assert response.json()["missing_partitions"] == {"participants": [0]}
    assert "participants [0]" in response.json()["detail"]
    assert api.get("/v1/campaigns/K1/report.csv").status_code == 503


def test_readyz_follows_the_worker() -> None:
    assert client(FakeWorker({}, ready=False)).get("/readyz").status_code == 503
    assert (
        client(FakeWorker({"participants": [0, 1], "campaigns": [0]})).get("/readyz").status_code
        == 200
    )
    assert client(FakeWorker({}, ready=False)).get("/healthz").status_code == 200


def test_stream_health_reports_lag_per_group_and_partition() -> None:
    lag = LagSnapshot(
        partitions=[
            PartitionLag("bebas-notifier", "bebas.participants", 0, committed=5, end=9),
            PartitionLag("bebas-notifier", "bebas.participants", 1, committed=3, end=3),
            PartitionLag("bebas-reporting", "bebas.participants", 0, committed=9, end=9),
        ],
        taken_at=1.0,
    )
    worker = FakeWorker({"participants": [0, 1], "campaigns": [0]})
    worker.telemetry.record(
        "bebas.participants", processed=4, counted=2, duplicates=1, dead=1, errors=0
    )
    body = client(worker, lag).get("/v1/stream-health").json()
    assert body["lag"]["by_group"] == {"bebas-notifier": 4, "bebas-reporting": 0}
    assert body["lag"]["partitions"][0]["lag"] == 4
    assert body["dead_letters"] == 1
    assert body["topics"]["bebas.participants"]["duplicates"] == 1


def test_dashboard_and_vendored_chart_library_are_served_locally() -> None:
    api = client(FakeWorker({}), key=None)  # the page itself asks for the sign-in
    page = api.get("/")
    assert page.status_code == 200
    assert '<script src="/static/chart.umd.js"' in page.text
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links
    assert all(link.startswith(("/", "data:", "#")) for link in links)  # nothing from a CDN
    assert api.get("/static/chart.umd.js").text.startswith("/*!\n * Chart.js v4.6.1")


def test_a_partial_is_given_only_to_a_peer_holding_the_shared_secret() -> None:
    api = client(FakeWorker({"participants": [0, 1], "campaigns": [0]}), key=None)
    assert api.get("/internal/v1/partial").status_code == 401
    stranger = peer_token(b"another-secret-entirely-0000000000", time.time())
    refused = api.get("/internal/v1/partial", headers={PEER_HEADER: stranger})
    assert refused.status_code == 401
    assert PEER_HEADER in refused.json()["detail"]
    peer = peer_token(ACCESS.secret, time.time())
    answer = api.get("/internal/v1/partial", headers={PEER_HEADER: peer})
    assert answer.status_code == 200
    assert answer.json()["url"] == "http://self"


@pytest.mark.parametrize(
    ("token", "now"),
    [
        ("", 1_000.0),
        ("1000", 1_000.0),
        ("1000.deadbeef", 1_000.0),
        ("x1000." + "0" * 64, 1_000.0),
        (peer_token(b"s" * 32, 1_000.0), 1_061.0),  # a minute and a second later
        (peer_token(b"t" * 32, 1_000.0), 1_000.0),  # another secret
    ],
)
def test_a_peer_token_is_refused_when_forged_stale_or_malformed(token: str, now: float) -> None:
    assert not peer_token_ok(b"s" * 32, token, now)


def test_a_peer_token_is_accepted_within_a_minute_either_way() -> None:
    token = peer_token(b"s" * 32, 1_000.0)
    assert peer_token_ok(b"s" * 32, token, 1_060.0)
    assert peer_token_ok(b"s" * 32, token, 940.0)
