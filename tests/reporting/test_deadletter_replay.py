"""Dead letters listed and replayed on the real broker, against a real reporting worker."""

from __future__ import annotations

import json
from asyncio import run
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from bench.nik_scan import scan_files
from schemas.deadletter import DeadLetter
from schemas.envelope import decode_event
from services.common import deadletter_cli
from services.common.deadletter_kafka import KafkaReplay, read_dead_letters, read_topic
from services.common.deadletters import Selection, Stored, Validator, replay, select
from services.common.kafka_settings import KafkaSettings
from services.reporting.__main__ import deadletter_config
from services.reporting.settings import Settings
from tests.kafka_fixtures import unique
from tests.reporting import factory as f
from tests.reporting.harness import (
    ADMIN_KEY,
    VIEWER_KEY,
    get,
    make_topics,
    other_services_topics,
    poll,
    stream_health,
    worker,
)

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
NIK = "3372015705790001"
KEY = b"P-REPLAY"


class CrashAfterPublish(KafkaReplay):
    """Dies between the acknowledged publish and the ledger write, like a killed command."""

    async def remember(self, stored: Stored) -> None:
        raise ConnectionError("killed before the ledger write")


def _produce(kafka: KafkaSettings, topic: str, key: bytes, value: bytes) -> int:
    producer = KafkaProducer(**kafka.kafka_python_config())
    try:
        return int(producer.send(topic, key=key, value=value).get(timeout=10).offset)
    finally:
        producer.close()


def _enrolments(url: str) -> int | None:
    response = get(url, "/v1/overview")
    return response.json()["totals"]["enrolments"] if response.status_code == 200 else None


def test_poison_is_listed_refused_and_a_valid_letter_is_replayed_once(
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    group_factory: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topics = make_topics(topic_factory)
    ledger = unique("t-replayed")  # left for replay to create, compacted
    settings = Settings(
        participants_topic=topics.participants,
        campaigns_topic=topics.campaigns,
        notifications_topic=topics.notifications,
        deadletter_topic=topics.deadletter,
        replay_ledger_topic=ledger,
    )
    config = deadletter_config(settings, kafka_settings)
    one = worker(
        kafka_settings,
        topics,
        group_factory("dl"),
        tmp_path,
        "w",
        env={"REPORTING_REPLAY_LEDGER_TOPIC": ledger},
    ).start()
    try:
        one.wait_ready()
        # a poison record that quotes a raw NIK: the worker dead-letters it
        poison = f'{{"nik": "{NIK}", oops'.encode()
        offset = _produce(kafka_settings, topics.participants, NIK.encode(), poison)
        letters = poll(
            lambda: run(read_dead_letters(kafka_settings, topics.deadletter)),
            lambda found: len(found) == 1,
        )
        assert len(letters) == 1, stream_health(one.url)
        (dead,) = letters
        assert dead.letter.source_topic == topics.participants
        assert dead.letter.offset == offset
        assert dead.letter.reason.startswith("not JSON")

        listed = run(deadletter_cli.listing(config, Selection(reason="not json"), 1, 50, True))
        answer = json.loads(listed)
        assert answer["total"] == 1
        assert answer["items"][0]["offset"] == offset
        assert answer["items"][0]["reason"].startswith("not JSON")
        assert answer["counts_by_reason"] == {dead.letter.reason: 1}
        (tmp_path / "listing.json").write_text(listed, encoding="utf-8")
        assert scan_files(tmp_path, {NIK}) == []  # the worker's logs are under tmp_path too

        by_id = Selection(ids=frozenset({dead.id}))
        refused = run(deadletter_cli.replay_selected(config, by_id))
        assert (refused.replayed, list(refused.refused)) == ([], [dead.id])
        assert refused.refused[dead.id].startswith("still invalid: not JSON")

        # the same through the API: listed for a viewer, NIK masked; refused for an admin
        api = get(one.url, "/v1/dead-letters", key=VIEWER_KEY, reason="not json")
        assert api.json()["total"] == 1
        assert api.json()["items"][0]["offset"] == offset
        assert NIK not in api.text
        assert _replay(one.url, VIEWER_KEY, {"ids": [dead.id]}).status_code == 403
        by_api = _replay(one.url, ADMIN_KEY, {"ids": [dead.id]}).json()
        assert (by_api["replayed"], by_api["refused"]) == (0, 1)
        assert by_api["refusals"][0]["id"] == dead.id

        # a letter whose bytes are a valid event (as after a processing bug now fixed)
        event = f.envelope(f.registered("P-REPLAY", AT), "P-REPLAY")
        valid = DeadLetter.of(
            service="reporting",
            source_topic=topics.participants,
            value=f.raw(event),
            key=b"P-REPLAY",
            partition=2,
            offset=99,
            reason="processing error: a bug fixed since",
        )
        _produce(kafka_settings, topics.deadletter, b"x", valid.model_dump_json().encode())
        chosen = Selection(reason="bug fixed")

        # killed after the publish, before the ledger write: the next run sends it again
        letters = select(run(read_dead_letters(kafka_settings, topics.deadletter)), chosen)
        with pytest.raises(ConnectionError):
            run(_crashing_replay(kafka_settings, ledger, letters, config.validate))
        first = run(deadletter_cli.replay_selected(config, chosen))
        assert (first.replayed, first.skipped, first.refused) == ([valid.id], [], {})
        second = run(deadletter_cli.replay_selected(config, chosen))
        assert (second.replayed, second.skipped) == ([], [valid.id])
        again = _replay(one.url, ADMIN_KEY, {"reason": "bug fixed"}).json()
        assert (again["replayed"], again["skipped_ids"]) == (0, [valid.id])

        # the same event went out twice, with one id; the worker counts it once
        copies = [r for r in run(read_topic(kafka_settings, topics.participants)) if r.key == KEY]
        assert len(copies) == 2
        assert {r.partition for r in copies} == {2}
        assert {decode_event(r.value or b"").id for r in copies} == {event.id}
        assert poll(lambda: _enrolments(one.url), lambda n: n == 1) == 1, stream_health(one.url)
        health = poll(
            lambda: get(one.url, "/v1/stream-health").json()["topics"][topics.participants],
            lambda t: t["duplicates"] == 1,
        )
        assert (health["counted"], health["duplicates"]) == (1, 1)

        # the notifier's dead letters are listed and replayed here too, by the notifier's rules
        notifier_topic = other_services_topics(topics)["REPORTING_NOTIFIER_DEADLETTER_TOPIC"]
        theirs = DeadLetter.of(
            service="notifier",
            source_topic=topics.participants,
            value=b"\x00not an event",
            key=b"P-NOTIFIER",
            partition=0,
            offset=7,
            reason="not JSON: the notifier could not read it",
        )
        _produce(kafka_settings, notifier_topic, b"x", theirs.model_dump_json().encode())
        only = get(one.url, "/v1/dead-letters", service="notifier").json()
        assert (only["total"], only["items"][0]["service"]) == (1, theirs.service)
        assert only["items"][0]["id"] == theirs.id
        every = get(one.url, "/v1/dead-letters").json()
        assert every["total"] == 3  # reporting's two and the notifier's one
        assert {item["service"] for item in every["items"]} == {"reporting", "notifier"}
        ours = get(one.url, "/v1/dead-letters", service="reporting").json()
        assert ours["total"] == 2
        body = {"service": "notifier", "ids": [theirs.id]}
        by_notifier = _replay(one.url, ADMIN_KEY, body).json()
        assert (by_notifier["replayed"], by_notifier["refused"]) == (0, 1)
        assert by_notifier["refusals"][0]["reason"].startswith("still invalid")
        unknown = get(one.url, "/v1/dead-letters", service="billing")
        assert unknown.status_code == 422
        assert "service" in unknown.text
    finally:
        assert one.stop() == 0


def _replay(url: str, key: str, body: dict[str, object]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(url + "/v1/dead-letters/replay", json=body, headers=headers, timeout=60)


async def _crashing_replay(
    kafka: KafkaSettings, ledger: str, letters: list[Stored], validate: Validator
) -> None:
    async with CrashAfterPublish(kafka, ledger) as port:
        await replay(letters, port, validate)
