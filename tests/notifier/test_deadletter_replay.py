"""`python -m services.notifier deadletters …` on the real broker: what the notifier writes
can be listed, a message out of retries goes back as a `requeue` work record to its
participant's partition (an incomplete queue entry is refused), a repaired input event goes
back to its topic and partition once, and on the real notifier stack an SMS that ran out of
retries while the gateway was down arrives once after the gateway is back and it is
replayed twice."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaProducer

from schemas.deadletter import DeadLetter
from schemas.topics import NOTIFIER_DEADLETTER, NOTIFIER_WORK, PARTICIPANTS
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import create_topic
from services.notifier.__main__ import main
from services.notifier.replay import deadletter_config
from services.notifier.settings import Settings
from services.notifier.store import partition_for
from tests.kafka_fixtures import unique
from tests.notifier.factories import new_id, registered
from tests.notifier.harness import Stack, wait_for
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
    work_topic = settings.topic(NOTIFIER_WORK.name)
    create_topic(kafka_settings, participants, partitions=3)
    create_topic(kafka_settings, work_topic, partitions=3)
    work = deadletter_config(settings, kafka_settings)
    entry = {
        "key": "P-1|welcome|once|sms",
        "participant_id": "P-1",
        "kind": "welcome",
        "channel": "sms",
        "params": {},
        "attempt": 8,
    }
    out_of_retries = _out_of_retries(work_topic, entry)
    incomplete = _out_of_retries(work_topic, {"key": "P-1|welcome|once|sms", "attempt": 8})
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
    for letter in (out_of_retries, incomplete, repaired):
        producer.send(deadletters, key=b"k", value=letter.model_dump_json().encode())
    producer.flush()
    producer.close()

    listed = _cli(capsys, "list", "--reason", "gave up")
    assert listed["total"] == 2
    assert listed["counts_by_reason"] == {out_of_retries.reason: 2}

    first = _cli(capsys, "replay", "--since", "2000-01-01T00:00:00+00:00")
    assert (first["replayed"], first["skipped"], first["refused"]) == (2, 0, 1)
    assert sorted(first["replayed_ids"]) == sorted([str(repaired.id), str(out_of_retries.id)])
    (refusal,) = first["refusals"]
    assert refusal["id"] == incomplete.id
    assert "the queue entry lacks channel, kind, params, participant_id" in refusal["reason"]
    again = _cli(capsys, "replay", "--id", str(repaired.id), "--id", str(out_of_retries.id))
    assert (again["replayed"], again["skipped"]) == (0, 2)
    assert work.ledger_topic == f"{namespace}bebas.deadletters.replayed"

    from asyncio import run

    from services.common.deadletter_kafka import read_topic

    copies = run(read_topic(kafka_settings, participants))
    assert [(r.partition, r.key) for r in copies] == [(2, b"P-2")]
    (requeue,) = run(read_topic(kafka_settings, work_topic))
    assert (requeue.partition, requeue.key) == (1, b"P-1")
    assert json.loads(requeue.value or b"") == {
        "type": "requeue",
        "participant_id": "P-1",
        "key": "P-1|welcome|once|sms",
        "entry": entry,
        "deadletter_id": out_of_retries.id,
    }


def _out_of_retries(work_topic: str, entry: dict[str, Any]) -> DeadLetter:
    """As the dispatcher writes it: the queue entry, keyed by notification key, to the
    participant's partition."""
    return DeadLetter.of(
        service="notifier",
        source_topic=work_topic,
        value=json.dumps(entry).encode(),
        key=entry["key"].encode(),
        partition=1,
        reason="gave up after 8 attempts: gateway HTTP 503",
        attempts=8,
    )


def test_replay_without_a_selection_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadletters", "replay"]) == 2
    assert "say which letters" in capsys.readouterr().out


def test_an_sms_out_of_retries_while_the_gateway_was_down_arrives_once_when_replayed(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NOTIFIER_TOPIC_NAMESPACE", stack.ns)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.kafka.bootstrap_servers)
    event = registered(stack.now(), email=None)
    pid = event.participant_id
    key = f"{pid}|welcome|once|sms"
    stack.gateway_control(status=503, count=-1, to=event.phone_e164)
    stack.publish(event, pid, "bebas.participants")
    (letter,) = wait_for(
        lambda: [r for r in stack.read("bebas.notifier.deadletter") if r["key"] == key],
        timeout=60,
    )
    assert len(stack.sms_requests(pid)) == 8  # NOTIFIER_MAX_ATTEMPTS
    assert stack.sms(pid) == []

    stack.gateway_control(reset=True)  # the gateway is back
    first = _cli(capsys, "replay", "--id", letter["id"])
    second = _cli(capsys, "replay", "--id", letter["id"])
    assert (first["replayed"], first["skipped"]) == (1, 0)
    assert (second["replayed"], second["skipped"]) == (0, 1)

    (sms,) = wait_for(lambda: stack.sms(pid), timeout=30)
    assert sms["to"] == event.phone_e164
    assert sms["text"].startswith("BPJS Ketenagakerjaan: Ibu Sri terdaftar.")
    sent = wait_for(lambda: _sent(stack, key))
    assert sent[0]["data"]["attempt"] == 1  # the replayed message starts over

    # a crash between the replay's publish and its ledger write re-sends the record: the
    # owner applies it and sends nothing (`later`, on the same partition, is applied after)
    (requeue,) = [r for r in stack.read("bebas.notifier.work") if r.get("type") == "requeue"]
    partition = partition_for(pid, NOTIFIER_WORK.partitions)
    stack.producer.send(
        stack.topic("bebas.notifier.work"),
        key=pid.encode(),
        value=json.dumps(requeue).encode(),
        partition=partition,
    ).get(timeout=10)
    later = registered(stack.now(), pid=_another_on(partition), email=None)
    stack.publish(later, later.participant_id, "bebas.participants")
    # its sent event comes after every send of its round (and of the rounds before)
    wait_for(lambda: _sent(stack, f"{later.participant_id}|welcome|once|sms"), timeout=30)
    assert len(stack.sms_requests(pid)) == 9  # the 8 refused, then the one accepted
    assert len(stack.sms(pid)) == 1
    assert len(_sent(stack, key)) == 1  # what reporting counts


def _sent(stack: Stack, key: str) -> list[dict[str, Any]]:
    return [
        e
        for e in stack.notifications()
        if e["type"] == "notification.sent" and e["data"]["notification_key"] == key
    ]


def _another_on(partition: int) -> str:
    """A new participant id whose records land on this partition."""
    while partition_for(pid := new_id(), NOTIFIER_WORK.partitions) != partition:
        pass
    return pid
