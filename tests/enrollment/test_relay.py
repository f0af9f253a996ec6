"""The outbox relay on a real broker: keyed, schema-valid, nothing lost, nothing twice."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from schemas.envelope import decode_event
from services.common.broker import EmbeddedBroker
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import create_topic
from services.enrollment.adapters import tables
from services.enrollment.adapters.relay import wait_until
from services.enrollment.api.app import create_app
from services.enrollment.bootstrap import Container, bootstrap
from services.enrollment.domain.access import Principal
from services.enrollment.domain.model import RegistrationInput
from services.enrollment.seed import seed_demo
from tests.enrollment.conftest import Keys, make_settings
from tests.enrollment.factory import nik_for, payable_period, phone_for
from tests.enrollment.kafka_helpers import consume, event_ids, schema_for

pytestmark = pytest.mark.integration
ADMIN = Principal("key_relay_test", "admin")


def relay_container(
    database_url: str,
    data_dir: Path,
    kafka: KafkaSettings,
    topics: tuple[str, str],
    **overrides: Any,
) -> Container:
    settings = make_settings(
        database_url,
        data_dir,
        participants_topic=topics[0],
        campaigns_topic=topics[1],
        relay_batch_size=200,
        **overrides,
    )
    return bootstrap(settings, kafka=kafka, relay=True)


def registration(n: int) -> RegistrationInput:
    return RegistrationInput(
        full_name=f"Ojek Solo {n}",
        nik=nik_for(n),
        phone=phone_for(n),
        segment="ojek",
        branch_code="SURAKARTA",
        declared_income=1_200_000,
    )


def unpublished(container: Container) -> int:
    with container.engine.connect() as conn:
        query = select(func.count()).select_from(tables.outbox)
        return int(conn.execute(query.where(tables.outbox.c.published_at.is_(None))).scalar_one())


@pytest.fixture
def topics(topic_factory: Callable[..., str]) -> tuple[str, str]:
    return topic_factory("participants", partitions=3), topic_factory("campaigns", partitions=1)


def test_registration_is_published_keyed_ordered_and_schema_valid(
    database_url: str,
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    topics: tuple[str, str],
) -> None:
    container = relay_container(database_url, tmp_path, kafka_settings, topics)
    key = container.api_keys.create("admin").plaintext
    with TestClient(create_app(container)) as client:
        assert client.get("/readyz").status_code == 200
        auth = Keys.auth(key)
        seed_demo(container)
        ids = []
        for n in range(3):
            body = {
                "full_name": f"Sri {n}",
                "nik": nik_for(n, female=True),
                "phone": phone_for(n),
                "segment": "trader",
                "branch_code": "SURAKARTA",
                "campaign_code": "KKBC-PASAR-KLEWER",
                "declared_income": 1_000_000,
                "consent_reminders": True,
            }
            response = client.post("/v1/participants", json=body, headers=auth)
            assert response.status_code == 201
            ids.append(response.json()["id"])
        first = ids[0]
        client.post(f"/v1/participants/{first}/opt-out", json={"channels": ["sms"]}, headers=auth)
        fix = {"phone": "0857-1234-5678"}
        assert client.patch(f"/v1/participants/{first}", json=fix, headers=auth).status_code == 200
        paid = {
            "period": payable_period(),
            "amount": 16_800,
            "paid_at": "2026-11-20T09:00:00+07:00",
        }
        client.post(f"/v1/participants/{first}/contributions", json=paid, headers=auth)
        records = consume(kafka_settings, topics[0], lambda r: len(r) >= 6)
        campaign_records = consume(kafka_settings, topics[1], lambda r: len(r) >= 1)
    assert len(records) == 6
    for record in records:
        event = decode_event(record.value)
        assert record.key == event.subject.encode()
        assert event.data.participant_id == event.subject
        jsonschema.validate(json.loads(record.value), schema_for(event.type, event.version))
        assert b'nik":"33' not in record.value  # only the masked form and the hash travel
    assert {r.key.decode() for r in records} == set(ids)
    of_first = [decode_event(r.value) for r in records if r.key == first.encode()]
    assert [e.type for e in of_first] == [
        "participant.registered",
        "participant.opted_out",
        "participant.updated",
        "contribution.paid",
    ]
    assert len({r.partition for r in records if r.key == first.encode()}) == 1
    assert decode_event(campaign_records[0].value).type == "campaign.created"
    assert campaign_records[0].key == b"KKBC-PASAR-KLEWER"
    assert unpublished(container) == 0


def test_a_commit_wakes_the_relay_long_before_its_poll_interval(
    database_url: str,
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    topics: tuple[str, str],
) -> None:
    # Polling alone would publish the registration only after 60 s; the wait for it below
    # ends after 30 s, so the event arrives in time only if the commit woke the relay.
    container = relay_container(
        database_url, tmp_path, kafka_settings, topics, relay_poll_interval=60
    )
    relay = container.relay
    assert relay is not None
    key = container.api_keys.create("admin").plaintext
    body = {
        "full_name": "Sri Rahayu",
        "nik": nik_for(1, female=True),
        "phone": phone_for(1),
        "segment": "trader",
        "branch_code": "SURAKARTA",
        "declared_income": 1_000_000,
        "consent_reminders": True,
    }
    with TestClient(create_app(container)) as client:  # starts the relay, as `serve` does
        # Its first round found the outbox empty: from now on it sleeps up to 60 s.
        assert wait_until(lambda: relay.rounds >= 1, timeout=30)
        response = client.post("/v1/participants", json=body, headers=Keys.auth(key))
        assert response.status_code == 201
        records = consume(kafka_settings, topics[0], lambda r: len(r) >= 1, timeout=30)
    assert [r.key.decode() for r in records] == [response.json()["id"]]
    assert unpublished(container) == 0


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test alone, so stopping it disturbs nobody else."""
    broker = EmbeddedBroker(log_file=tmp_path / "broker.log")
    yield broker
    broker.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_broker_down_at_start_then_up_every_event_arrives_once(
    database_url: str, tmp_path: Path, own_broker: EmbeddedBroker
) -> None:
    settings = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers)
    topic = "t-down-participants"
    container = relay_container(database_url, tmp_path, settings, (topic, "t-down-campaigns"))
    container.start()
    relay = container.relay
    assert relay is not None
    try:
        started = time.monotonic()
        for n in range(30):
            container.enrollment.register(registration(n), ADMIN)
        assert time.monotonic() - started < 10, "registrations must not wait for the broker"
        assert wait_until(lambda: relay.last_error is not None, timeout=30)  # it did try
        assert unpublished(container) == 30
        own_broker.start()
        create_topic(settings, topic, 3)
        assert wait_until(lambda: unpublished(container) == 0, timeout=60)
        records = consume(settings, topic, lambda r: len(set(event_ids(r))) >= 30, timeout=20)
    finally:
        container.stop()
    ids = event_ids(records)
    assert len(set(ids)) == 30
    assert len(ids) == 30  # a healthy recovery sends nothing twice


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_broker_frozen_during_registrations_then_back_every_event_once(
    database_url: str, tmp_path: Path, own_broker: EmbeddedBroker
) -> None:
    own_broker.start()
    settings = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers)
    topic = "t-frozen-participants"
    create_topic(settings, topic, 3)
    container = relay_container(database_url, tmp_path, settings, (topic, "t-frozen-campaigns"))
    create_topic(settings, "t-frozen-campaigns", 1)
    container.start()
    relay = container.relay
    assert relay is not None
    expected: set[str] = set()
    try:
        for n in range(10):
            container.enrollment.register(registration(n), ADMIN)
        assert wait_until(lambda: unpublished(container) == 0, timeout=30)
        own_broker.freeze()
        try:
            started = time.monotonic()
            for n in range(10, 40):
                container.enrollment.register(registration(n), ADMIN)
            assert time.monotonic() - started < 10, "registrations must not wait for the broker"
            assert unpublished(container) == 30
            # The relay has handed the events to Kafka's client while the broker is frozen.
            assert wait_until(lambda: bool(relay._pending), timeout=10)
            assert unpublished(container) == 30
        finally:
            own_broker.thaw()
        assert wait_until(lambda: unpublished(container) == 0, timeout=90)
        with container.engine.connect() as conn:
            expected = set(conn.execute(select(tables.outbox.c.event_id)).scalars())
        records = consume(settings, topic, lambda r: set(event_ids(r)) >= expected, timeout=30)
    finally:
        container.stop()
    ids = event_ids(records)
    assert set(ids) == expected
    assert len(expected) == 40
    # The producer kept its connection and its unacknowledged batch through the freeze, so
    # nothing was re-sent: not even raw copies, let alone distinct ids.
    assert len(ids) == len(expected)


def test_two_relays_publish_each_event_once(
    database_url: str,
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    topics: tuple[str, str],
) -> None:
    first = relay_container(database_url, tmp_path, kafka_settings, topics)
    second = relay_container(database_url, tmp_path, kafka_settings, topics)
    first.start()
    second.start()
    try:
        for n in range(300):
            (first if n % 2 else second).enrollment.register(registration(n), ADMIN)
        assert wait_until(lambda: unpublished(first) == 0, timeout=60)
        # Read past the 300th record for a moment: a duplicate would show up as a 301st.
        records = consume(kafka_settings, topics[0], lambda r: len(r) > 300, timeout=3)
    finally:
        first.stop()
        second.stop()
    ids = event_ids(records)
    assert len(ids) == 300
    assert len(set(ids)) == 300


def test_relay_counts_what_it_published(
    database_url: str,
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    topics: tuple[str, str],
) -> None:
    container = relay_container(database_url, tmp_path, kafka_settings, topics)
    assert container.relay is not None
    for n in range(5):
        container.enrollment.register(registration(n), ADMIN)
    published = container.relay.tick()
    assert published == 5
    assert container.relay.tick() == 0
    assert unpublished(container) == 0


def test_during_an_import_the_relay_paces_itself_then_drains_every_event_once(
    database_url: str,
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    topics: tuple[str, str],
) -> None:
    container = relay_container(
        database_url, tmp_path, kafka_settings, topics, relay_import_interval=60
    )
    relay = container.relay
    assert relay is not None
    lines = ["full_name;nik;phone;segment;branch_code;declared_income"]
    lines += [f"Ojek {n};{nik_for(n)};{phone_for(n)};ojek;SURAKARTA;1200000" for n in range(500)]
    sheet = io.BytesIO("\n".join(lines).encode())
    try:
        with relay.bulk_write():  # as if the import below were still running
            assert container.importer.run(sheet, ADMIN).registered == 500
            container.start()
            # Nothing within the import interval (60 s) while the import runs ...
            assert not wait_until(lambda: unpublished(container) < 500, timeout=1.5)
        # ... and the rest as soon as the import is over, not at the end of the interval.
        assert wait_until(lambda: unpublished(container) == 0, timeout=20)
        records = consume(kafka_settings, topics[0], lambda r: len(r) > 500, timeout=3)
    finally:
        container.stop()
    ids = event_ids(records)
    assert len(ids) == 500
    assert len(set(ids)) == 500
