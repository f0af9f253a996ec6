"""`python -m services.notifier deadletters …` on the real broker: what the notifier writes
can be listed, a message out of retries is refused (a queue entry is not a work record), and
a repaired input event goes back to its topic and partition once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaProducer

from schemas.deadletter import DeadLetter
from schemas.topics import NOTIFIER_DEADLETTER, PARTICIPANTS
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import create_topic
from services.notifier.__main__ import main
from services.notifier.replay import deadletter_config
from services.notifier.settings import Settings
from tests.kafka_fixtures import unique
from tests.reporting import factory as f

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(["deadletters", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_list_and_replay_through_the_command(
    kafka_settings: KafkaSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    topic_factory: Callable[..., str],
) -> None:
    namespace = unique("ns") + "."
    monkeypatch.setenv("NOTIFIER_TOPIC_NAMESPACE", namespace)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_settings.bootstrap_servers)
    settings = Settings()
    deadletters = settings.topic(NOTIFIER_DEADLETTER.name)
    participants = settings.topic(PARTICIPANTS.name)
    create_topic(kafka_settings, deadletters)
    create_topic(kafka_settings, participants, partitions=3)
    work = deadletter_config(settings, kafka_settings)
    out_of_retries = DeadLetter.of(
        service="notifier",
        source_topic=settings.topic("bebas.notifier.work"),
        value=json.dumps({"key": "P-1|welcome|once|sms", "attempt": 8}).encode(),
        key=b"P-1|welcome|once|sms",
        partition=1,
        reason="gave up after 8 attempts: gateway HTTP 503",
        attempts=8,
    )
    repaired = DeadLetter.of(
        service="notifier",
        source_topic=participants,
        value=f.raw(f.envelope(f.registered("P-2", AT), "P-2")),
        key=b"P-2",
        partition=2,
        offset=17,
        reason="handler error: fixed since",
    )
    producer = KafkaProducer(**kafka_settings.kafka_python_config())
    for letter in (out_of_retries, repaired):
        producer.send(deadletters, key=b"k", value=letter.model_dump_json().encode())
    producer.flush()
    producer.close()

    listed = _cli(capsys, "list", "--reason", "gave up")
    assert listed["total"] == 1
    assert listed["counts_by_reason"] == {out_of_retries.reason: 1}

    first = _cli(capsys, "replay", "--since", "2000-01-01T00:00:00+00:00")
    assert (first["replayed"], first["skipped"], first["refused"]) == (1, 0, 1)
    assert first["replayed_ids"] == [repaired.id]
    (refusal,) = first["refusals"]
    assert refusal["id"] == out_of_retries.id
    assert refusal["reason"].startswith("still invalid:")
    again = _cli(capsys, "replay", "--id", str(repaired.id))
    assert (again["replayed"], again["skipped"]) == (0, 1)
    assert work.ledger_topic == f"{namespace}bebas.deadletters.replayed"

    from asyncio import run

    from services.common.deadletter_kafka import read_topic

    copies = run(read_topic(kafka_settings, participants))
    assert [(r.partition, r.key) for r in copies] == [(2, b"P-2")]


def test_replay_without_a_selection_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadletters", "replay"]) == 2
    assert "say which letters" in capsys.readouterr().out
