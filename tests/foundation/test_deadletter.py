"""The shared dead-letter model: error context in the body and as Kafka headers, compatibly."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from schemas.deadletter import HEADER_PREFIX, DeadLetter
from schemas.envelope import DecodeError, decode_event

FIRST = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
LAST = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)


def test_a_dead_letter_written_before_the_error_fields_still_reads() -> None:
    older = {
        "service": "notifier",
        "source_topic": "bebas.participants",
        "partition": 2,
        "offset": 41,
        "key": "P1",
        "value_b64": "e29vcHM=",
        "reason": "not JSON: Expecting property name",
        "failed_at": "2026-11-30T10:00:00+00:00",
    }
    letter = DeadLetter.model_validate_json(json.dumps(older))
    assert letter.original() == b"{oops"
    assert (letter.error_class, letter.attempts, letter.service_version) == (None, None, None)
    # and its headers carry only what it knows
    assert dict(letter.kafka_headers()) == {
        f"{HEADER_PREFIX}topic": b"bebas.participants",
        f"{HEADER_PREFIX}partition": b"2",
        f"{HEADER_PREFIX}offset": b"41",
        f"{HEADER_PREFIX}key": b"P1",
        f"{HEADER_PREFIX}reason": b"not JSON: Expecting property name",
        f"{HEADER_PREFIX}service.name": b"notifier",
        f"{HEADER_PREFIX}failed.time": b"2026-11-30T10:00:00+00:00",
    }


def test_error_class_message_version_and_attempts_travel_in_body_and_headers() -> None:
    try:
        decode_event(b"{oops")
    except DecodeError as exc:
        error = exc
    letter = DeadLetter.of(
        service="reporting",
        source_topic="bebas.participants",
        value=b"{oops",
        reason=str(error),
        key=b"P1",
        partition=0,
        offset=7,
        error=error,
        service_version="1.2.3",
        first_attempt_at=FIRST,
        last_attempt_at=LAST,
        attempts=3,
    )
    back = DeadLetter.model_validate_json(letter.model_dump_json())
    assert back == letter
    assert back.error_class == "schemas.envelope.DecodeError"
    assert back.error_message == str(error)
    assert back.error_message.startswith("not JSON")
    headers = dict(letter.kafka_headers())
    assert headers[f"{HEADER_PREFIX}exception.class.name"] == b"schemas.envelope.DecodeError"
    assert headers[f"{HEADER_PREFIX}exception.message"] == str(error).encode()
    assert headers[f"{HEADER_PREFIX}service.version"] == b"1.2.3"
    assert headers[f"{HEADER_PREFIX}first.attempt.time"] == b"2026-12-02T01:00:00+00:00"
    assert headers[f"{HEADER_PREFIX}last.attempt.time"] == b"2026-12-02T01:30:00+00:00"
    assert headers[f"{HEADER_PREFIX}attempts"] == b"3"
    assert all(isinstance(v, bytes) for v in headers.values())
