"""The channel port: one small interface every provider adapter (SMTP, SMS, later WhatsApp)
implements, and the two kinds of failure the dispatcher tells apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    """Trying again cannot help: invalid number or address, any other 4xx."""


class ChannelPort(Protocol):
    name: str  # "sms", "email"
    provider: str

    async def send(self, message: Message) -> SendReceipt:
        """Hand the message to the provider, or raise TransientError / PermanentError."""
        ...

    async def close(self) -> None: ...
