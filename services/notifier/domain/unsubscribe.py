"""Signed, expiring tokens for an e-mail's one-click unsubscribe link (RFC 8058).

    token   = base64url(payload) "." base64url(HMAC-SHA256(secret, "unsubscribe|" + payload))
    payload = "v1|<participant id>|<channel>|<expires at, Unix seconds>"

The participant id is a random UUID, never the NIK; the link needs no database to check, so
any notifier worker answers it. Anyone holding the link can stop that one channel for that one
person until it expires — what a link in the person's own mailbox is for — and nothing else:
the MAC covers id, channel and expiry, and the tag keeps it from ever passing for another
kind of signature made with the same secret. Pure functions; the caller gives the time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

VERSION = "v1"
_TAG = b"unsubscribe|"
#: the channels a link may stop (SMS and WhatsApp are stopped by a reply, not a link)
LINK_CHANNELS = frozenset({"email"})


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: stop `channel` for `participant_id`."""

    participant_id: str
    channel: str
    expires_at: datetime


class TokenRefused(ValueError):
    """Why a token does not count; `expired` tells a stale link from a forged or broken one."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _TAG + payload, hashlib.sha256).digest()


def sign(secret: bytes, participant_id: str, channel: str, expires_at: datetime) -> str:
    if "|" in participant_id or channel not in LINK_CHANNELS:
        raise ValueError(f"cannot sign a link for {participant_id!r} on {channel!r}")
    payload = f"{VERSION}|{participant_id}|{channel}|{int(expires_at.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify(secret: bytes, token: str, now: datetime) -> Grant:
    """The grant of a genuine, unexpired token; else TokenRefused saying what is wrong."""
    encoded, dot, signature = token.partition(".")
    if not dot or not encoded or not signature:
        raise TokenRefused("token: not a link this service made (it has no signature part)")
    try:
        payload, given = _unb64(encoded), _unb64(signature)
    except (binascii.Error, ValueError):
        raise TokenRefused("token: not base64url; the link may have been cut") from None
    if _b64(payload) != encoded or _b64(given) != signature:
        # base64 ignores a last character's spare bits: one token, one spelling
        raise TokenRefused("token: not written as this service writes it (altered)")
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise TokenRefused("token: the signature does not match (altered or from elsewhere)")
    parts = payload.decode("utf-8", "replace").split("|")
    if len(parts) != 4 or parts[0] != VERSION or parts[2] not in LINK_CHANNELS:
        raise TokenRefused("token: signed, but of a form this service does not know")
    _, participant_id, channel, expires = parts
    if not expires.isdigit():
        raise TokenRefused("token: signed, but of a form this service does not know")
    expires_at = datetime.fromtimestamp(int(expires), UTC)
    if now >= expires_at:
        raise TokenRefused(f"token: the link expired on {expires_at:%Y-%m-%d}", expired=True)
    return Grant(participant_id, channel, expires_at)


def link(base_url: str, token: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}token={quote(token, safe='')}"
