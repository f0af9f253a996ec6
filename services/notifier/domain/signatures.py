"""Who may call the notifier's HTTP doors: signed provider callbacks and admin keys.

Pure functions (standard library only). Each `*_refusal` answers None when the request may
pass, else the reason it may not (said in the 401's detail: it names what is wrong, never the
expected value). Every comparison of a secret-derived value is constant-time.

Generic gateway (`POST /receipts`, `POST /inbound-sms`):
    X-Bebas-Timestamp: <Unix time, whole seconds>
    X-Bebas-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
The timestamp is inside the MAC so a captured callback can be replayed only within
`max_age` seconds of when it was signed (a STOP replayed months later would opt a person
out again after they re-subscribed).

Twilio (`X-Twilio-Signature`): base64 HMAC-SHA1(auth token, the full URL Twilio called +
each POST parameter, sorted by name, as name + value) — Twilio's documented scheme. Twilio
sends no timestamp, so replays are not bounded there (both callbacks are idempotent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from services.common.apikeys import bearer_key, listed_digest

SIGNATURE_HEADER = "X-Bebas-Signature"
TIMESTAMP_HEADER = "X-Bebas-Timestamp"
TWILIO_HEADER = "X-Twilio-Signature"
SCHEME = "sha256="


def _same(given: str, expected: str) -> bool:
    # bytes, so that a header with non-ASCII characters is a mismatch, not a TypeError
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def hmac_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-Bebas-Signature value for `body` sent at `timestamp` (what a gateway sends)."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def signed_headers(secret: bytes, body: bytes, timestamp: int) -> dict[str, str]:
    """The two headers a generic gateway adds to a callback whose exact bytes are `body`."""
    stamp = str(timestamp)
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: hmac_signature(secret, stamp, body)}


def hmac_refusal(
    secret: bytes,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    now: float,
    max_age: float,
) -> str | None:
    """Why a generic gateway's callback is refused (None: it is genuine and fresh)."""
    if not signature:
        return f"{SIGNATURE_HEADER} header missing: callbacks must be signed"
    if not timestamp:
        return f"{TIMESTAMP_HEADER} header missing: callbacks must be signed with their time"
    if not (timestamp.isascii() and timestamp.isdigit()):
        return f"{TIMESTAMP_HEADER} must be a Unix time in whole seconds"
    if abs(now - int(timestamp)) > max_age:
        return (
            f"{TIMESTAMP_HEADER} is more than {max_age:g} s away from the notifier's clock "
            "(a replayed callback, or the gateway's clock is wrong)"
        )
    if not _same(signature.strip(), hmac_signature(secret, timestamp, body)):
        return f"{SIGNATURE_HEADER} does not match the body (wrong secret or altered body)"
    return None


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The X-Twilio-Signature Twilio sends for a form POST of `params` to `url`."""
    signed = url + "".join(name + value for name, value in sorted(params))
    mac = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def twilio_refusal(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> str | None:
    """Why a Twilio callback is refused (None: Twilio signed exactly this URL and form)."""
    if not signature:
        return f"{TWILIO_HEADER} header missing: callbacks must be signed"
    if not _same(signature.strip(), twilio_signature(auth_token, url, params)):
        return (
            f"{TWILIO_HEADER} does not match (wrong auth token, altered form, or "
            "NOTIFIER_SMS_CALLBACK_URL is not the address the provider calls)"
        )
    return None


def admin_refusal(authorization: str | None, admin_digests: Iterable[str]) -> str | None:
    """Why a request is not an admin's (None: it carries `Bearer <a key whose digest is
    listed>`). No listed digest closes the door to everyone."""
    key, refusal = bearer_key(authorization, "an admin API key")
    if key is None:
        return refusal
    if listed_digest(key, admin_digests) is None:
        return "this key is not an admin key of the notifier (NOTIFIER_ADMIN_KEY_HASHES)"
    return None
