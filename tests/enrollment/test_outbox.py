"""The outbox writes CloudEvent envelopes itself (for speed): exactly the contract's bytes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.envelope import decode_event, encode_event, new_event
from schemas.events import EVENT_MODELS, EventData
from schemas.topics import topic_for_event
from services.enrollment.outbox import OutboxWriter

ROOT = Path(__file__).resolve().parents[2] / "schemas"
VERSIONS = [(t, v) for t, versions in EVENT_MODELS.items() for v in versions]


def _json(*parts: str) -> Any:
    return json.loads(ROOT.joinpath(*parts).read_text(encoding="utf-8"))


def _sample_data(event_type: str, version: int) -> EventData:
    return decode_event(json.dumps(_json("samples", event_type, f"v{version}.json"))).data


def _reference(
    row: dict[str, Any], data: EventData, source: str, subject: str, now: datetime, corr: str | None
) -> bytes:
    """What schemas.envelope itself makes of the same event (same id, so same bytes)."""
    event = new_event(
        data,
        source=source,
        subject=subject,
        time=now,
        correlationid=corr,
        event_id=uuid.UUID(row["event_id"]),
    )
    return encode_event(event)


@pytest.mark.parametrize(("event_type", "version"), VERSIONS, ids=lambda x: str(x))
def test_every_event_type_gets_the_envelope_schemas_envelope_makes(
    event_type: str, version: int
) -> None:
    data = _sample_data(event_type, version)
    writer = OutboxWriter("urn:bebas-cemas:enrollment", {"bebas.participants": "renamed"})
    now = datetime(2026, 11, 20, 9, 0, 0, 120_000, tzinfo=UTC)
    row = writer.row(data, "subject-1", now)
    assert row["payload"] == _reference(row, data, writer.source, "subject-1", now, None)
    document = json.loads(row["payload"])
    jsonschema.validate(document, _json("jsonschema", event_type, f"v{version}.json"))
    event = decode_event(row["payload"])
    assert (event.type, event.version, event.data) == (event_type, version, data)
    assert (row["event_id"], row["key"], row["event_type"]) == (
        str(event.id),
        "subject-1",
        event_type,
    )
    # the catalogue's topic for the type, under the name this deployment gives it (lapses and
    # reactivations are the notifier's observations, on its own topic)
    catalogue_name = topic_for_event(event_type).name
    assert row["topic"] == ("renamed" if catalogue_name == "bebas.participants" else catalogue_name)


@given(
    subject=st.text(min_size=1, max_size=40),
    source=st.text(min_size=1, max_size=40),
    correlationid=st.none() | st.text(min_size=1, max_size=40),
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_envelope_bytes_match_for_any_subject_source_and_time(
    subject: str, source: str, correlationid: str | None, moment: datetime, offset_minutes: int
) -> None:
    data = _sample_data("participant.registered", 2)
    now = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    row = OutboxWriter(source).row(data, subject, now, correlationid)
    assert row["payload"] == _reference(row, data, source, subject, now, correlationid)


def test_an_envelope_the_contract_forbids_is_refused() -> None:
    writer = OutboxWriter("urn:bebas-cemas:enrollment")
    data = _sample_data("participant.registered", 2)
    with pytest.raises(ValueError, match="subject"):
        writer.row(data, "", datetime.now(UTC))
    with pytest.raises(ValueError, match="timezone"):
        writer.row(data, "p-1", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="source"):
        OutboxWriter("")
