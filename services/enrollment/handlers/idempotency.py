"""Idempotency-Key records: a retried request answers what its first attempt answered."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.enrollment.adapters.repository import Row
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import Conflict


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key, the fingerprint of the request it came with, and the status code
    the entrypoint answers that request with (chosen by the entrypoint, replayed to a retry)."""

    key: str
    fingerprint: str
    status: int


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def reused_key() -> Conflict:
    return Conflict(
        "this Idempotency-Key was already used for a different request; "
        "use a new key for a new request"
    )


def replay_of(stored: Row | None, idem: Idempotency) -> Replay | None:
    """The remembered answer for this key; Conflict when the key came with another request."""
    if stored is None:
        return None
    if stored["fingerprint"] != idem.fingerprint:
        raise reused_key()
    return Replay(stored["status_code"], json.loads(stored["body"]))


def idempotency_row(actor: Principal, idem: Idempotency, body: Any, now: datetime) -> Row:
    return {
        "principal": actor.key_id,
        "key": idem.key,
        "fingerprint": idem.fingerprint,
        "status_code": idem.status,
        "body": json.dumps(body, default=str),
        "created_at": now,
    }
