"""Deterministic notification keys: the same message to the same person always has the same key,
so a redelivered event, a restart or a rebalance can never produce a second message."""

from __future__ import annotations

from dataclasses import dataclass

_SEP = "|"


@dataclass(frozen=True)
class NotificationKey:
    participant_id: str
    kind: str
    scope: str  # period (YYYY-MM), "campaign:<code>:<broadcast>", or "once"
    channel: str

    def __str__(self) -> str:
        return _SEP.join((self.participant_id, self.kind, self.scope, self.channel))

    @classmethod
    def parse(cls, text: str) -> NotificationKey:
        parts = text.split(_SEP)
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"not a notification key: {text!r}")
        return cls(*parts)


def once_key(participant_id: str, kind: str, channel: str) -> str:
    return str(NotificationKey(participant_id, kind, "once", channel))


def period_key(participant_id: str, kind: str, period: str, channel: str) -> str:
    return str(NotificationKey(participant_id, kind, period, channel))


def campaign_key(
    participant_id: str, kind: str, campaign_code: str, broadcast_id: str, channel: str
) -> str:
    scope = f"campaign:{campaign_code}:{broadcast_id}"
    return str(NotificationKey(participant_id, kind, scope, channel))
