"""The outbox's age on /metrics: what the EnrollmentOutboxStalled alert reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from services.common.clock import FrozenClock
from services.common.kafka_settings import KafkaSettings
from services.enrollment.adapters.repository import OutboxRepository
from services.enrollment.api.app import create_app
from services.enrollment.bootstrap import bootstrap
from services.enrollment.seed import seed_demo
from tests.enrollment.conftest import make_settings


def gauge(client: TestClient, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert match, f"{name} is not on /metrics"
    return float(match[1])


def test_oldest_unpublished_row_age_grows_until_the_relay_publishes_it(
    database_url: str, tmp_path: Path
) -> None:
    clock = FrozenClock(datetime(2026, 12, 2, 8, 0, tzinfo=UTC))
    container = bootstrap(
        make_settings(database_url, tmp_path / "data"),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        clock=clock,
        relay=False,
    )
    try:
        with TestClient(create_app(container)) as client:
            assert gauge(client, "enrollment_outbox_oldest_pending_age_seconds") == 0.0
            assert seed_demo(container)  # writes campaign.created to the outbox
            clock.advance(timedelta(seconds=150))
            assert gauge(client, "enrollment_outbox_oldest_pending_age_seconds") == 150.0
            assert gauge(client, "enrollment_outbox_pending") == 1.0

            with container.engine.begin() as conn:
                outbox = OutboxRepository(conn)
                outbox.mark_published([row["id"] for row in outbox.unpublished(10)], clock.now())
            assert gauge(client, "enrollment_outbox_oldest_pending_age_seconds") == 0.0
    finally:
        container.engine.dispose()
