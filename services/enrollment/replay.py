"""What enrollment's dead letters may be replayed to, and how each is validated: a request
(`participant.opt_out_requested`) goes back to the requests topic as it was, once it decodes
as one. Imports no database or web code, so any service can build this config."""

from __future__ import annotations

from schemas.envelope import decode_event
from schemas.events import ParticipantOptOutRequestedV1
from schemas.topics import DEADLETTER_REPLAYS, ENROLLMENT_DEADLETTER, ENROLLMENT_REQUESTS
from services.common.deadletter_cli import DeadLetterConfig
from services.common.kafka_settings import KafkaSettings


def deadletter_config(
    kafka: KafkaSettings,
    *,
    requests_topic: str = ENROLLMENT_REQUESTS.name,
    deadletter_topic: str = ENROLLMENT_DEADLETTER.name,
    ledger_topic: str = DEADLETTER_REPLAYS.name,
) -> DeadLetterConfig:
    """A letter is refused while it is not a request enrollment acts on (what made the reader
    refuse a participant it did not know, say, is checked again only by the reader)."""

    def validate(topic: str, value: bytes) -> object:
        if topic != requests_topic:
            raise ValueError(f"{topic} is not a topic enrollment reads")
        event = decode_event(value)
        if not isinstance(event.data, ParticipantOptOutRequestedV1):
            raise ValueError(f"type: {event.type} is not a request enrollment acts on")
        return event

    return DeadLetterConfig(kafka, deadletter_topic, ledger_topic, validate)
