"""Turning a payload into an outbox row: CloudEvent envelope, topic and Kafka key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.envelope import encode_event, new_event
from schemas.events import EventData, type_of
from schemas.topics import topic_for_event


class OutboxWriter:
    """Knows the event source and the (possibly overridden) topic names."""

    def __init__(self, source: str, topic_names: dict[str, str] | None = None) -> None:
        self.source = source
        self.topic_names = topic_names or {}

    def row(
        self, data: EventData, subject: str, now: datetime, correlationid: str | None = None
    ) -> dict[str, Any]:
        event = new_event(
            data, source=self.source, subject=subject, time=now, correlationid=correlationid
        )
        event_type, _ = type_of(data)
        catalogue_name = topic_for_event(event_type).name
        return {
            "event_id": str(event.id),
            "topic": self.topic_names.get(catalogue_name, catalogue_name),
            "key": subject,
            "event_type": event_type,
            "payload": encode_event(event),
            "created_at": now,
        }
