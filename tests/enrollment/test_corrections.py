"""PATCH /v1/participants/{id}: corrections validated like registrations, published, audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.enrollment.bootstrap import Container
from tests.enrollment.conftest import Keys
from tests.enrollment.factory import payable_period
from tests.enrollment.test_api import PROBLEM, outbox_events, register

Person = Callable[..., dict[str, Any]]


def patch(client: TestClient, key: str, pid: str, body: dict[str, Any]) -> Any:
    return client.patch(f"/v1/participants/{pid}", json=body, headers=Keys.auth(key))


def audit(client: TestClient, keys: Keys, pid: str) -> Any:
    return client.get(f"/v1/participants/{pid}/audit", headers=Keys.auth(keys.admin))


def updates(container: Container) -> list[Any]:
    return [e for _, _, e in outbox_events(container) if e.type == "participant.updated"]


def test_an_officer_corrects_phone_income_and_programmes(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    body = person(email="sri@example.id")
    created = register(client, keys, body).json()
    pid = created["id"]
    fix = {
        "phone": "0857-1234-5678",
        "declared_income": "Rp2.000.000",
        "programmes": ["JKK", "JKM", "JHT"],
    }
    response = patch(client, keys.officer_skt, pid, fix)
    assert response.status_code == 200, response.text
    got = response.json()
    assert (got["phone_e164"], got["declared_income"], got["programmes"]) == (
        "+6285712345678",
        2_000_000,
        ["JKK", "JKM", "JHT"],
    )
    assert got["monthly_contribution"] == 20_000 + 6_800 + 40_000
    assert client.get(f"/v1/participants/{pid}", headers=Keys.auth(keys.admin)).json() == got

    [event] = updates(container)
    assert (event.subject, event.dataschema.split(":")[-1]) == (pid, "v3")
    data = event.data.model_dump(mode="json", exclude_none=True)
    assert data == {
        "participant_id": pid,
        "participant_number": created["participant_number"],
        "branch_code": "SURAKARTA",
        "branch_timezone": "Asia/Jakarta",
        "phone_e164": "+6285712345678",
        "declared_income": 2_000_000,
        "programmes": ["JKK", "JKM", "JHT"],
        "monthly_contribution": 66_800,
        "updated_at": data["updated_at"],
    }

    trail = audit(client, keys, pid)
    assert trail.status_code == 200
    [entry] = trail.json()["items"]
    assert entry["action"] == "correction"
    assert entry["actor"]["role"] == "officer"
    assert entry["actor"]["key_id"].startswith("key_")
    assert entry["event_id"] == str(event.id)
    assert entry["changes"] == {
        "phone_e164": {"old": created["phone_e164"], "new": "+6285712345678"},
        "declared_income": {"old": 1_500_000, "new": 2_000_000},
        "programmes": {"old": ["JKK", "JKM"], "new": ["JKK", "JKM", "JHT"]},
        "monthly_contribution": {"old": 21_800, "new": 66_800},
    }
    assert body["nik"] not in trail.text

    paid = client.post(
        f"/v1/participants/{pid}/contributions",
        json={
            "period": payable_period(),
            "amount": 66_800,
            "paid_at": "2026-11-20T09:00:00+07:00",
        },
        headers=Keys.auth(keys.admin),
    )
    assert paid.json()["expected_amount"] == 66_800


def test_the_same_correction_twice_changes_nothing_the_second_time(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    pid = register(client, keys, person()).json()["id"]
    first = patch(client, keys.admin, pid, {"language": "en"})
    second = patch(client, keys.admin, pid, {"language": "en"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert len(updates(container)) == 1
    assert len(audit(client, keys, pid).json()["items"]) == 1


def test_removing_the_email_is_said_in_the_event_and_email_channel_needs_one(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    pid = register(client, keys, person(email="sri@example.id")).json()["id"]
    to_email = patch(client, keys.admin, pid, {"preferred_channel": "email"})
    assert to_email.json()["preferred_channel"] == "email"
    refused = patch(client, keys.admin, pid, {"email": None})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "email", "message": "is required when the preferred channel is email"}
    ]
    removed = patch(client, keys.admin, pid, {"email": None, "preferred_channel": "sms"})
    assert removed.status_code == 200, removed.text
    assert removed.json()["email"] is None
    event = updates(container)[-1]
    assert event.data.cleared == ["email"]
    assert event.data.preferred_channel == "sms"
    entry = audit(client, keys, pid).json()["items"][-1]
    assert entry["changes"]["email"] == {"old": "sri@example.id", "new": None}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"phone": "021-555-1234", "email": "sri.example.id"},
            {
                "phone": "'021-555-1234' is a landline; give a mobile number that can receive SMS",
                "email": "is not a valid e-mail address: An email address must have an @-sign.",
            },
        ),
        (
            {"declared_income": "1.500"},
            {
                "declared_income": "'1.500' is ambiguous: 1500 rupiah or 1,5 rupiah; "
                "write 1500 (or Rp1.500) if you mean Rp1.500",
            },
        ),
        (
            {"programmes": ["JKK", "JHT"], "branch_code": "ATLANTIS"},
            {
                "programmes": "JKM are mandatory for every participant",
                "branch_code": "unknown branch 'ATLANTIS'",
            },
        ),
        (
            {"declared_income": 2_000_000_000},
            {"declared_income": "must be between 0 and 1,000,000,000 rupiah"},
        ),
        ({"language": "jv"}, {"language": "must be 'id' or 'en'"}),
        ({"phone": None}, {"phone": "cannot be empty; leave it out to keep the current value"}),
        (
            {},
            {
                "body": "names nothing to change; give one or more of phone, email, "
                "declared_income, programmes, branch_code, preferred_channel, language, "
                "consent_reminders, consent_whatsapp"
            },
        ),
        ({"nik": "3372015508850001"}, {"nik": "Extra inputs are not permitted"}),
    ],
)
def test_field_errors_name_the_field_and_change_nothing(
    client: TestClient,
    keys: Keys,
    person: Person,
    container: Container,
    body: dict[str, Any],
    errors: dict[str, str],
) -> None:
    created = register(client, keys, person()).json()
    response = patch(client, keys.admin, created["id"], body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert {e["field"]: e["message"] for e in response.json()["errors"]} == errors
    assert (
        client.get(f"/v1/participants/{created['id']}", headers=Keys.auth(keys.admin)).json()
        == created
    )
    assert updates(container) == []


def test_who_may_correct_and_move(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    in_campaign = register(client, keys, person()).json()["id"]
    free = register(client, keys, person(campaign_code=None)).json()["id"]
    assert patch(client, keys.viewer, free, {"language": "en"}).status_code == 403
    assert patch(client, keys.officer_smg, free, {"language": "en"}).status_code == 403
    officer_move = patch(client, keys.officer_skt, free, {"branch_code": "MAKASSAR"})
    assert officer_move.status_code == 403
    assert officer_move.json()["detail"] == "your key is for branch SURAKARTA, not MAKASSAR"
    stuck = patch(client, keys.admin, in_campaign, {"branch_code": "MAKASSAR"})
    assert stuck.json()["errors"] == [
        {
            "field": "branch_code",
            "message": "campaign KKBC-PASAR-KLEWER does not run in branch MAKASSAR",
        }
    ]
    moved = patch(client, keys.admin, free, {"branch_code": "MAKASSAR"})
    assert moved.status_code == 200
    assert moved.json()["branch_code"] == "MAKASSAR"
    event = updates(container)[-1]
    assert (event.data.branch_code, event.data.branch_timezone) == ("MAKASSAR", "Asia/Makassar")
    assert patch(client, keys.officer_skt, free, {"language": "en"}).status_code == 403
    assert patch(client, keys.admin, "nope", {"language": "en"}).status_code == 404


def test_the_audit_trail_is_for_admins_and_keeps_opt_outs_too(
    client: TestClient, keys: Keys, person: Person
) -> None:
    pid = register(client, keys, person()).json()["id"]
    assert audit(client, keys, pid).json() == {"participant_id": pid, "items": []}
    client.post(
        f"/v1/participants/{pid}/opt-out", json={"channels": ["sms"]}, headers=Keys.auth(keys.admin)
    )
    [entry] = audit(client, keys, pid).json()["items"]
    assert (entry["action"], entry["actor"]["role"]) == ("opt_out", "admin")
    assert entry["changes"] == {"opted_out_channels": {"old": [], "new": ["sms"]}}
    for key in (keys.officer_skt, keys.viewer):
        denied = client.get(f"/v1/participants/{pid}/audit", headers=Keys.auth(key))
        assert denied.status_code == 403
    assert audit(client, keys, "nope").status_code == 404
