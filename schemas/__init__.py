"""Bebas Cemas event contracts: the one shared set of events, topics and their JSON Schemas.

Every service imports its events from here; no service defines its own copy.
"""

from schemas.envelope import (
    SPEC_VERSION,
    CloudEvent,
    DecodeError,
    dataschema_uri,
    decode_event,
    encode_event,
    new_event,
)
from schemas.events import CURRENT_VERSION, EVENT_MODELS, EventData, model_for

__all__ = [
    "CURRENT_VERSION",
    "EVENT_MODELS",
    "SPEC_VERSION",
    "CloudEvent",
    "DecodeError",
    "EventData",
    "dataschema_uri",
    "decode_event",
    "encode_event",
    "model_for",
    "new_event",
]
