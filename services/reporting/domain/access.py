"""Who may read reporting: enrollment's API keys, listed by digest with their role, and the
signed session cookie a key is exchanged for in the browser.

Reporting cannot read enrollment's database, so REPORTING_KEY_HASHES lists the keys it accepts
as `sha256-digest:role[:branch]` entries (the digest is enrollment's `api_keys.key_hash`, the
role and branch the key's own). Admins and viewers read every branch and the stream's
operations data (stream health, dead letters); an officer reads only their branch's figures.
Only an admin replays dead letters. Pure functions (standard library only).

A session cookie is `<payload>.<mac>`: payload = base64url of `{"d": digest, "exp": unix}`,
mac = hex HMAC-SHA256(session secret, payload). It names the key's digest, not its role, so
a key removed from REPORTING_KEY_HASHES closes its sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from services.common.apikeys import DIGEST, listed_digest

ROLES = ("admin", "viewer", "officer")
BRANCH = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Forbidden(Exception):
    """The key is genuine but may not read this (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    digest: str
    role: str
    branch: str | None = None

    @property
    def officer(self) -> bool:
        return self.role == "officer"

    def require_branch(self, code: str) -> None:
        if self.officer and code != self.branch:
            raise Forbidden(f"your key is for branch {self.branch}, not {code}")

    def require_operations(self) -> None:
        """Stream health and dead letters: admins and viewers, never officers."""
        if self.officer:
            raise Forbidden("an officer key reads its branch's figures only")

    def require_admin(self) -> None:
        if self.role != "admin":
            raise Forbidden("only an admin key may do this")

    def public(self) -> dict[str, str | None]:
        return {"role": self.role, "branch": self.branch}


def parse_keys(listed: str) -> dict[str, Principal]:
    """REPORTING_KEY_HASHES: comma-separated `digest:role[:branch]`. Raises ValueError naming
    the entry by its number (never echoing it: it may be a key pasted by mistake)."""
    keys: dict[str, Principal] = {}
    for number, entry in enumerate((e.strip() for e in listed.split(",")), start=1):
        if not entry:
            continue
        digest, _, rest = entry.partition(":")
        role, _, branch = rest.partition(":")
        digest = digest.strip().lower()
        where = f"entry {number}"
        if not DIGEST.fullmatch(digest):
            raise ValueError(
                f"{where} does not start with a SHA-256 hex digest (64 characters 0-9a-f): "
                "list digests of keys (printf %s KEY | sha256sum), never the keys"
            )
        if role not in ROLES:
            raise ValueError(f"{where}: the role must be one of {', '.join(ROLES)}")
        if role == "officer" and not re.fullmatch(BRANCH, branch):
            raise ValueError(
                f"{where}: an officer entry needs its branch code (digest:officer:CODE)"
            )
        if role != "officer" and branch:
            raise ValueError(f"{where}: only officer entries name a branch")
        if digest in keys:
            raise ValueError(f"{where}: this digest is listed twice")
        keys[digest] = Principal(digest, role, branch or None)
    return keys


def by_key(key: str, keys: Mapping[str, Principal]) -> Principal | None:
    digest = listed_digest(key, keys)
    return keys[digest] if digest is not None else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _mac(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode("ascii"), hashlib.sha256).hexdigest()


#: how long a peer's request for a partial stays valid (the workers' clocks may differ a little)
PEER_MAX_AGE_S = 60


def peer_token(secret: bytes, now: float) -> str:
    """What a worker shows a peer when it asks for its partial (`X-Bebas-Peer`): the time and
    a MAC of it with the workers' shared secret (REPORTING_SESSION_SECRET), so only workers
    read one another's counters, and a captured token stops working within a minute."""
    stamp = str(int(now))
    return f"{stamp}.{_mac(secret, 'peer:' + stamp)}"


def peer_token_ok(secret: bytes, token: str, now: float) -> bool:
    stamp, _, mac = token.partition(".")
    if not (stamp.isascii() and stamp.isdigit()):
        return False
    if not hmac.compare_digest(mac.encode("utf-8"), _mac(secret, "peer:" + stamp).encode()):
        return False
    return abs(now - int(stamp)) <= PEER_MAX_AGE_S


def session_token(secret: bytes, digest: str, expires: int) -> str:
    payload = _b64(json.dumps({"d": digest, "exp": expires}, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def session_principal(
    secret: bytes, token: str, keys: Mapping[str, Principal], now: float
) -> tuple[Principal | None, str | None]:
    """(whose session, None), else (None, why it is refused)."""
    payload, _, mac = token.partition(".")
    if not payload.isascii() or not hmac.compare_digest(
        mac.encode("utf-8"), _mac(secret, payload).encode("ascii")
    ):
        return None, "the session cookie is not signed by this service: sign in again"
    try:
        doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        digest, expires = str(doc["d"]), int(doc["exp"])
    except (ValueError, KeyError, TypeError):
        return None, "the session cookie is malformed: sign in again"
    if now >= expires:
        return None, "the session has expired: sign in again"
    principal = keys.get(digest)
    if principal is None:
        return None, "the key of this session is no longer accepted (REPORTING_KEY_HASHES)"
    return principal, None
