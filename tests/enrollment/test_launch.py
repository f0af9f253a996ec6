"""`make run`'s view of enrollment: the process spec, and the real server process it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from schemas.envelope import decode_event
from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port
from services.enrollment.launch import processes
from services.platform import LaunchContext, ProcessSpec
from tests.enrollment.factory import nik_for
from tests.enrollment.kafka_helpers import consume

ROOT = Path(__file__).resolve().parents[2]


def context(tmp_path: Path, bootstrap: str = "127.0.0.1:9092") -> LaunchContext:
    return LaunchContext(
        bootstrap_servers=bootstrap,
        data_dir=tmp_path,
        ports={"enrollment": free_port()},
    )


def test_the_admin_key_is_shown_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENROLLMENT_BOOTSTRAP_ADMIN_KEY", raising=False)
    ctx = context(tmp_path)
    [first] = processes(ctx)
    key = first.urls["admin key (shown once)"]
    assert first.env["ENROLLMENT_BOOTSTRAP_ADMIN_KEY"] == key
    assert first.env["ENROLLMENT_DATA_DIR"] == str(tmp_path / "enrollment")
    assert first.ready_url == f"http://127.0.0.1:{ctx.port('enrollment')}/readyz"
    [second] = processes(ctx)
    assert "ENROLLMENT_BOOTSTRAP_ADMIN_KEY" not in second.env
    assert key not in str(second.urls)
    assert key not in (tmp_path / "enrollment" / "admin-key-issued").read_text()


def test_a_configured_admin_key_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENROLLMENT_BOOTSTRAP_ADMIN_KEY", "configured-admin-key-0123456789")
    [spec] = processes(context(tmp_path))
    assert spec.env["ENROLLMENT_BOOTSTRAP_ADMIN_KEY"] == "configured-admin-key-0123456789"
    assert "admin key (shown once)" not in spec.urls


@pytest.fixture
def running(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[ProcessSpec, str]]:
    monkeypatch.delenv("ENROLLMENT_BOOTSTRAP_ADMIN_KEY", raising=False)
    [spec] = processes(context(tmp_path, kafka_settings.bootstrap_servers))
    topic = topic_factory("launch-participants", partitions=3)
    env = {
        **os.environ,
        **spec.env,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "ENROLLMENT_PARTICIPANTS_TOPIC": topic,
        "ENROLLMENT_CAMPAIGNS_TOPIC": topic_factory("launch-campaigns"),
        "PYTHONPATH": str(ROOT),
    }
    log = (tmp_path / "enrollment.log").open("wb")
    argv = [sys.executable, *spec.argv[1:]]
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        assert spec.ready_url is not None
        while True:
            assert process.poll() is None, (tmp_path / "enrollment.log").read_text()
            try:
                if httpx.get(spec.ready_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "enrollment never became ready"
            time.sleep(0.2)
        yield spec, topic
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def test_the_launched_server_registers_a_worker_and_publishes(
    running: tuple[ProcessSpec, str], kafka_settings: KafkaSettings
) -> None:
    spec, topic = running
    key = spec.urls["admin key (shown once)"]
    base = spec.urls["API"]
    body = {
        "full_name": "Sri Wahyuni",
        "nik": nik_for(77, female=True),
        "phone": "0812-3456-7890",
        "segment": "trader",
        "branch_code": "SURAKARTA",
        "campaign_code": "KKBC-PASAR-KLEWER",
        "declared_income": 1_500_000,
        "consent_reminders": True,
    }
    headers = {"Authorization": f"Bearer {key}"}
    response = httpx.post(f"{base}/participants", json=body, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    pid = response.json()["id"]
    campaign = httpx.get(f"{base}/campaigns/KKBC-PASAR-KLEWER", headers=headers, timeout=10)
    assert campaign.json()["name"] == "Kerja Keras Bebas Cemas – Pasar Klewer"
    records = consume(kafka_settings, topic, lambda r: len(r) >= 1)
    assert [r.key for r in records] == [pid.encode()]
    assert decode_event(records[0].value).type == "participant.registered"
    metrics = httpx.get(spec.urls["metrics"], timeout=10).text
    assert 'enrollment_participants_registered_total{source="field"} 1.0' in metrics
