"""Every endpoint and its error paths, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from schemas.envelope import decode_event
from services.enrollment.adapters import tables
from services.enrollment.bootstrap import Container
from tests.enrollment.conftest import Keys
from tests.enrollment.factory import payable_period

Person = Callable[..., dict[str, Any]]
PROBLEM = "application/problem+json"


def outbox_events(container: Container) -> list[Any]:
    with container.engine.connect() as conn:
        rows = conn.execute(select(tables.outbox).order_by(tables.outbox.c.id)).mappings().all()
    return [(row["topic"], row["key"], decode_event(row["payload"])) for row in rows]


def register(client: TestClient, keys: Keys, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/v1/participants", json=body, headers={**Keys.auth(keys.admin), **headers})


def test_register_answers_the_participant_with_its_contribution_and_writes_its_event(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    body = person(programmes=["JKK", "JKM", "JHT"], email="Sri@Example.com")
    response = register(client, keys, body)
    assert response.status_code == 201, response.text
    got = response.json()
    assert response.headers["location"] == f"/v1/participants/{got['id']}"
    assert got["monthly_contribution"] == 51_800
    assert got["nik_masked"] == body["nik"][:4] + "*" * 10 + body["nik"][-2:]
    assert body["nik"] not in response.text
    assert got["phone_e164"].startswith("+62812")
    assert got["email"] == "Sri@example.com"
    topic, key, event = outbox_events(container)[-1]
    assert (topic, key, event.type, event.subject) == (
        "bebas.participants",
        got["id"],
        "participant.registered",
        got["id"],
    )
    assert event.data.nik_masked == got["nik_masked"]
    assert body["nik"] not in event.model_dump_json()
    assert event.data.branch_timezone == "Asia/Jakarta"


def test_get_and_list_never_show_the_raw_nik(
    client: TestClient, keys: Keys, person: Person
) -> None:
    body = person()
    created = register(client, keys, body).json()
    got = client.get(f"/v1/participants/{created['id']}", headers=Keys.auth(keys.viewer))
    assert got.status_code == 200
    assert got.json() == created
    listed = client.get("/v1/participants", headers=Keys.auth(keys.viewer))
    assert body["nik"] not in got.text + listed.text
    assert "nik_hash" not in got.text


def test_field_errors_name_each_field_in_problem_json(
    client: TestClient, keys: Keys, person: Person
) -> None:
    body = person(
        nik="9972015508850001",
        phone="021-555-1234",
        segment="pilot",
        branch_code="ATLANTIS",
        campaign_code=None,
        email="not-an-address",
    )
    response = register(client, keys, body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["instance"] == "/v1/participants"
    assert {e["field"]: e["message"] for e in problem["errors"]} == {
        "nik": "starts with 99, which is not an Indonesian province code",
        "phone": "'021-555-1234' is a landline; give a mobile number that can receive SMS",
        "email": "is not a valid e-mail address: An email address must have an @-sign.",
        "segment": "unknown segment 'pilot'; use one of trader, ojek, farmer, fisher, "
        "labourer, other",
        "branch_code": "unknown branch 'ATLANTIS'",
    }


def test_missing_and_mistyped_fields_are_named(client: TestClient, keys: Keys) -> None:
    response = register(
        client,
        keys,
        {"full_name": "Budi", "declared_income": "lots", "preferred_channel": "fax", "x": 1},
    )
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors["nik"] == "is required"
    assert errors["consent_reminders"] == "is required"
    assert errors["declared_income"] == (
        "'lots' is not an amount in rupiah (write e.g. 1500000, 1.500.000 or Rp1.500.000)"
    )
    assert errors["preferred_channel"] == "must be 'sms', 'email' or 'whatsapp'"
    assert errors["x"] == "Extra inputs are not permitted"


def test_not_json_is_a_problem_too(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/participants",
        content=b"{nope",
        headers={**Keys.auth(keys.admin), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_unknown_campaign_and_campaign_of_another_branch_are_rejected(
    client: TestClient, keys: Keys, person: Person
) -> None:
    unknown = register(client, keys, person(campaign_code="NOPE"))
    assert unknown.json()["errors"] == [
        {"field": "campaign_code", "message": "unknown campaign 'NOPE'"}
    ]
    elsewhere = register(client, keys, person(branch_code="SEMARANG"))
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["message"] == (
        "campaign KKBC-PASAR-KLEWER does not run in branch SEMARANG"
    )


def test_second_registration_of_a_nik_is_409_with_the_existing_id(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    body = person()
    first = register(client, keys, body).json()
    again = register(client, keys, dict(body, full_name="Someone Else", phone="081399998888"))
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["participant_id"] == first["id"]
    assert len(outbox_events(container)) == 2  # campaign.created + one registration


def test_idempotent_retry_returns_the_first_response_and_registers_once(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    body = person()
    first = register(client, keys, body, **{"Idempotency-Key": "visit-42"})
    retry = register(client, keys, body, **{"Idempotency-Key": "visit-42"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["location"] == first.headers["location"]
    registered = [e for _, _, e in outbox_events(container) if e.type == "participant.registered"]
    assert len(registered) == 1
    other = register(client, keys, person(), **{"Idempotency-Key": "visit-42"})
    assert other.status_code == 409
    assert "different request" in other.json()["detail"]


def test_an_overlong_idempotency_key_is_a_named_field_error_and_registers_nobody(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    response = register(client, keys, person(), **{"Idempotency-Key": "k" * 201})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"] == [
        {"field": "Idempotency-Key", "message": "must have at most 200 characters"}
    ]
    assert not [e for _, _, e in outbox_events(container) if e.type == "participant.registered"]
    accepted = register(client, keys, person(), **{"Idempotency-Key": "k" * 200})
    assert accepted.status_code == 201


def test_list_filters_and_paginates(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    for segment in ["trader", "ojek", "trader", "farmer", "trader"]:
        assert register(client, keys, person(segment=segment)).status_code == 201
    register(client, keys, person(branch_code="SEMARANG", campaign_code=None))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"segment": "trader", "limit": 2, "branch_code": "SURAKARTA"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/participants", params=params, headers=Keys.auth(keys.admin))
        assert page.status_code == 200
        seen += [p["id"] for p in page.json()["items"]]
        assert all(p["segment"] == "trader" for p in page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3
    by_campaign = client.get(
        "/v1/participants",
        params={"campaign_code": "KKBC-PASAR-KLEWER"},
        headers=Keys.auth(keys.admin),
    )
    assert len(by_campaign.json()["items"]) == 5
    today = container.enrollment.clock.now().date().isoformat()
    dated = client.get(
        "/v1/participants",
        params={"registered_from": today, "registered_to": today},
        headers=Keys.auth(keys.admin),
    )
    assert len(dated.json()["items"]) == 6
    before = client.get(
        "/v1/participants",
        params={"registered_to": "2020-01-01"},
        headers=Keys.auth(keys.admin),
    )
    assert before.json()["items"] == []


def test_list_rejects_bad_parameters(client: TestClient, keys: Keys) -> None:
    auth = Keys.auth(keys.admin)
    bad_cursor = client.get("/v1/participants", params={"cursor": "abc"}, headers=auth)
    assert bad_cursor.json()["errors"][0]["field"] == "cursor"
    bad_range = client.get(
        "/v1/participants",
        params={"registered_from": "2026-02-01", "registered_to": "2026-01-01"},
        headers=auth,
    )
    assert bad_range.json()["errors"][0]["field"] == "registered_to"
    too_many = client.get("/v1/participants", params={"limit": 5000}, headers=auth)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "limit"


def test_unknown_participant_is_404(client: TestClient, keys: Keys) -> None:
    response = client.get("/v1/participants/nope", headers=Keys.auth(keys.admin))
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_a_contribution_of_what_the_period_costs_is_recorded_once(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    pid = register(client, keys, person()).json()["id"]
    url = f"/v1/participants/{pid}/contributions"
    period = payable_period()
    paid = {"period": period, "amount": 21_800, "paid_at": "2026-11-20T09:00:00+07:00"}
    first = client.post(url, json=paid, headers=Keys.auth(keys.admin))
    assert first.status_code == 201, first.text
    assert first.json()["expected_amount"] == 21_800
    assert (first.json()["status"], first.json()["owed"]) == ("paid", 0)
    twice = client.post(url, json=paid, headers=Keys.auth(keys.admin))
    assert twice.status_code == 409
    assert twice.json()["detail"] == f"the contribution for {period} is already paid"
    assert twice.json()["errors"] == [{"field": "periods", "message": f"{period} is already paid"}]
    _, key, event = outbox_events(container)[-1]
    assert (key, event.type, event.data.period, event.data.amount) == (
        pid,
        "contribution.paid",
        period,
        21_800,
    )


def test_contribution_errors(client: TestClient, keys: Keys, person: Person) -> None:
    pid = register(client, keys, person()).json()["id"]
    url = f"/v1/participants/{pid}/contributions"
    auth = Keys.auth(keys.admin)
    bad = client.post(
        url, json={"period": "2026-13", "amount": 1, "paid_at": "2026-11-20T09:00:00"}, headers=auth
    )
    assert {e["field"] for e in bad.json()["errors"]} == {"period", "paid_at"}
    ahead = {"period": payable_period(), "amount": 0, "paid_at": "2099-01-01T00:00:00Z"}
    future = client.post(url, json=ahead, headers=auth)
    assert {e["field"]: e["message"] for e in future.json()["errors"]} == {
        "amount": "must be more than 0 rupiah",
        "paid_at": "is in the future",
    }
    missing = client.post(
        "/v1/participants/nope/contributions",
        json={"period": "2026-10", "amount": 5, "paid_at": "2026-11-01T00:00:00Z"},
        headers=auth,
    )
    assert missing.status_code == 404


def test_opt_out_per_channel_then_all(
    client: TestClient, keys: Keys, person: Person, container: Container
) -> None:
    pid = register(client, keys, person()).json()["id"]
    url = f"/v1/participants/{pid}/opt-out"
    auth = Keys.auth(keys.admin)
    sms = client.post(url, json={"channels": ["sms"]}, headers=auth)
    assert sms.json() == {"participant_id": pid, "opted_out_channels": ["sms"], "changed": ["sms"]}
    every = client.post(url, json={"channels": ["all"], "reason": "moved abroad"}, headers=auth)
    assert every.json()["opted_out_channels"] == ["email", "sms", "whatsapp"]
    assert every.json()["changed"] == ["email", "whatsapp"]
    again = client.post(url, json={"channels": ["sms"]}, headers=auth)
    assert again.json()["changed"] == []
    opted = [e for _, _, e in outbox_events(container) if e.type == "participant.opted_out"]
    assert [e.data.channels for e in opted] == [["sms"], ["email", "whatsapp"]]
    assert opted[1].data.reason == "moved abroad"
    bad = client.post(url, json={"channels": ["pigeon"]}, headers=auth)
    assert bad.json()["errors"][0]["field"] == "channels.0"
    empty = client.post(url, json={"channels": []}, headers=auth)
    assert empty.json()["errors"][0]["field"] == "channels"
    assert client.get(f"/v1/participants/{pid}", headers=auth).json()["opted_out_channels"] == [
        "email",
        "sms",
        "whatsapp",
    ]


def test_campaigns_create_get_and_errors(
    client: TestClient, keys: Keys, container: Container
) -> None:
    auth = Keys.auth(keys.admin)
    body = {
        "code": "KKBC-SOLO-2027",
        "name": "Bebas Cemas Solo 2027",
        "branch_codes": ["SURAKARTA", "SEMARANG"],
        "starts_on": "2027-01-10",
        "ends_on": "2027-03-31",
    }
    created = client.post("/v1/campaigns", json=body, headers=auth)
    assert created.status_code == 201
    assert created.headers["location"] == "/v1/campaigns/KKBC-SOLO-2027"
    got = client.get("/v1/campaigns/KKBC-SOLO-2027", headers=Keys.auth(keys.viewer))
    assert got.json()["branch_codes"] == ["SURAKARTA", "SEMARANG"]
    assert got.json()["ends_on"] == "2027-03-31"
    _, key, event = outbox_events(container)[-1]
    assert (key, event.type) == ("KKBC-SOLO-2027", "campaign.created")
    assert client.post("/v1/campaigns", json=body, headers=auth).status_code == 409
    bad = client.post(
        "/v1/campaigns",
        json=dict(body, code="bad code!", branch_codes=["MARS"], ends_on="2026-01-01"),
        headers=auth,
    )
    assert [e["field"] for e in bad.json()["errors"]] == ["code"]
    bad_refs = client.post(
        "/v1/campaigns",
        json=dict(body, code="OTHER", branch_codes=["MARS"], ends_on="2026-01-01"),
        headers=auth,
    )
    assert bad_refs.json()["errors"] == [
        {"field": "branch_codes", "message": "unknown branch 'MARS'"},
        {"field": "ends_on", "message": "is before starts_on"},
    ]
    assert client.get("/v1/campaigns/NOPE", headers=auth).status_code == 404


def test_broadcast_request_becomes_an_event(
    client: TestClient, keys: Keys, container: Container
) -> None:
    auth = Keys.auth(keys.admin)
    url = "/v1/campaigns/KKBC-PASAR-KLEWER/broadcasts"
    body = {
        "message_kind": "campaign_announcement",
        "audience": {"branch_codes": ["SURAKARTA"], "segments": ["trader"]},
        "params": {"event_date": "2026-12-16"},
    }
    response = client.post(url, json=body, headers=auth)
    assert response.status_code == 202
    topic, key, event = outbox_events(container)[-1]
    assert (topic, key, event.type) == (
        "bebas.campaigns",
        "KKBC-PASAR-KLEWER",
        "campaign.broadcast_requested",
    )
    assert event.data.audience.segments == ["trader"]
    assert event.data.broadcast_id == response.json()["broadcast_id"]
    bad = client.post(
        url,
        json={"message_kind": "spam", "audience": {"segments": ["pilot"]}},
        headers=auth,
    )
    assert [e["field"] for e in bad.json()["errors"]] == ["audience.segments", "message_kind"]
    missing = client.post("/v1/campaigns/NOPE/broadcasts", json=body, headers=auth)
    assert missing.status_code == 404
    # found by schemathesis: a code no campaign could have was a 500, now a field error
    odd = client.post("/v1/campaigns/%06%C3%A1%09/broadcasts", json={}, headers=auth)
    assert odd.status_code == 422
    assert odd.json()["errors"][0]["field"] == "code"
    assert client.get("/v1/campaigns/%06%C3%A1%09", headers=auth).status_code == 422


def test_health_ready_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    # The container fixture points at a closed port on purpose: not ready, and says why.
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["broker"].startswith("unreachable")
    metrics = client.get("/metrics")
    assert "enrollment_outbox_pending" in metrics.text
    assert "enrollment_participants_registered_total" in metrics.text


def test_openapi_documents_v1(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/participants",
        "/v1/participants/{participant_id}",
        "/v1/participants/{participant_id}/contributions",
        "/v1/participants/{participant_id}/opt-out",
        "/v1/participants/{participant_id}/audit",
        "/v1/participants/by-number/{number}",
        "/v1/campaigns",
        "/v1/campaigns/{code}",
        "/v1/campaigns/{code}/broadcasts",
        "/v1/imports",
    } <= set(paths)
    assert json.dumps(paths).count("Idempotency-Key") >= 5
    assert "patch" in paths["/v1/participants/{participant_id}"]


async def test_requests_arriving_together_share_a_transaction_and_keep_their_rules(
    container: Container, person: Person
) -> None:
    """Group commit: duplicates and retried Idempotency-Keys inside one batch behave as apart."""
    import asyncio

    from services.enrollment.domain.access import Principal
    from services.enrollment.domain.errors import AlreadyRegistered, Conflict
    from services.enrollment.domain.model import RegistrationInput
    from services.enrollment.handlers import Idempotency

    admin = Principal("key_batch", "admin")
    enrollment = container.enrollment

    def prepared(body: dict[str, Any]) -> Any:
        return enrollment.prepare(RegistrationInput(**body), admin)

    a, b = person(), person()
    same_nik = dict(a, full_name="Someone Else")
    key = Idempotency("retry-1", "fingerprint-a", 201)
    other_body_same_key = Idempotency("retry-1", "fingerprint-b", 201)
    submit = container.registrations.submit
    outcomes = await asyncio.gather(
        submit((prepared(a), key)),
        submit((prepared(a), key)),  # the client's retry, before the first answer came back
        submit((prepared(same_nik), None)),
        submit((prepared(b), other_body_same_key)),
        return_exceptions=True,
    )
    first, retry, duplicate, reused = outcomes
    assert isinstance(first, dict)
    assert retry == first
    assert isinstance(duplicate, AlreadyRegistered)
    assert duplicate.participant_id == first["id"]
    assert isinstance(reused, Conflict)
    registered = [e for _, _, e in outbox_events(container) if e.type == "participant.registered"]
    assert [e.subject for e in registered] == [first["id"]]


def test_amounts_are_read_as_indonesians_write_them(
    client: TestClient, keys: Keys, person: Person
) -> None:
    for written in ("Rp 1.500.000,00", "1500000.00", "1.500.000", "Rp1.500.000", 1_500_000):
        created = register(client, keys, person(declared_income=written))
        assert created.status_code == 201, (written, created.text)
        assert created.json()["declared_income"] == 1_500_000
    ambiguous = register(client, keys, person(declared_income="1,500"))
    assert ambiguous.status_code == 422
    assert ambiguous.json()["errors"] == [
        {
            "field": "declared_income",
            "message": "'1,500' is ambiguous: 1500 rupiah or 1,5 rupiah; "
            "write 1500 (or Rp1.500) if you mean Rp1.500",
        }
    ]
    pid = created.json()["id"]
    url = f"/v1/participants/{pid}/contributions"
    paid = {
        "period": payable_period(),
        "amount": "Rp21.800",
        "paid_at": "2026-11-20T09:00:00+07:00",
    }
    recorded = client.post(url, json=paid, headers=Keys.auth(keys.admin))
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["amount"] == 21_800
    sen = client.post(url, json=dict(paid, amount="21.800,50"), headers=Keys.auth(keys.admin))
    assert sen.json()["errors"] == [
        {
            "field": "amount",
            "message": "'21.800,50' has 50 sen; amounts are whole rupiah (write Rp21.800)",
        }
    ]
