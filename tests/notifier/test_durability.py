"""Regression (make reliability, notifier_sigkill_x3 lost a welcome): faust's producer.flush()
returned while table changes were still in its send buffer, the consumer committed the input
offset right after it, and a SIGKILL lost the registration's state for good. After flush()
returns, every table change made before it must be on the broker, even if the process dies
at once."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from schemas.topics import CATALOGUE
from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port
from services.common.topic_admin import ensure_topics
from tests.notifier.harness import ROOT

pytestmark = pytest.mark.integration
WRITES = 2000


def test_table_changes_made_before_flush_survive_a_sigkill_right_after_it(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    ns, app_id = f"t{uuid.uuid4().hex[:8]}.", f"notifier-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_settings, [dataclasses.replace(t, name=ns + t.name) for t in CATALOGUE])
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "NOTIFIER_APP_ID": app_id,
        "NOTIFIER_TOPIC_NAMESPACE": ns,
        "NOTIFIER_DATA_DIR": str(tmp_path / "notifier"),
        "NOTIFIER_PORT": str(free_port()),
        "NOTIFIER_SMS_GATEWAY_URL": "http://127.0.0.1:9",
        "NOTIFIER_SMS_API_KEY": "unused",
    }
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.notifier.flush_then_kill", str(WRITES)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        timeout=180,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, f"worker did not reach the kill; see {log.name}"

    keys = _changelog_keys(kafka_settings, f"{app_id}-probe-changelog")
    assert keys == {f"p{i}" for i in range(WRITES)}, f"{WRITES - len(keys)} changes lost"


def _changelog_keys(kafka: KafkaSettings, topic: str, quiet_s: float = 5.0) -> set[str]:
    """Every key on the topic: read until nothing new arrived for `quiet_s` (the broker's
    reported end offsets are not trusted here, see the tansu end-offset bug)."""
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assert partitions, f"no changelog topic {topic}"
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        keys: set[str] = set()
        last_new = time.monotonic()
        while time.monotonic() - last_new < quiet_s:
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    keys.add(record.key.decode().strip('"'))
                    last_new = time.monotonic()
        return keys
    finally:
        consumer.close()
