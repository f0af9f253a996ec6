"""Who may do what: officers act in their own branch, admins everywhere, viewers only read."""

from __future__ import annotations

from dataclasses import dataclass

from services.enrollment.domain.errors import Forbidden

ROLES = ("officer", "admin", "viewer")


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    branch_code: str | None = None

    def can_read(self, branch_code: str) -> bool:
        return self.role in ("admin", "viewer") or self.branch_code == branch_code

    def can_write(self, branch_code: str) -> bool:
        return self.role == "admin" or (self.role == "officer" and self.branch_code == branch_code)

    def require_read(self, branch_code: str) -> None:
        if not self.can_read(branch_code):
            raise Forbidden(f"your key is for branch {self.branch_code}, not {branch_code}")

    def require_write(self, branch_code: str) -> None:
        if self.can_write(branch_code):
            return
        if self.role == "viewer":
            raise Forbidden("your key is read-only (viewer)")
        raise Forbidden(f"your key is for branch {self.branch_code}, not {branch_code}")

    def require_admin(self) -> None:
        if self.role != "admin":
            raise Forbidden("only an admin key may do this")
