"""CloudEvents 1.0 envelope in structured JSON mode, and the one codec every service uses."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.events import CURRENT_VERSION, EventData, model_for, type_of

SPEC_VERSION = "1.0"
_SCHEMA_URI = re.compile(r"^urn:bebas-cemas:schema:(?P<type>[a-z_.]+):v(?P<version>\d+)$")

DataT = TypeVar("DataT", bound=EventData)


def dataschema_uri(event_type: str, version: int) -> str:
    return f"urn:bebas-cemas:schema:{event_type}:v{version}"


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event; `subject` is the entity id and also the Kafka key."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    source: str = Field(min_length=1, description="URI-reference of the producing service")
    type: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$")
    time: AwareDatetime
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = Field(pattern=_SCHEMA_URI.pattern)
    correlationid: str = Field(min_length=1)
    data: DataT

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def version(self) -> int:
        return _version_of(self.dataschema)

    @property
    def key(self) -> bytes:
        return self.subject.encode()


class DecodeError(ValueError):
    """Raised for bytes that are not a valid event of a known type; the reason is the message."""


def new_event(
    data: DataT,
    *,
    source: str,
    subject: str,
    correlationid: str | None = None,
    event_id: uuid.UUID | None = None,
    time: datetime | None = None,
) -> CloudEvent[DataT]:
    """Wrap a payload in an envelope; type and version follow from the payload's class."""
    event_type, version = type_of(data)
    eid = event_id or uuid.uuid4()
    event_class: type[CloudEvent[DataT]] = envelope_of(type(data))
    return event_class(
        id=eid,
        source=source,
        type=event_type,
        time=time or datetime.now(UTC),
        subject=subject,
        dataschema=dataschema_uri(event_type, version),
        correlationid=correlationid or str(eid),
        data=data,
    )


@cache
def envelope_of(model: type[DataT]) -> type[CloudEvent[DataT]]:
    """The envelope class of one payload model. Cached: pydantic's `CloudEvent[model]` looks
    its parametrised class up anew on every call, a tenth of the notifier's input decoding
    in a profile."""
    return CloudEvent[model]  # type: ignore[valid-type]


def encode_event(event: CloudEvent[Any]) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


def decode_event(raw: bytes | str) -> CloudEvent[EventData]:
    """Parse and validate bytes into a typed event, or raise DecodeError saying why."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise DecodeError("not a JSON object")
    event_type, schema = doc.get("type"), doc.get("dataschema")
    if not isinstance(event_type, str) or not isinstance(schema, str):
        raise DecodeError("missing 'type' or 'dataschema'")
    try:
        version = _version_of(schema)
        model = model_for(event_type, version)
    except (KeyError, ValueError) as exc:
        raise DecodeError(str(exc).strip("'\"")) from exc
    try:
        return envelope_of(model).model_validate(doc)
    except ValidationError as exc:
        raise DecodeError(_describe(exc)) from exc


def _version_of(dataschema: str) -> int:
    match = _SCHEMA_URI.match(dataschema)
    if not match:
        raise ValueError(f"dataschema {dataschema!r} is not urn:bebas-cemas:schema:<type>:v<n>")
    return int(match["version"])


def _describe(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]]
    return "schema-invalid: " + "; ".join(parts)


__all__ = [
    "CURRENT_VERSION",
    "SPEC_VERSION",
    "CloudEvent",
    "DecodeError",
    "dataschema_uri",
    "decode_event",
    "encode_event",
    "new_event",
]
