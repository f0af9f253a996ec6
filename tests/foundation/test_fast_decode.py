"""The fast decoder accepts and rejects exactly what the shared codec does."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas.envelope import DecodeError, decode_event
from schemas.fast_decode import decode
from tests.reporting import factory as f

AT = datetime(2023, 12, 16, 3, 0, tzinfo=UTC)


def valid() -> bytes:
    return f.raw(f.envelope(f.registered("P1", AT), "P1"))


def test_valid_event_decodes_to_the_same_event_as_the_shared_codec() -> None:
    raw = valid()
    assert decode(raw) == decode_event(raw)


def _mutated(change) -> bytes:  # type: ignore[no-untyped-def]
    doc = json.loads(valid())
    change(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{not json",
        b"[]",
        _mutated(lambda d: d["data"].update(branch_timezone="Europe/Paris")),
        _mutated(lambda d: d["data"].pop("registered_at")),
        _mutated(lambda d: d["data"].update(registered_at="2023-12-16T03:00:00")),  # naive
        _mutated(lambda d: d.update(type="participant.exploded")),
        _mutated(lambda d: d.update(dataschema="urn:bebas-cemas:schema:participant.registered:v0")),
        _mutated(lambda d: d.update(id="not-a-uuid")),
    ],
)
def test_invalid_input_is_rejected_with_the_shared_codecs_reason(raw: bytes) -> None:
    with pytest.raises(DecodeError) as ours:
        decode(raw)
    if raw:
        with pytest.raises(DecodeError) as shared:
            decode_event(raw)
        assert str(ours.value) == str(shared.value)
    else:
        assert "empty" in str(ours.value)


def test_a_dataschema_lookalike_inside_data_does_not_fool_the_fast_path() -> None:
    def plant(doc: dict) -> None:  # type: ignore[type-arg]
        doc["data"]["officer_id"] = '"dataschema":"urn:bebas-cemas:schema:contribution.paid:v1"'

    raw = _mutated(plant)
    assert decode(raw) == decode_event(raw)
