"""The record a service writes to its dead-letter topic for input it could not handle.

What went wrong travels twice: in the JSON body, and as Kafka headers named like Kafka
Connect's `__connect.errors.*` (prefix `__bebas.errors.`), so an operator can filter dead
letters with kcat or a console consumer without parsing bodies. Every field added after the
first version is optional: older dead letters still validate.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

HEADER_PREFIX = "__bebas.errors."
_TEXT_LIMIT = 2000


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str | None = Field(
        default=None, description="a uuid given when written: how replay names this letter"
    )
    service: str
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    value_b64: str = Field(description="the original bytes, base64: nothing is lost")
    reason: str
    failed_at: AwareDatetime
    error_class: str | None = Field(
        default=None, description="the exception's class, with its module (schemas.x.Error)"
    )
    error_message: str | None = Field(default=None, description="the exception's message")
    service_version: str | None = Field(default=None, description="version that rejected it")
    first_attempt_at: AwareDatetime | None = None
    last_attempt_at: AwareDatetime | None = None
    attempts: int | None = Field(default=None, ge=1, description="attempts before giving up")

    @classmethod
    def of(
        cls,
        *,
        service: str,
        source_topic: str,
        value: bytes | None,
        reason: str,
        key: bytes | None = None,
        partition: int | None = None,
        offset: int | None = None,
        error: BaseException | None = None,
        service_version: str | None = None,
        first_attempt_at: datetime | None = None,
        last_attempt_at: datetime | None = None,
        attempts: int | None = None,
    ) -> DeadLetter:
        return cls(
            id=str(uuid.uuid4()),
            service=service,
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace") if key is not None else None,
            value_b64=base64.b64encode(value or b"").decode(),
            reason=reason[:_TEXT_LIMIT],
            failed_at=datetime.now(UTC),
            error_class=_class_name(error) if error is not None else None,
            error_message=str(error)[:_TEXT_LIMIT] if error is not None else None,
            service_version=service_version,
            first_attempt_at=first_attempt_at,
            last_attempt_at=last_attempt_at,
            attempts=attempts,
        )

    def original(self) -> bytes:
        return base64.b64decode(self.value_b64)

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """The error context as Kafka headers (UTF-8 text; times in ISO 8601); fields not
        known are left out rather than sent empty."""
        fields: dict[str, object | None] = {
            "id": self.id,
            "topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "exception.class.name": self.error_class,
            "exception.message": self.error_message,
            "reason": self.reason,
            "service.name": self.service,
            "service.version": self.service_version,
            "first.attempt.time": _iso(self.first_attempt_at),
            "last.attempt.time": _iso(self.last_attempt_at),
            "attempts": self.attempts,
            "failed.time": _iso(self.failed_at),
        }
        return [
            (HEADER_PREFIX + name, str(value).encode())
            for name, value in fields.items()
            if value is not None
        ]


def _class_name(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when is not None else None
