"""What every use-case handler shares: the adapters, the clock, and the steps they all take
(commit and wake the relay, remember an answer, lock a participant, write an audit entry)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.common.clock import Clock
from services.enrollment.adapters.repository import Row
from services.enrollment.adapters.unit_of_work import UnitOfWork
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import FieldProblem, NotFound
from services.enrollment.domain.model import ContactRules
from services.enrollment.domain.reference import ReferenceData
from services.enrollment.handlers.idempotency import Idempotency, Replay, idempotency_row, replay_of
from services.enrollment.outbox import OutboxWriter


class CampaignBranches:
    """The branches each campaign runs in, read once: campaigns are never edited or deleted,
    so a code once seen can be trusted."""

    def __init__(self) -> None:
        self._known: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def cached(self, code: str) -> frozenset[str] | None:
        return self._known.get(code)

    def of(self, uow: UnitOfWork, code: str) -> frozenset[str] | None:
        """The campaign's branches (empty: every branch); None for an unknown campaign."""
        cached = self._known.get(code)
        if cached is not None:
            return cached
        row = uow.campaigns.get(code)
        if row is None:
            return None
        branches = frozenset(b for b in row["branch_codes"].split(",") if b)
        with self._lock:
            self._known[code] = branches
        return branches


def campaign_mismatch(
    code: str, branches: frozenset[str], branch_code: str, field_name: str
) -> FieldProblem | None:
    """A campaign limited to some branches (empty: every branch) does not run in this one."""
    if branches and branch_code not in branches:
        return FieldProblem(field_name, f"campaign {code} does not run in branch {branch_code}")
    return None


@dataclass
class Context:
    uow: Callable[[], UnitOfWork]
    reference: ReferenceData
    contacts: ContactRules
    clock: Clock
    outbox: OutboxWriter
    nik_secret: bytes
    on_commit: Callable[[], None] = lambda: None
    campaigns: CampaignBranches = field(default_factory=CampaignBranches)

    def commit(self, uow: UnitOfWork) -> None:
        uow.commit()
        self.on_commit()

    def replay(self, actor: Principal, idem: Idempotency) -> Replay | None:
        with self.uow() as uow:
            stored = uow.idempotency.get(actor.key_id, idem.key)
        return replay_of(stored, idem)

    def remember(
        self, uow: UnitOfWork, actor: Principal, idem: Idempotency | None, body: Any
    ) -> None:
        if idem is not None:
            row = idempotency_row(actor, idem, body, self.clock.now())
            uow.idempotency.add_many([row])

    @staticmethod
    def participant_for_write(uow: UnitOfWork, pid: str, actor: Principal) -> Row:
        row = uow.participants.get(pid, for_update=True)
        if row is None:
            raise NotFound("participant", pid)
        actor.require_write(row["branch_code"])
        return row

    @staticmethod
    def audit(
        uow: UnitOfWork,
        participant_id: str,
        action: str,
        changes: dict[str, tuple[Any, Any]],
        actor: Principal,
        event: Row,
        now: datetime,
    ) -> None:
        uow.audit.add(
            {
                "participant_id": participant_id,
                "action": action,
                "changes": json.dumps(
                    {name: {"old": old, "new": new} for name, (old, new) in changes.items()}
                ),
                "actor_key_id": actor.key_id,
                "actor_role": actor.role,
                "event_id": event["event_id"],
                "changed_at": now,
            }
        )
