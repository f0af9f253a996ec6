"""What make_faust_app changes in the clients faust builds."""

from __future__ import annotations

import asyncio

from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings


def test_worker_consumers_wait_for_data_as_long_as_the_settings_say() -> None:
    """faust hard-codes a 1,500 ms fetch wait, which the embedded broker adds to every hop."""
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=75)

    async def build() -> int:
        app = make_faust_app("bebas-test-fetch-wait", kafka)
        thread = app.consumer._thread  # type: ignore[attr-defined]
        client = thread._create_worker_consumer(app.transport)
        wait: int = client._fetch_max_wait_ms
        return wait

    assert asyncio.run(build()) == 75
