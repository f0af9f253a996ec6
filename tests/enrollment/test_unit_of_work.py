"""The unit of work speaks the domain's language: a unique constraint refusing a write leaves
as DuplicateWrite (SQLite and PostgreSQL), whether it fires on insert or at commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from services.enrollment.adapters.unit_of_work import SqlUnitOfWork, UnitOfWork
from services.enrollment.bootstrap import Container
from services.enrollment.domain.errors import DuplicateWrite

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def campaign(code: str) -> dict[str, object]:
    return {
        "code": code,
        "name": "Uji",
        "branch_codes": "",
        "starts_on": date(2026, 3, 1),
        "ends_on": None,
        "created_at": NOW,
        "created_by": "key_test",
    }


def idempotency(key: str) -> dict[str, object]:
    row = {"principal": "key_test", "key": key, "fingerprint": "f", "status_code": 201}
    return {**row, "body": "{}", "created_at": NOW}


def write(container: Container, step: Callable[[UnitOfWork], None]) -> None:
    """One transaction: the step, then commit."""
    with SqlUnitOfWork(container.engine) as uow:
        step(uow)
        uow.commit()


def test_a_second_campaign_with_the_same_code_is_a_duplicate_write(container: Container) -> None:
    write(container, lambda uow: uow.campaigns.add(campaign("UJI-UOW")))
    with pytest.raises(DuplicateWrite):
        write(container, lambda uow: uow.campaigns.add(campaign("UJI-UOW")))


def test_a_bulk_insert_repeating_a_key_is_a_duplicate_write_and_writes_nothing(
    container: Container,
) -> None:
    twice = [idempotency("k-1"), idempotency("k-1")]
    with pytest.raises(DuplicateWrite):
        write(container, lambda uow: uow.idempotency.add_many(twice))
    with SqlUnitOfWork(container.engine) as uow:
        assert uow.idempotency.get("key_test", "k-1") is None
