"""The record a service writes to its dead-letter topic for input it could not handle."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    value_b64: str = Field(description="the original bytes, base64: nothing is lost")
    reason: str
    failed_at: AwareDatetime

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
    ) -> DeadLetter:
        return cls(
            service=service,
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace") if key is not None else None,
            value_b64=base64.b64encode(value or b"").decode(),
            reason=reason[:2000],
            failed_at=datetime.now(UTC),
        )

    def original(self) -> bytes:
        return base64.b64decode(self.value_b64)
