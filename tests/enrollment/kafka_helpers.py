"""Reading what the relay published, with a deadline instead of sleeps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from services.common.kafka_settings import KafkaSettings
from tests.kafka_fixtures import consumer_defaults

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "jsonschema"


def consume(
    settings: KafkaSettings,
    topic: str,
    until: Callable[[list[Any]], bool],
    timeout: float = 30.0,
) -> list[Any]:
    """Every record of `topic` from the start, read until `until(records)` or the deadline."""
    consumer = KafkaConsumer(
        topic,
        group_id=None,
        enable_auto_commit=False,
        **{**consumer_defaults(), **settings.kafka_python_config()},
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(records):
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def event_ids(records: list[Any]) -> list[str]:
    return [json.loads(r.value)["id"] for r in records]


def schema_for(event_type: str, version: int) -> dict[str, Any]:
    path = SCHEMAS / event_type / f"v{version}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
