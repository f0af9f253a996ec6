"""Participant numbers: check digit, issue at registration and import, lookup, backfill."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import column, insert, select, table

from services.enrollment.adapters import tables as t
from services.enrollment.adapters.db import alembic_config, make_engine, migrate
from services.enrollment.bootstrap import Container
from services.enrollment.domain.participant_number import (
    damm_digit,
    damm_valid,
    parse_participant_number,
    participant_number,
)
from tests.enrollment.conftest import Keys
from tests.enrollment.factory import nik_for, payable_period, phone_for
from tests.enrollment.test_api import outbox_events, register
from tests.enrollment.test_imports import upload

Person = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    ("serial", "number"),
    [(1, "10000000016"), (2, "10000000027"), (123_456, "10001234560")],
)
def test_numbers_are_eleven_digits_ending_in_a_damm_check_digit(serial: int, number: str) -> None:
    assert participant_number(serial) == number
    assert damm_valid(number)


def test_damm_known_answer() -> None:
    # The worked example of Damm's algorithm: 572 gets the check digit 4.
    assert damm_digit("572") == 4
    assert damm_valid("5724")


@pytest.mark.parametrize("serial", [1, 9, 10, 4711, 987_654_321])
def test_every_single_typo_and_every_neighbour_swap_is_caught(serial: int) -> None:
    number = participant_number(serial)
    for i, digit in enumerate(number):
        for other in "0123456789".replace(digit, ""):
            typo = number[:i] + other + number[i + 1 :]
            assert not damm_valid(typo), typo
    for i in range(len(number) - 1):
        if number[i] != number[i + 1]:
            swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
            assert not damm_valid(swapped), swapped


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("10000000016", "10000000016"),
        (" 10000 00001 6 ", "10000000016"),
        ("1000-0000-016", "10000000016"),
        ("1000.0000.016", "10000000016"),
    ],
)
def test_typed_numbers_may_be_grouped(typed: str, expected: str) -> None:
    assert parse_participant_number(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("10000000017", "10000000017 fails its check digit: a digit is mistyped or two digits"),
        ("01000000016", "01000000016 fails its check digit"),
        ("1000000001", "has 10 digits; a participant number has 11"),
        ("KPJ-123", "'KPJ-123' is not a participant number: use its 11 digits"),
        ("", "'' is not a participant number"),
    ],
)
def test_wrong_numbers_say_why(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        parse_participant_number(typed)


def test_registration_issues_a_number_shown_everywhere_and_found_by_it(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    created = [register(client, keys, person()).json() for _ in range(3)]
    numbers = [p["participant_number"] for p in created]
    assert numbers == [participant_number(n) for n in (1, 2, 3)]
    registered = [e for _, _, e in outbox_events(container) if e.type == "participant.registered"]
    assert [e.data.participant_number for e in registered] == numbers
    assert registered[0].dataschema.endswith(":v4")

    first = created[0]
    auth = Keys.auth(keys.officer_skt)
    spaced = f"{numbers[0][:5]} {numbers[0][5:10]} {numbers[0][10]}"
    found = client.get(f"/v1/participants/by-number/{spaced}", headers=auth)
    assert found.status_code == 200, found.text
    assert found.json() == client.get(f"/v1/participants/{first['id']}", headers=auth).json()
    assert found.json()["participant_number"] == numbers[0]

    typo = numbers[0][:-1] + str((int(numbers[0][-1]) + 1) % 10)
    wrong = client.get(f"/v1/participants/by-number/{typo}", headers=auth)
    assert wrong.status_code == 422
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["errors"] == [
        {
            "field": "number",
            "message": f"{typo} fails its check digit: a digit is mistyped or two digits are "
            "swapped",
        }
    ]
    unknown = client.get(f"/v1/participants/by-number/{participant_number(99)}", headers=auth)
    assert unknown.status_code == 404
    elsewhere = client.get(
        f"/v1/participants/by-number/{numbers[0]}", headers=Keys.auth(keys.officer_smg)
    )
    assert elsewhere.status_code == 403

    paid = client.post(
        f"/v1/participants/{first['id']}/contributions",
        json={
            "period": payable_period(),
            "amount": 21_800,
            "paid_at": "2026-11-20T09:00:00+07:00",
        },
        headers=Keys.auth(keys.admin),
    )
    assert paid.json()["participant_number"] == numbers[0]
    _, _, event = outbox_events(container)[-1]
    assert (event.type, event.data.participant_number) == ("contribution.paid", numbers[0])
    assert event.dataschema.endswith(":v3")


def test_duplicates_and_replays_never_take_a_number_from_a_registered_person(
    client: TestClient, keys: Keys, person: Person
) -> None:
    body = person()
    first = register(client, keys, body, **{"Idempotency-Key": "k1"}).json()
    replay = register(client, keys, body, **{"Idempotency-Key": "k1"}).json()
    assert register(client, keys, body).status_code == 409
    after = register(client, keys, person()).json()
    assert replay["participant_number"] == first["participant_number"]
    assert after["participant_number"] != first["participant_number"]


def test_imported_participants_get_numbers_after_the_registered_ones(
    client: TestClient, keys: Keys, person: Person
) -> None:
    register(client, keys, person())
    lines = ["full_name;nik;phone;segment;branch_code;declared_income"]
    lines += [f"P {n};{nik_for(500 + n)};{phone_for(n)};ojek;SURAKARTA;1500000" for n in (1, 2)]
    assert upload(client, keys.admin, "\n".join(lines).encode()).json()["registered"] == 2
    listed = client.get("/v1/participants", headers=Keys.auth(keys.admin)).json()["items"]
    assert [p["participant_number"] for p in listed] == [participant_number(n) for n in (1, 2, 3)]


def _old_row(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "nik_hash": f"{n:064x}",
        "nik_masked": "3372**********01",
        "full_name": f"Peserta Lama {n}",
        "birth_date": date(1980, 1, 1),
        "sex": "M",
        "province_code": "33",
        "phone_e164": f"+62812{n:08d}",
        "segment": "trader",
        "branch_code": "SURAKARTA",
        "programmes": "JKK,JKM",
        "declared_income": 1_000_000,
        "monthly_contribution": 16_800,
        "preferred_channel": "sms",
        "language": "id",
        "consent_reminders": True,
        "source": "field",
        "opted_out_channels": "",
        "registered_at": datetime(2023, 12, 16, 2, n, tzinfo=UTC),
    }


def _payment(participant_id: str) -> dict[str, Any]:
    paid = datetime(2024, 1, 5, 2, 15, tzinfo=UTC)
    return {
        "id": str(uuid.uuid4()),
        "participant_id": participant_id,
        "period": "2024-01",
        "amount": 16_800,
        "paid_at": paid,
        "recorded_at": paid,
        "recorded_by": "k-1",
    }


def test_migration_backfills_existing_participants_in_registration_order(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    config = alembic_config()
    rows = [_old_row(n) for n in (1, 2, 3)]
    # The table as revision 0001 has it: the current model already has participant_number.
    before = table("participants", *(column(name) for name in rows[0]))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
        with engine.begin() as conn:
            conn.execute(insert(before), rows)
            # A payment references a participant: the migration must not rebuild their table
            # (on SQLite the rebuild's DROP TABLE fails this foreign key).
            payment = _payment(rows[0]["id"])
            paid_0001 = table("contributions", *(column(name) for name in payment))
            conn.execute(insert(paid_0001), [payment])
        migrate(engine)
        with engine.begin() as conn:
            numbers = conn.execute(
                select(t.participants.c.full_name, t.participants.c.participant_number).order_by(
                    t.participants.c.seq
                )
            ).all()
            last = conn.execute(select(t.participant_serials.c.last_serial)).scalar_one()
            paid = conn.execute(select(t.contributions.c.participant_id)).scalar_one()
    finally:
        engine.dispose()
    assert numbers == [(f"Peserta Lama {n}", participant_number(n)) for n in (1, 2, 3)]
    assert last == 3
    assert paid == rows[0]["id"]
