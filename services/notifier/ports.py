"""The channel port: one small interface every provider adapter (SMTP, SMS, WhatsApp)
implements, and the two kinds of failure the dispatcher tells apart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from services.notifier.domain.model import Message


@dataclass(frozen=True)
class SendReceipt:
    provider: str
    provider_message_id: str | None = None


class ChannelError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(ChannelError):
    """Try again later: timeouts, refused connections, 5xx, 429 (with the provider's hint)."""

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        *,
        held_by: str | None = None,
        tried: bool = True,
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        #: False: no request went out (the provider holding the message is known to be down):
        #: the wait does not use up one of the message's attempts
        self.tried = tried
        #: the provider that may have accepted the message although it gave no answer (a
        #: timeout or a lost connection after the request went out): the retry must go to
        #: it again, with the same reference, never to another provider. None: the provider
        #: surely did not take it (refused connection, 5xx/429 answered)
        self.held_by = held_by


class PermanentError(ChannelError):
    """Trying again cannot help: invalid number or address, any other 4xx."""

    def __init__(self, reason: str, *, fallback: str | None = None) -> None:
        super().__init__(reason)
        #: another channel that can still reach the person (WhatsApp: "not on WhatsApp" ->
        #: "sms"); the message goes there once, under that channel's key
        self.fallback = fallback


class ChannelPort(Protocol):
    name: str  # "sms", "email", "whatsapp"
    provider: str
    #: True when the provider drops a message whose key it has seen (a client reference):
    #: then a crash may re-offer a whole dispatch round safely; otherwise rounds stay as
    #: small as the channel's concurrency, so at most that many can be offered twice
    drops_repeats: bool

    async def send(self, message: Message) -> SendReceipt:
        """Hand the message to the provider, or raise TransientError / PermanentError."""
        ...

    async def close(self) -> None: ...


class StatePort(Protocol):
    """The notifier's state, partitioned like `bebas.participants`: one record per participant,
    a phone-number index and a wake-up index ordered by instant, each held per partition.

    Writes (`save`, `set_phone`, `drop_phone`) are made only by the worker that owns the
    partition, while it processes a record of that partition; reads may come from anywhere in
    that worker. Every call names the partition: a store must never answer from another one.
    """

    def get(self, partition: int, participant_id: str) -> dict[str, Any] | None: ...

    def save(
        self,
        partition: int,
        participant_id: str,
        record: dict[str, Any],
        previous_wake: str | None,
    ) -> None:
        """Store the record and move its wake-up index entry from `previous_wake`."""
        ...

    def phone_owner(self, partition: int, phone: str) -> str | None: ...

    def set_phone(self, partition: int, phone: str, participant_id: str) -> None: ...

    def drop_phone(self, partition: int, phone: str) -> None: ...

    def participants_after(self, partition: int, after: str, limit: int) -> list[str]:
        """Up to `limit` participant ids of the partition greater than `after`, in order."""
        ...

    def drop_wake(self, partition: int, instant: str, participant_id: str) -> None:
        """Remove a wake-up index entry the record no longer has (left by a crash)."""
        ...

    def due(
        self, partition: int, until: str, limit: int, start: str = ""
    ) -> Iterator[tuple[str, str]]:
        """(instant, participant id) of wake-up entries from `start` to `until` (ISO),
        earliest first."""
        ...
