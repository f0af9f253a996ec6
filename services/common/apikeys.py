"""Enrollment's API keys checked by services that cannot read enrollment's database.

Enrollment stores only the SHA-256 hex digest of each key (`api_keys.key_hash`). The notifier
and reporting are configured with those digests, so an operator copies a digest from
enrollment (or computes `printf %s KEY | sha256sum`), never the key. Pure functions (standard
library only); every comparison of a key-derived value is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

DIGEST = re.compile(r"[0-9a-f]{64}")


def key_digest(key: str) -> str:
    """SHA-256 hex of an API key: the form enrollment stores (`api_keys.key_hash`)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_digests(listed: str) -> list[str]:
    """Comma-separated digests, blanks skipped, lower-cased (sha256sum prints lower case)."""
    return [d.strip().lower() for d in listed.split(",") if d.strip()]


def bearer_key(
    authorization: str | None, wanted: str = "an API key"
) -> tuple[str | None, str | None]:
    """(the key, None) from `Authorization: Bearer <key>`, else (None, what is wrong)."""
    if not authorization:
        return None, f"send {wanted} as 'Authorization: Bearer <key>'"
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None, "the Authorization header must be 'Bearer <key>'"
    return key.strip(), None


def listed_digest(key: str, digests: Iterable[str]) -> str | None:
    """The listed digest of `key`, or None. Compared with every listed digest, so the time
    taken does not tell which one was close."""
    digest = key_digest(key).encode("ascii")
    found = None
    for listed in digests:
        if hmac.compare_digest(digest, listed.encode("utf-8")):
            found = listed
    return found
