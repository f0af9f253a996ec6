"""The WhatsApp opt-in (`consent_whatsapp`): given at registration, by correction or in a
sign-up sheet, stored, shown, and carried by participant.registered v4 / participant.updated
v3; on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from services.enrollment.bootstrap import Container
from tests.enrollment.conftest import Keys
from tests.enrollment.factory import nik_for, phone_for
from tests.enrollment.test_api import outbox_events, register
from tests.enrollment.test_corrections import patch, updates
from tests.enrollment.test_imports import upload

Person = Callable[..., dict[str, Any]]


def _registered(container: Container, pid: str) -> Any:
    (event,) = [
        e
        for _, _, e in outbox_events(container)
        if e.type == "participant.registered" and e.subject == pid
    ]
    return event


def test_the_opt_in_is_stored_shown_and_published(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    given = register(client, keys, person(preferred_channel="whatsapp", consent_whatsapp=True))
    assert given.status_code == 201, given.text
    pid = given.json()["id"]
    shown = client.get(f"/v1/participants/{pid}", headers=Keys.auth(keys.admin)).json()
    assert shown["consent_whatsapp"] is True
    event = _registered(container, pid)
    assert event.dataschema.endswith(":v4")
    assert event.data.consent_whatsapp is True

    silent = register(client, keys, person(nik=nik_for(77), phone=phone_for(77))).json()
    assert silent["consent_whatsapp"] is False  # never assumed
    assert _registered(container, silent["id"]).data.consent_whatsapp is False


def test_a_correction_gives_or_takes_the_opt_in_and_says_so(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    pid = register(client, keys, person()).json()["id"]
    response = patch(client, keys.admin, pid, {"consent_whatsapp": True})
    assert response.status_code == 200, response.text
    assert response.json()["consent_whatsapp"] is True
    (update,) = updates(container)
    assert update.dataschema.endswith(":v3")
    assert update.data.consent_whatsapp is True
    assert patch(client, keys.admin, pid, {"consent_whatsapp": True}).status_code == 200
    assert len(updates(container)) == 1  # the same again changes nothing


def test_a_wrong_opt_in_names_the_field(client: TestClient, keys: Keys, person: Person) -> None:
    response = register(client, keys, person(consent_whatsapp="maybe"))
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert "consent_whatsapp" in errors
    pid = register(client, keys, person(nik=nik_for(78), phone=phone_for(78))).json()["id"]
    refused = patch(client, keys.admin, pid, {"consent_whatsapp": None})
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert fields == {"consent_whatsapp"}


def test_a_sign_up_sheet_may_carry_the_opt_in(
    client: TestClient, keys: Keys, container: Container
) -> None:
    sheet = (
        "nik;full_name;phone;segment;branch_code;declared_income;consent_whatsapp\n"
        f"{nik_for(81)};Budi;{phone_for(81)};ojek;SURAKARTA;2000000;ya\n"
        f"{nik_for(82)};Sri;{phone_for(82)};trader;SURAKARTA;1000000;\n"
    )
    report = upload(client, keys.admin, sheet.encode()).json()
    assert report["registered"] == 2, report
    listed = client.get("/v1/participants", headers=Keys.auth(keys.admin)).json()["items"]
    assert sorted((p["full_name"], p["consent_whatsapp"]) for p in listed) == [
        ("Budi", True),
        ("Sri", False),
    ]
