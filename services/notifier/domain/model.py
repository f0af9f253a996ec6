"""What the notifier remembers about a participant, and the messages it renders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.vocab import MessageKind
from services.notifier.domain.routing import DEFAULT_ROUTES, WITHOUT_WHATSAPP, Route, route_for

#: Message kinds that need the participant's consent to reminders and campaigns; the welcome
#: confirms a registration the person just made, so it is transactional.
CONSENT_KINDS = frozenset(k.value for k in MessageKind if k is not MessageKind.WELCOME)
REMINDER_KINDS = frozenset(
    k.value
    for k in (MessageKind.REMINDER_D7, MessageKind.REMINDER_D1, MessageKind.REMINDER_OVERDUE)
)


def channels_for(
    kind: str,
    person: dict[str, Any],
    routes: Mapping[str, Route] = DEFAULT_ROUTES,
    available: frozenset[str] = WITHOUT_WHATSAPP,
) -> list[str]:
    """The channels a message of `kind` goes out on for this person: its route
    (`domain/routing.py`, by default the welcome on SMS and e-mail and everything else on the
    preferred channel, else another), among the `available` ones (those with an adapter),
    none without the consent it needs."""
    if kind in CONSENT_KINDS and not person.get("consent_reminders", False):
        return []
    return route_for(kind, routes).pick(person, available)


@dataclass(frozen=True)
class SmsMessage:
    key: str
    to: str
    text: str
    sender: str
    #: the SMS provider an earlier attempt may have left it with (a timeout after sending):
    #: it goes there again, never to another one (None: any provider, in the configured order)
    provider: str | None = None
    #: the providers its kind's route names, in failover order (empty: the list's order)
    providers: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmailMessage:
    key: str
    to: str
    sender: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WhatsAppMessage:
    """An approved template (`domain/whatsapp.py`): its registered name and language, and the
    values of its body placeholders in order; the text itself is Meta's copy."""

    key: str
    to: str  # E.164
    template: str
    language: str
    parameters: tuple[str, ...]


Message = SmsMessage | EmailMessage | WhatsAppMessage


def pinned_to(message: Message, provider: str | None, providers: tuple[str, ...] = ()) -> Message:
    """The message bound to the provider its queue entry names, and given its route's SMS
    providers (SMS only: one e-mail relay, one WhatsApp account)."""
    if not isinstance(message, SmsMessage) or (provider is None and not providers):
        return message
    return replace(message, provider=provider, providers=providers)
