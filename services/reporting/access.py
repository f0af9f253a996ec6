"""Sign-in for the reporting API and dashboard, built from Settings once at start-up.

A request is someone's when it carries `Authorization: Bearer <key>` of a key listed in
REPORTING_KEY_HASHES, or the session cookie `POST /v1/session` gave for one. The checks are the
pure functions of `domain/access.py`; this module holds the secret, the clock and the cookie.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from services.common.apikeys import bearer_key
from services.reporting.domain.access import (
    Principal,
    by_key,
    parse_keys,
    session_principal,
    session_token,
)
from services.reporting.settings import Settings

log = logging.getLogger(__name__)
COOKIE = "bebas_reporting_session"
SIGN_IN = "sign in: send 'Authorization: Bearer <key>', or POST /v1/session with {\"key\": ...}"


class Unauthenticated(Exception):
    """No key, or not one reporting accepts (HTTP 401); the message says which."""


@dataclass(frozen=True)
class Access:
    #: digest -> whose key; empty: nobody may sign in
    keys: Mapping[str, Principal] = field(default_factory=dict)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    session_seconds: int = 8 * 3600
    cookie_secure: bool = False
    #: the system clock (sessions expire in real time; tests pass their own)
    wall: Callable[[], float] = time.time

    def who(self, authorization: str | None, cookie: str | None) -> Principal:
        """Whose request this is (a bearer header wins over a cookie), else Unauthenticated."""
        if authorization:
            key, refusal = bearer_key(authorization)
            return self.sign_in(key) if key is not None else _refuse(refusal)
        if cookie:
            principal, refusal = session_principal(self.secret, cookie, self.keys, self.wall())
            return principal if principal is not None else _refuse(refusal)
        raise Unauthenticated(SIGN_IN)

    def sign_in(self, key: str) -> Principal:
        principal = by_key(key, self.keys)
        if principal is None:
            raise Unauthenticated("this key is not accepted by reporting (REPORTING_KEY_HASHES)")
        return principal

    def session(self, principal: Principal) -> tuple[str, int]:
        """A new session cookie's value for this key, and when it expires (Unix time)."""
        expires = int(self.wall()) + self.session_seconds
        return session_token(self.secret, principal.digest, expires), expires


def _refuse(reason: str | None) -> Principal:
    raise Unauthenticated(reason or SIGN_IN)


def access_of(settings: Settings) -> Access:
    keys = parse_keys(settings.key_hashes)
    if not keys:
        log.warning("REPORTING_KEY_HASHES is empty: nobody can sign in to the API or dashboard")
    secret = settings.session_secret
    if secret is None:
        # a per-process secret: sessions end with the process and are not shared by workers
        log.warning(
            "REPORTING_SESSION_SECRET is not set: sessions end when this worker stops, and "
            "other workers neither accept them nor may read this worker's counters (set it "
            "when running more than one)"
        )
    return Access(
        keys,
        secret.get_secret_value().encode("utf-8") if secret else secrets.token_bytes(32),
        int(settings.session_hours * 3600),
        settings.session_cookie_secure,
    )
