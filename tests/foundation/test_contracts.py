"""Event contracts: models and committed schemas agree, samples round-trip, versions compatible."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from schemas import (
    CURRENT_VERSION,
    EVENT_MODELS,
    DecodeError,
    decode_event,
    encode_event,
    new_event,
)
from schemas.deadletter import DeadLetter
from schemas.events import (
    ContributionPaidV1,
    ParticipantRegisteredV1,
    ParticipantRegisteredV4,
    model_for,
)
from schemas.generate import ASYNCAPI_FILE, all_schemas, render, render_asyncapi
from schemas.nik import mask_nik, nik_hash
from schemas.topics import CATALOGUE, topic_for_event

SAMPLES = Path(__file__).parents[2] / "schemas" / "samples"
VERSIONS = [(t, v) for t, versions in EVENT_MODELS.items() for v in versions]


def _sample(event_type: str, version: int) -> dict[str, Any]:
    return json.loads((SAMPLES / event_type / f"v{version}.json").read_text(encoding="utf-8"))


def _schema(event_type: str, version: int) -> dict[str, Any]:
    path = Path(__file__).parents[2] / "schemas" / "jsonschema" / event_type / f"v{version}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(all_schemas()), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_schema_matches_model(path: Path) -> None:
    assert path.exists(), f"{path} missing: run `make schemas`"
    assert path.read_text(encoding="utf-8") == render(all_schemas()[path]), (
        f"{path} drifted from the model: run `make schemas` and review the diff"
    )


def test_no_stray_committed_schema() -> None:
    committed = set((Path(__file__).parents[2] / "schemas" / "jsonschema").glob("*/*.json"))
    assert committed == set(all_schemas())


def test_asyncapi_document_is_current() -> None:
    assert ASYNCAPI_FILE.read_text(encoding="utf-8") == render_asyncapi()
    doc = yaml.safe_load(render_asyncapi())
    assert {c["address"] for c in doc["channels"].values()} == {t.name for t in CATALOGUE}


@pytest.mark.parametrize(("event_type", "version"), VERSIONS)
def test_golden_sample_is_valid_and_round_trips(event_type: str, version: int) -> None:
    sample = _sample(event_type, version)
    jsonschema.Draft202012Validator(_schema(event_type, version)).validate(sample)
    event = decode_event(json.dumps(sample))
    assert isinstance(event.data, EVENT_MODELS[event_type][version])
    assert event.version == version
    assert json.loads(encode_event(event)) == sample


@pytest.mark.parametrize(("event_type", "version"), VERSIONS)
def test_every_older_consumer_reads_newer_samples(event_type: str, version: int) -> None:
    newest = max(EVENT_MODELS[event_type])
    newer = _sample(event_type, newest)
    old_model = EVENT_MODELS[event_type][version]
    data = old_model.model_validate(newer["data"])
    assert data.model_dump(mode="json", exclude_none=True).items() <= newer["data"].items()


def test_v1_consumer_reads_v2_registration() -> None:
    v2 = _sample("participant.registered", 2)
    assert v2["data"]["community"]
    v1 = ParticipantRegisteredV1.model_validate(v2["data"])
    assert v1.full_name == v2["data"]["full_name"]
    assert not hasattr(v1, "community")


def test_unknown_future_version_is_read_with_newest_known_model() -> None:
    assert model_for("participant.registered", 7) is ParticipantRegisteredV4
    sample = _sample("contribution.paid", 1)
    sample["dataschema"] = "urn:bebas-cemas:schema:contribution.paid:v3"
    sample["data"]["channel_of_payment"] = "QRIS"
    event = decode_event(json.dumps(sample))
    assert isinstance(event.data, ContributionPaidV1)


def test_new_versions_only_add_optional_fields() -> None:
    for event_type, versions in EVENT_MODELS.items():
        ordered = [versions[v] for v in sorted(versions)]
        for older, newer in itertools.pairwise(ordered):
            old_fields, new_fields = older.model_fields, newer.model_fields
            assert old_fields.keys() <= new_fields.keys(), event_type
            for name in new_fields.keys() - old_fields.keys():
                assert not new_fields[name].is_required(), f"{event_type}.{name} must be optional"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "participant.registered"}', "missing 'type' or 'dataschema'"),
        (
            b'{"type": "thing.happened", "dataschema": "urn:bebas-cemas:schema:thing.happened:v1"}',
            "unknown event type",
        ),
        (b'{"type": "campaign.created", "dataschema": "urn:x"}', "is not urn:bebas-cemas"),
    ],
)
def test_undecodable_input_raises_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_event(raw)


def test_schema_invalid_payload_names_the_field() -> None:
    sample = _sample("contribution.paid", 1)
    sample["data"]["period"] = "2024-13"
    with pytest.raises(DecodeError, match=r"schema-invalid: data\.period"):
        decode_event(json.dumps(sample))


def test_new_event_sets_type_version_and_utc_time() -> None:
    sample = _sample("participant.registered", 4)
    data = ParticipantRegisteredV4.model_validate(sample["data"])
    event = new_event(data, source="/enrollment", subject=data.participant_id)
    assert event.type == "participant.registered"
    assert event.dataschema.endswith(f":v{CURRENT_VERSION['participant.registered']}")
    offset = event.time.utcoffset()
    assert offset is not None
    assert offset.total_seconds() == 0
    assert event.key == data.participant_id.encode()
    assert event.correlationid == str(event.id)


def test_samples_carry_no_raw_nik() -> None:
    nik = "3372015708850001"
    for path in SAMPLES.glob("*/*.json"):
        assert nik not in path.read_text(encoding="utf-8"), path
    registered = _sample("participant.registered", 1)["data"]
    assert registered["nik_masked"] == mask_nik(nik) == "3372**********01"
    assert registered["nik_hash"] == nik_hash(nik, b"sample-secret")
    assert nik_hash(nik, b"other-secret") != registered["nik_hash"]


def test_every_event_has_exactly_one_topic() -> None:
    for event_type in EVENT_MODELS:
        carriers = [t for t in CATALOGUE if event_type in t.events]
        assert len(carriers) == 1, event_type
        assert topic_for_event(event_type) is carriers[0]


def test_dead_letter_keeps_the_original_bytes() -> None:
    raw = b"\x00not json\xff"
    letter = DeadLetter.of(
        service="notifier", source_topic="t", value=raw, reason="not JSON", offset=4
    )
    back = DeadLetter.model_validate_json(letter.model_dump_json())
    assert back.original() == raw
    assert back.reason == "not JSON"
