"""API keys: random secrets shown once, stored only as SHA-256, each with a role (and branch)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.common.apikeys import key_digest
from services.common.clock import Clock
from services.enrollment.adapters.unit_of_work import UnitOfWork
from services.enrollment.domain.access import ROLES, Principal
from services.enrollment.domain.reference import ReferenceData

KEY_PREFIX = "bck_"


def hash_key(plaintext: str) -> str:
    # A 256-bit random key needs no slow KDF: SHA-256 cannot be brute-forced back to it. The
    # notifier and reporting check keys against the same digest.
    return key_digest(plaintext)


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    plaintext: str
    role: str
    branch_code: str | None


class ApiKeys:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        reference: ReferenceData,
        clock: Clock,
        cache_seconds: float = 30.0,
    ) -> None:
        self.uow = uow_factory
        self.reference = reference
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(
        self,
        role: str,
        branch_code: str | None = None,
        label: str | None = None,
        plaintext: str | None = None,
    ) -> IssuedKey:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if role == "officer":
            if not branch_code:
                raise ValueError("an officer key needs --branch CODE")
            if branch_code not in self.reference.branches:
                raise ValueError(f"unknown branch {branch_code!r}")
        elif branch_code:
            raise ValueError("only officer keys are bound to a branch")
        key = plaintext or KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = "key_" + secrets.token_hex(6)
        with self.uow() as uow:
            uow.api_keys.add(
                {
                    "id": key_id,
                    "key_hash": hash_key(key),
                    "role": role,
                    "branch_code": branch_code,
                    "label": label,
                    "created_at": self.clock.now(),
                }
            )
            uow.commit()
        return IssuedKey(key_id, key, role, branch_code)

    def ensure_admin(self, plaintext: str) -> str:
        """Make sure an admin key with this value exists (bootstrap); returns its id."""
        if len(plaintext) < 16:
            raise ValueError("ENROLLMENT_BOOTSTRAP_ADMIN_KEY must be at least 16 characters")
        with self.uow() as uow:
            existing = uow.api_keys.by_hash(hash_key(plaintext))
        if existing is not None:
            return str(existing["id"])
        return self.create("admin", label="bootstrap admin", plaintext=plaintext).key_id

    def authenticate(self, plaintext: str) -> Principal | None:
        digest = hash_key(plaintext)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.uow() as uow:
            row = uow.api_keys.by_hash(digest)
        principal = Principal(row["id"], row["role"], row["branch_code"]) if row else None
        if principal is not None:  # unknown keys are not cached: no memory for attackers
            with self._lock:
                self._cache[digest] = (now + self.cache_seconds, principal)
        return principal
