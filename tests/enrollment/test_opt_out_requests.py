"""People's own opt-out requests on a real broker: enrollment reads `participant.opt_out_requested`,
applies each request once (the participant's record, its audit trail, one `participant.opted_out`
through the outbox), and sends what it can never apply to its dead-letter topic with the reason,
reading on."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from schemas.deadletter import DeadLetter
from schemas.envelope import decode_event, encode_event, new_event
from schemas.events import EventData, ParticipantOptedOutV1, ParticipantOptOutRequestedV1
from schemas.vocab import Channel
from services.common import deadletter_cli
from services.common.deadletters import Selection
from services.common.kafka_settings import KafkaSettings
from services.enrollment.adapters.relay import wait_until
from services.enrollment.api.app import create_app
from services.enrollment.bootstrap import bootstrap
from services.enrollment.replay import deadletter_config
from services.enrollment.seed import seed_demo
from tests.enrollment.conftest import Keys, make_settings
from tests.enrollment.factory import nik_for, phone_for
from tests.enrollment.kafka_helpers import consume

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


class Platform:
    def __init__(self, client: TestClient, key: str, kafka: KafkaSettings, topics: dict[str, str]):
        self.client, self.auth, self.kafka, self.topics = client, Keys.auth(key), kafka, topics
        self.producer = KafkaProducer(**kafka.kafka_python_config())

    def register(self, n: int) -> str:
        body = {
            "full_name": f"Sri {n}",
            "nik": nik_for(n, female=True),
            "phone": phone_for(n),
            "email": f"sri{n}@example.id",
            "segment": "trader",
            "branch_code": "SURAKARTA",
            "declared_income": 1_000_000,
            "consent_reminders": True,
        }
        response = self.client.post("/v1/participants", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def send(self, value: bytes, key: str = "k") -> None:
        self.producer.send(self.topics["requests"], value=value, key=key.encode()).get(10)

    def request(
        self,
        pid: str,
        channel: Channel,
        event_id: uuid.UUID | None = None,
        at: datetime = NOW,
    ) -> str:
        via = "sms_reply" if channel is Channel.SMS else "email_link"
        data = ParticipantOptOutRequestedV1(
            participant_id=pid,
            channels=[channel],
            via=via,
            keyword="BERHENTI" if channel is Channel.SMS else None,
            requested_at=at,
        )
        event = new_event(data, source="urn:test:notifier", subject=pid, event_id=event_id)
        self.send(encode_event(event), pid)
        return str(event.id)

    def opted_out(self, pid: str) -> list[str]:
        response = self.client.get(f"/v1/participants/{pid}", headers=self.auth)
        return list(response.json()["opted_out_channels"])

    def audit(self, pid: str) -> list[dict[str, object]]:
        response = self.client.get(f"/v1/participants/{pid}/audit", headers=self.auth)
        return list(response.json()["items"])

    def opt_out_events(self, expected: int) -> list[ParticipantOptedOutV1]:
        def enough(records: list[object]) -> bool:
            return len(opted(records)) >= expected

        def opted(records: list[object]) -> list[EventData]:
            events = [decode_event(r.value) for r in records]  # type: ignore[attr-defined]
            return [e.data for e in events if e.type == "participant.opted_out"]

        found = opted(consume(self.kafka, self.topics["participants"], enough))
        return [e for e in found if isinstance(e, ParticipantOptedOutV1)]

    def dead_letters(self, expected: int) -> list[DeadLetter]:
        records = consume(self.kafka, self.topics["deadletter"], lambda r: len(r) >= expected)
        return [DeadLetter.model_validate_json(r.value) for r in records]


@pytest.fixture
def platform(
    database_url: str,
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
) -> Iterator[Platform]:
    topics = {
        "participants": topic_factory("participants", partitions=3),
        "campaigns": topic_factory("campaigns"),
        "requests": topic_factory("requests", partitions=3),
        "deadletter": topic_factory("enrollment-deadletter"),
        "ledger": topic_factory("deadletters-replayed"),
    }
    settings = make_settings(
        database_url,
        tmp_path,
        participants_topic=topics["participants"],
        campaigns_topic=topics["campaigns"],
        requests_enabled=True,
        requests_topic=topics["requests"],
        requests_group=f"test-requests-{uuid.uuid4().hex[:8]}",
        deadletter_topic=topics["deadletter"],
    )
    container = bootstrap(settings, kafka=kafka_settings, relay=True)
    key = container.api_keys.create("admin").plaintext
    seed_demo(container)
    with TestClient(create_app(container)) as client:  # starts the relay and the reader
        platform = Platform(client, key, kafka_settings, topics)
        yield platform
        platform.producer.close()
    container.engine.dispose()


def test_a_request_is_applied_once_recorded_and_published(platform: Platform) -> None:
    pid = platform.register(1)
    request_id = platform.request(pid, Channel.SMS)
    wait_until(lambda: platform.opted_out(pid) == ["sms"], 30)
    # the same request again (a redelivery), and a second STOP from the same person
    platform.request(pid, Channel.SMS, event_id=uuid.UUID(request_id))
    platform.request(pid, Channel.SMS)
    platform.request(pid, Channel.EMAIL)  # the e-mail link: a second channel
    wait_until(lambda: platform.opted_out(pid) == ["email", "sms"], 30)

    [sms, email] = platform.opt_out_events(2)
    assert (sms.channels, sms.reason) == ([Channel.SMS], "sms_reply:BERHENTI")
    assert (email.channels, email.reason) == ([Channel.EMAIL], "email_link")
    # every change has its audit entry and its event, in one transaction: two entries, so
    # the repeated requests (applied before the e-mail one: same key, same partition) wrote
    # nothing
    audit = platform.audit(pid)
    assert [a["actor"] for a in audit] == [
        {"key_id": "person:sms-reply", "role": "participant"},
        {"key_id": "person:email-link", "role": "participant"},
    ]
    assert audit[0]["changes"] == {"opted_out_channels": {"old": [], "new": ["sms"]}}


def test_what_can_never_be_applied_goes_to_the_dead_letters_and_reading_goes_on(
    platform: Platform,
) -> None:
    pid = platform.register(2)
    platform.send(b"\x00not json")
    platform.request("no-such-participant", Channel.SMS)
    not_a_request = ParticipantOptedOutV1(
        participant_id=pid,
        branch_code="SURAKARTA",
        branch_timezone="Asia/Jakarta",
        channels=[Channel.SMS],
        opted_out_at=NOW,
    )
    platform.send(encode_event(new_event(not_a_request, source="urn:test", subject=pid)))
    reused = platform.request(pid, Channel.EMAIL)
    wait_until(lambda: platform.opted_out(pid) == ["email"], 30)
    # the same id with another request in it (another instant)
    platform.request(pid, Channel.EMAIL, event_id=uuid.UUID(reused), at=NOW.replace(hour=3))
    platform.request(pid, Channel.SMS)  # and after all that, a good one is still applied
    wait_until(lambda: platform.opted_out(pid) == ["email", "sms"], 30)

    letters = platform.dead_letters(4)
    reasons = sorted(letter.reason for letter in letters)
    assert len(letters) == 4, reasons
    assert reasons[0].startswith("id: this Idempotency-Key was already used")
    assert reasons[1].startswith("not JSON"), reasons
    assert reasons[2].startswith("participant_id: participant 'no-such-participant'")
    assert reasons[3] == "type: participant.opted_out is not a request enrollment acts on"
    assert all(letter.service == "enrollment" for letter in letters)
    assert {letter.source_topic for letter in letters} == {platform.topics["requests"]}
    [unknown] = [letter for letter in letters if letter.reason.startswith("participant_id")]
    assert json.loads(unknown.original())["data"]["participant_id"] == "no-such-participant"

    # `python -m services.enrollment deadletters`: listed with their reasons; a letter that is
    # not a request is refused, a request is replayed to the requests topic once
    config = deadletter_config(
        platform.kafka,
        requests_topic=platform.topics["requests"],
        deadletter_topic=platform.topics["deadletter"],
        ledger_topic=platform.topics["ledger"],
    )
    listed = asyncio.run(deadletter_cli.listing_doc(config, Selection(), 1, 50))
    assert listed["total"] == 4
    assert sum(listed["counts_by_reason"].values()) == 4
    refused = asyncio.run(deadletter_cli.replay_selected(config, Selection(reason="not JSON")))
    assert (len(refused.replayed), len(refused.refused)) == (0, 1)
    by_type = Selection(reason="is not a request")
    assert len(asyncio.run(deadletter_cli.replay_selected(config, by_type)).refused) == 1
    assert unknown.id is not None
    unknown_only = Selection(ids=frozenset({unknown.id}))
    first = asyncio.run(deadletter_cli.replay_selected(config, unknown_only))
    again = asyncio.run(deadletter_cli.replay_selected(config, unknown_only))
    assert (first.replayed, again.skipped) == ([unknown.id], [unknown.id])
    # the reader takes the replayed request again, and refuses it again: a fifth letter
    earlier = {letter.id for letter in letters}
    [fifth] = [letter for letter in platform.dead_letters(5) if letter.id not in earlier]
    assert fifth.reason == unknown.reason
