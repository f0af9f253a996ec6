"""`make run`'s launcher: broker up with the catalogue, services collected, clean stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.topics import CATALOGUE
from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port
from services.common.topic_admin import admin_client
from services.platform import DEFAULT_PORTS, Platform, ports_from


def test_ports_shift_together_from_a_base() -> None:
    assert ports_from(None) == DEFAULT_PORTS
    shifted = ports_from(20000)
    assert sorted(shifted.values()) == list(range(20000, 20000 + len(DEFAULT_PORTS)))


def test_platform_starts_broker_with_catalogue_and_stops_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    ports = {name: free_port() for name in DEFAULT_PORTS}
    platform = Platform(tmp_path / "data", ports)
    ctx = platform.start()
    try:
        platform.wait_ready(timeout=120)
        assert ctx.bootstrap_servers == f"127.0.0.1:{ports['broker']}"
        client = admin_client(KafkaSettings(bootstrap_servers=ctx.bootstrap_servers))
        try:
            topics = set(client.list_topics())
        finally:
            client.close()
        assert {t.name for t in CATALOGUE} <= topics
        assert platform.exited() == {}, "a service died at start-up"
        children = list(platform.children.values())
    finally:
        platform.stop()
    assert all(child.poll() is not None for child in children)
    assert platform.broker is None
    assert (tmp_path / "data" / "logs" / "broker.log").exists()
