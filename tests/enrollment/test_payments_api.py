"""Payments that add up, through the API on both databases, with the enrollment clock set.

The participant registers on 10 November 2026 (WIB) at Rp21.800 a month (income 1.500.000,
JKK and JKM); the tests move the clock to pay, correct and pay again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import column, insert, select, table

from services.common.clock import FrozenClock
from services.common.kafka_settings import KafkaSettings
from services.enrollment.adapters import tables as t
from services.enrollment.adapters.db import alembic_config, make_engine, migrate
from services.enrollment.bootstrap import Container, bootstrap
from services.enrollment.seed import seed_demo
from tests.enrollment.conftest import Keys, make_settings
from tests.enrollment.factory import WIB
from tests.enrollment.test_api import Person, outbox_events, register
from tests.enrollment.test_participant_number import _old_row

REGISTERED = datetime(2026, 11, 10, 10, 0, tzinfo=WIB)
PAID_AT = "2026-11-10T10:00:00+07:00"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(REGISTERED)


@pytest.fixture
def container(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Container]:
    built = bootstrap(
        make_settings(database_url, tmp_path / "data"),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        relay=False,
        clock=clock,
    )
    seed_demo(built)
    yield built
    built.engine.dispose()


@pytest.fixture
def pid(client: TestClient, keys: Keys, person: Person) -> str:
    created = register(client, keys, person())
    assert created.json()["monthly_contribution"] == 21_800
    return str(created.json()["id"])


def pay(client: TestClient, keys: Keys, pid: str, **body: Any) -> Any:
    return client.post(
        f"/v1/participants/{pid}/contributions",
        json={"paid_at": PAID_AT, **body},
        headers=Keys.auth(keys.admin),
    )


def payment_events(container: Container) -> list[tuple[str, str, int, dict[str, Any]]]:
    """(type, period, amount, other fields) of every payment event written, in order."""
    return [
        (e.type, e.data.period, e.data.amount, e.data.model_dump(exclude={"period", "amount"}))
        for _, _, e in outbox_events(container)
        if e.type.startswith("contribution.")
    ]


def test_one_payment_of_several_periods_pays_each(
    client: TestClient, keys: Keys, pid: str, container: Container
) -> None:
    paid = pay(client, keys, pid, periods=["2026-12", "2026-11"], amount="Rp43.600")
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (body["status"], body["amount"], body["expected_amount"], body["owed"]) == (
        "paid",
        43_600,
        43_600,
        0,
    )
    assert [(p["period"], p["amount"], p["paid"]) for p in body["periods"]] == [
        ("2026-11", 21_800, True),
        ("2026-12", 21_800, True),
    ]
    events = payment_events(container)
    assert [(kind, period, amount) for kind, period, amount, _ in events] == [
        ("contribution.paid", "2026-11", 21_800),
        ("contribution.paid", "2026-12", 21_800),
    ]
    for _, _, _, rest in events:
        assert rest["payment_id"] == body["payment_id"]
        assert (rest["cost"], rest["payment_amount"]) == (21_800, 43_600)
        assert rest["payment_periods"] == ["2026-11", "2026-12"]


def test_two_partial_payments_that_reach_the_cost_pay_the_period(
    client: TestClient, keys: Keys, pid: str, container: Container
) -> None:
    first = pay(client, keys, pid, periods=["2026-11"], amount=10_000)
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["owed"]) == ("partial", 11_800)
    kind, period, amount, rest = payment_events(container)[-1]
    assert (kind, period, amount) == ("contribution.partially_paid", "2026-11", 10_000)
    assert (rest["paid_total"], rest["cost"], rest["owed"]) == (10_000, 21_800, 11_800)

    too_much = pay(client, keys, pid, periods=["2026-11"], amount=21_800)
    assert too_much.status_code == 422
    assert too_much.json()["errors"] == [
        {
            "field": "amount",
            "message": "Rp21.800 is more than the Rp11.800 still owed for 2026-11 Rp11.800; "
            "pay exactly that, or name more periods",
        }
    ]
    rest_of_it = pay(client, keys, pid, period="2026-11", amount="Rp11.800")
    assert rest_of_it.status_code == 201, rest_of_it.text
    assert rest_of_it.json()["status"] == "paid"
    assert rest_of_it.json()["periods"][0]["paid_before"] == 10_000
    kind, period, amount, rest = payment_events(container)[-1]
    assert (kind, period, amount, rest["cost"]) == ("contribution.paid", "2026-11", 11_800, 21_800)

    again = pay(client, keys, pid, periods=["2026-11"], amount=1)
    assert again.status_code == 409
    assert again.json()["errors"] == [{"field": "periods", "message": "2026-11 is already paid"}]


def test_a_short_payment_of_several_periods_fills_the_oldest_first(
    client: TestClient, keys: Keys, pid: str, container: Container
) -> None:
    paid = pay(client, keys, pid, periods=["2026-11", "2026-12", "2027-01"], amount=30_000)
    assert paid.status_code == 201, paid.text
    assert [(p["period"], p["amount"], p["owed"], p["paid"]) for p in paid.json()["periods"]] == [
        ("2026-11", 21_800, 0, True),
        ("2026-12", 8_200, 13_600, False),
        ("2027-01", 0, 21_800, False),
    ]
    assert (paid.json()["status"], paid.json()["owed"]) == ("partial", 35_400)
    # January got nothing: no event for it
    assert [(kind, period, amount) for kind, period, amount, _ in payment_events(container)] == [
        ("contribution.paid", "2026-11", 21_800),
        ("contribution.partially_paid", "2026-12", 8_200),
    ]


def test_a_period_costs_what_the_record_said_on_its_due_day(
    client: TestClient, keys: Keys, pid: str, clock: FrozenClock
) -> None:
    # JHT added on 20 December: December fell due on the 15th at 21.800, January costs 66.800
    clock.set(datetime(2026, 12, 20, 9, 0, tzinfo=WIB))
    fix = {"programmes": ["JKK", "JKM", "JHT"], "declared_income": 2_000_000}
    corrected = client.patch(f"/v1/participants/{pid}", json=fix, headers=Keys.auth(keys.admin))
    assert corrected.json()["monthly_contribution"] == 66_800
    paid = pay(client, keys, pid, periods=["2026-12", "2027-01"], amount=88_600)
    assert paid.status_code == 201, paid.text
    assert [(p["period"], p["cost"]) for p in paid.json()["periods"]] == [
        ("2026-12", 21_800),
        ("2027-01", 66_800),
    ]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"periods": ["2026-10", "2026-11"], "amount": 43_600},
            "periods",
            "2026-10 is before the participant registered; the first period to pay is 2026-11",
        ),
        (
            {"periods": ["2026-11", "2026-11"], "amount": 43_600},
            "periods",
            "names 2026-11 more than once",
        ),
        (
            {"periods": ["2026-11"], "period": "2026-11", "amount": 21_800},
            "periods",
            "give `periods` (one or more YYYY-MM), or the older `period`, not both",
        ),
        (
            {"amount": 21_800},
            "periods",
            "give `periods` (one or more YYYY-MM), or the older `period`, not both",
        ),
        ({"periods": ["2026-11"], "amount": "1.500"}, "amount", None),
    ],
)
def test_payments_that_cannot_be_taken_name_the_field(
    client: TestClient, keys: Keys, pid: str, body: dict[str, Any], field: str, message: str | None
) -> None:
    refused = pay(client, keys, pid, **body)
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    if message is not None:
        assert errors[0]["message"] == message


def test_an_empty_list_of_periods_is_refused(client: TestClient, keys: Keys, pid: str) -> None:
    refused = pay(client, keys, pid, periods=[], amount=21_800)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["periods"]


def test_payments_recorded_before_partial_payments_existed_still_pay_their_period(
    database_url: str,
) -> None:
    """Before migration 0004 any amount paid a period: such rows keep paying it."""
    engine = make_engine(database_url)
    config = alembic_config()
    participant = {**_old_row(1), "participant_number": "10000000016"}
    row = {
        "id": str(uuid.uuid4()),
        "participant_id": participant["id"],
        "period": "2024-01",
        "amount": 5_000,
        "paid_at": datetime(2024, 1, 5, tzinfo=UTC),
        "recorded_at": datetime(2024, 1, 5, tzinfo=UTC),
        "recorded_by": "k-1",
    }
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0003")
        with engine.begin() as conn:
            participants = table("participants", *(column(name) for name in participant))
            conn.execute(insert(participants), [participant])
            conn.execute(insert(table("contributions", *(column(n) for n in row))), [row])
        migrate(engine)
        with engine.begin() as conn:
            c = t.contributions.c
            stored = conn.execute(select(c.payment_id, c.settles, c.cost)).one()
    finally:
        engine.dispose()
    assert tuple(stored) == (row["id"], True, None)
