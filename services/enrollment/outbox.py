"""Turning a payload into an outbox row: CloudEvent envelope, topic and Kafka key."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from schemas.envelope import SPEC_VERSION, dataschema_uri
from schemas.events import EVENT_MODELS, EventData
from schemas.topics import topic_for_event

_TIME = TypeAdapter(datetime)


class OutboxWriter:
    """Knows the event source and the (possibly overridden) topic names.

    The payload (`data`) is a validated pydantic model, so the contract of what callers put in
    an event is enforced as ever. The envelope around it holds only values this class controls,
    so it is written directly instead of through `schemas.envelope.new_event`: building the
    generic `CloudEvent[...]` model and validating it again cost as much as all of the data
    (measured: a third of the outbox's time per event). Tests check that the bytes are exactly
    what `encode_event(new_event(...))` produces and that they decode.
    """

    def __init__(self, source: str, topic_names: dict[str, str] | None = None) -> None:
        if not source:
            raise ValueError("the event source must not be empty")
        self.source = source
        self.topic_names = topic_names or {}
        self._topics: dict[str, str] = {}
        # The constant parts of each payload class's envelope, in CloudEvent's field order.
        self._parts: dict[type[EventData], tuple[str, bytes, bytes]] = {
            model: (
                event_type,
                b',"source":' + _json(source) + b',"type":' + _json(event_type),
                b',"datacontenttype":"application/json","dataschema":'
                + _json(dataschema_uri(event_type, version)),
            )
            for event_type, versions in EVENT_MODELS.items()
            for version, model in versions.items()
        }

    def _topic(self, event_type: str) -> str:
        topic = self._topics.get(event_type)
        if topic is None:
            catalogue_name = topic_for_event(event_type).name
            topic = self._topics[event_type] = self.topic_names.get(catalogue_name, catalogue_name)
        return topic

    def row(
        self, data: EventData, subject: str, now: datetime, correlationid: str | None = None
    ) -> dict[str, Any]:
        if not subject or correlationid == "":
            raise ValueError("an event needs a non-empty subject and correlation id")
        if now.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        event_type, source_and_type, schema = self._parts[type(data)]
        event_id = str(uuid.uuid4())
        payload = b"".join(
            (
                b'{"specversion":"'
                + SPEC_VERSION.encode()
                + b'","id":"'
                + event_id.encode()
                + b'"',
                source_and_type,
                b',"time":' + _TIME.dump_json(now.astimezone(UTC)),
                b',"subject":' + _json(subject),
                schema,
                b',"correlationid":' + _json(correlationid or event_id),
                b',"data":' + data.model_dump_json(exclude_none=True).encode() + b"}",
            )
        )
        return {
            "event_id": event_id,
            "topic": self._topic(event_type),
            "key": subject,
            "event_type": event_type,
            "payload": payload,
            "created_at": now,
        }


def _json(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()
