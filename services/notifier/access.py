"""Which callback signature the notifier checks, and whose keys open the participant view,
built from Settings once at start-up (a worker that could not check signatures refuses to
start). The checks themselves are the pure functions of `domain/signatures.py`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl

from services.notifier.domain.signatures import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TWILIO_HEADER,
    hmac_refusal,
    twilio_refusal,
)
from services.notifier.settings import Settings


@dataclass(frozen=True)
class Callback:
    """What a signature covers of one request: its raw target (path and query, as sent),
    headers and raw body."""

    target: str
    headers: Mapping[str, str]
    body: bytes


class CallbackGuard(Protocol):
    @property
    def header(self) -> str:
        """The header that carries the signature (named in the 401's WWW-Authenticate)."""
        ...

    def refusal(self, callback: Callback) -> str | None:
        """None when the provider signed this callback, else why it is refused."""
        ...


@dataclass(frozen=True)
class HmacGuard:
    """The generic JSON gateway: X-Bebas-Signature over timestamp + body."""

    secret: bytes
    max_age: float
    #: the system clock, not the notifier's business clock (tests move that one by days)
    wall: Callable[[], float] = time.time
    header: str = SIGNATURE_HEADER

    def refusal(self, callback: Callback) -> str | None:
        return hmac_refusal(
            self.secret,
            callback.body,
            callback.headers.get(SIGNATURE_HEADER),
            callback.headers.get(TIMESTAMP_HEADER),
            now=self.wall(),
            max_age=self.max_age,
        )


@dataclass(frozen=True)
class TwilioGuard:
    """Twilio: X-Twilio-Signature over the public URL it called and its form parameters."""

    auth_token: str
    public_url: str
    header: str = TWILIO_HEADER

    def refusal(self, callback: Callback) -> str | None:
        form = parse_qsl(callback.body.decode("utf-8", "replace"), keep_blank_values=True)
        url = self.public_url.rstrip("/") + callback.target
        return twilio_refusal(self.auth_token, url, form, callback.headers.get(TWILIO_HEADER))


@dataclass(frozen=True)
class EitherGuard:
    """Several SMS providers (NOTIFIER_SMS_PROVIDERS) with callbacks of both kinds, or Twilio
    accounts with their own tokens: the header a callback carries says whose scheme it
    follows, and it passes when one of the providers of that kind signed it."""

    gateway: HmacGuard | None
    twilio: tuple[TwilioGuard, ...]
    header: str = f"{SIGNATURE_HEADER}, {TWILIO_HEADER}"

    def refusal(self, callback: Callback) -> str | None:
        if twilio_signed(self, callback.headers):
            refusals = [guard.refusal(callback) for guard in self.twilio]
            return None if None in refusals else refusals[0]
        if self.gateway is None:
            return f"missing {TWILIO_HEADER} (only Twilio providers are configured)"
        return self.gateway.refusal(callback)


def twilio_signed(guard: CallbackGuard, headers: Mapping[str, str]) -> bool:
    """Whether a callback follows Twilio's scheme (form-encoded, X-Twilio-Signature)."""
    if isinstance(guard, TwilioGuard):
        return True
    return isinstance(guard, EitherGuard) and bool(guard.twilio) and TWILIO_HEADER in headers


@dataclass(frozen=True)
class WebAccess:
    callbacks: CallbackGuard
    admin_digests: frozenset[str] = field(default_factory=frozenset)
    #: the key unsubscribe links are signed with (None: /unsubscribe is not offered)
    unsubscribe_secret: bytes | None = field(default=None, repr=False)
    #: the Meta app secret that signs WhatsApp webhooks, and the handshake's verify token
    #: (None: no WhatsApp channel, /webhooks/whatsapp is not offered)
    whatsapp_app_secret: bytes | None = field(default=None, repr=False)
    whatsapp_verify_token: str | None = field(default=None, repr=False)


def web_access(settings: Settings) -> WebAccess:
    """Raise ValueError (the worker does not start) when callbacks could not be verified."""
    # (kind, key) of each SMS provider; the older variables name one (its account sid is
    # checked where its adapter is built)
    routes = [(p.kind, p.key) for p in settings.sms_providers or []] or [
        ("twilio" if settings.sms_provider == "twilio" else "gateway", settings.sms_api_key)
    ]
    twilio = [key for kind, key in routes if kind == "twilio"]
    if twilio and not settings.sms_callback_url:
        raise ValueError(
            "NOTIFIER_SMS_PROVIDER=twilio (or a twilio provider in NOTIFIER_SMS_PROVIDERS) "
            "needs NOTIFIER_SMS_CALLBACK_URL, the public base URL Twilio calls: its "
            "X-Twilio-Signature covers that URL"
        )
    gateway: HmacGuard | None = None
    if len(twilio) < len(routes):
        if settings.sms_callback_secret is None:
            raise ValueError(
                "NOTIFIER_SMS_CALLBACK_SECRET is not set: the SMS gateway's callbacks "
                "(/receipts, /inbound-sms) could not be verified. Set the secret shared with "
                "the gateway (at least 16 random characters)"
            )
        gateway = HmacGuard(
            settings.sms_callback_secret.get_secret_value().encode("utf-8"),
            settings.sms_callback_max_age_seconds,
        )
    twilios = tuple(
        TwilioGuard(key.get_secret_value(), settings.sms_callback_url or "") for key in twilio
    )
    guard: CallbackGuard
    if gateway is not None and not twilios:
        guard = gateway
    elif gateway is None and len(twilios) == 1:
        guard = twilios[0]
    else:
        guard = EitherGuard(gateway, twilios)
    secret = settings.unsubscribe_secret
    app_secret, verify = settings.whatsapp_app_secret, settings.whatsapp_verify_token
    return WebAccess(
        guard,
        settings.admin_digests,
        secret.get_secret_value().encode("utf-8") if secret is not None else None,
        app_secret.get_secret_value().encode("utf-8") if app_secret is not None else None,
        verify.get_secret_value() if verify is not None else None,
    )
