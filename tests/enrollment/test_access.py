"""Authorisation matrix: who may read and write what, with which answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.enrollment.apikeys import hash_key
from services.enrollment.bootstrap import Container
from services.enrollment.cli import main as cli
from tests.enrollment.conftest import Keys
from tests.enrollment.factory import payable_period

Person = Callable[..., dict[str, Any]]


@pytest.fixture
def two_branches(client: TestClient, keys: Keys, person: Person) -> dict[str, str]:
    """One participant in Surakarta and one in Semarang, registered by their own officers."""
    skt = client.post("/v1/participants", json=person(), headers=Keys.auth(keys.officer_skt))
    smg = client.post(
        "/v1/participants",
        json=person(branch_code="SEMARANG", campaign_code=None),
        headers=Keys.auth(keys.officer_smg),
    )
    assert skt.status_code == smg.status_code == 201
    return {"SURAKARTA": skt.json()["id"], "SEMARANG": smg.json()["id"]}


ENDPOINTS = [
    ("get", "/v1/participants"),
    ("post", "/v1/participants"),
    ("get", "/v1/participants/x"),
    ("post", "/v1/participants/x/contributions"),
    ("post", "/v1/participants/x/opt-out"),
    ("post", "/v1/campaigns"),
    ("get", "/v1/campaigns/KKBC-PASAR-KLEWER"),
    ("post", "/v1/campaigns/KKBC-PASAR-KLEWER/broadcasts"),
    ("post", "/v1/imports"),
]


@pytest.mark.parametrize(
    "authorization", [None, "Basic abc", "Bearer ", "Bearer bck_not-a-real-key"]
)
def test_every_v1_endpoint_needs_a_valid_key(
    client: TestClient, keys: Keys, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in ENDPOINTS:
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"


def test_officer_reads_and_writes_only_their_branch(
    client: TestClient, keys: Keys, person: Person, two_branches: dict[str, str]
) -> None:
    auth = Keys.auth(keys.officer_skt)
    own, other = two_branches["SURAKARTA"], two_branches["SEMARANG"]
    assert client.get(f"/v1/participants/{own}", headers=auth).status_code == 200
    denied = client.get(f"/v1/participants/{other}", headers=auth)
    assert denied.status_code == 403
    assert denied.json()["detail"] == "your key is for branch SURAKARTA, not SEMARANG"
    listed = client.get("/v1/participants", headers=auth).json()["items"]
    assert [p["id"] for p in listed] == [own]
    assert (
        client.get("/v1/participants", params={"branch_code": "SEMARANG"}, headers=auth)
    ).status_code == 403
    elsewhere = person(branch_code="SEMARANG", campaign_code=None)
    assert client.post("/v1/participants", json=elsewhere, headers=auth).status_code == 403
    paid = {"period": payable_period(), "amount": 16_800, "paid_at": "2026-11-20T09:00:00+07:00"}
    assert (
        client.post(f"/v1/participants/{other}/contributions", json=paid, headers=auth)
    ).status_code == 403
    assert (
        client.post(f"/v1/participants/{own}/contributions", json=paid, headers=auth)
    ).status_code == 201
    opt = {"channels": ["sms"]}
    assert (
        client.post(f"/v1/participants/{other}/opt-out", json=opt, headers=auth)
    ).status_code == 403
    assert client.post(f"/v1/participants/{own}/opt-out", json=opt, headers=auth).status_code == 200


def test_officer_cannot_run_campaigns_but_can_read_them(client: TestClient, keys: Keys) -> None:
    auth = Keys.auth(keys.officer_skt)
    campaign = {"code": "X1", "name": "X", "starts_on": "2027-01-01"}
    assert client.post("/v1/campaigns", json=campaign, headers=auth).status_code == 403
    broadcast = client.post("/v1/campaigns/KKBC-PASAR-KLEWER/broadcasts", json={}, headers=auth)
    assert broadcast.status_code == 403
    assert broadcast.json()["detail"] == "only an admin key may do this"
    assert client.get("/v1/campaigns/KKBC-PASAR-KLEWER", headers=auth).status_code == 200


def test_viewer_reads_everything_and_writes_nothing(
    client: TestClient, keys: Keys, person: Person, two_branches: dict[str, str]
) -> None:
    auth = Keys.auth(keys.viewer)
    for pid in two_branches.values():
        assert client.get(f"/v1/participants/{pid}", headers=auth).status_code == 200
    assert len(client.get("/v1/participants", headers=auth).json()["items"]) == 2
    denied = client.post("/v1/participants", json=person(), headers=auth)
    assert denied.status_code == 403
    assert denied.json()["detail"] == "your key is read-only (viewer)"
    pid = two_branches["SURAKARTA"]
    paid = {"period": "2026-11", "amount": 16_800, "paid_at": "2026-11-20T09:00:00+07:00"}
    assert (
        client.post(f"/v1/participants/{pid}/contributions", json=paid, headers=auth)
    ).status_code == 403
    upload = {"file": ("s.csv", b"full_name,nik,phone,segment,branch_code,declared_income\n")}
    assert client.post("/v1/imports", files=upload, headers=auth).status_code == 403


def test_admin_acts_in_every_branch(
    client: TestClient, keys: Keys, two_branches: dict[str, str]
) -> None:
    auth = Keys.auth(keys.admin)
    for pid in two_branches.values():
        assert client.get(f"/v1/participants/{pid}", headers=auth).status_code == 200
        response = client.post(
            f"/v1/participants/{pid}/opt-out", json={"channels": ["all"]}, headers=auth
        )
        assert response.status_code == 200


def test_officer_import_rejects_rows_of_another_branch(
    client: TestClient, keys: Keys, person: Person
) -> None:
    a, b = person(), person()
    sheet = (
        "full_name,nik,phone,segment,branch_code,declared_income\n"
        f"{a['full_name']},{a['nik']},{a['phone']},trader,SURAKARTA,1000000\n"
        f"{b['full_name']},{b['nik']},{b['phone']},trader,SEMARANG,1000000\n"
    )
    report = client.post(
        "/v1/imports",
        files={"file": ("s.csv", sheet.encode())},
        headers=Keys.auth(keys.officer_skt),
    ).json()
    assert report["registered"] == 1
    assert report["problems"] == [
        {
            "row": 3,
            "field": "branch_code",
            "message": "your key may only register in branch SURAKARTA",
        }
    ]


def test_keys_are_stored_hashed_and_created_by_the_cli(
    container: Container, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = container.settings
    monkeypatch.setenv("ENROLLMENT_DATABASE_URL", settings.sqlalchemy_url)
    monkeypatch.setenv("ENROLLMENT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ENROLLMENT_NIK_HASH_KEY", "test-nik-hash-key-0123456789")
    assert cli(["apikey", "create", "--role", "officer", "--branch", "SURAKARTA"]) == 0
    plaintext = capsys.readouterr().out.strip().splitlines()[-1]
    principal = container.api_keys.authenticate(plaintext)
    assert principal is not None
    assert (principal.role, principal.branch_code) == ("officer", "SURAKARTA")
    with container.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT key_hash FROM api_keys").scalars().all()
    assert plaintext not in stored
    assert hash_key(plaintext) in stored
    assert cli(["apikey", "create", "--role", "officer"]) == 2
    assert "needs --branch" in capsys.readouterr().err
    assert cli(["apikey", "create", "--role", "viewer", "--branch", "SURAKARTA"]) == 2


def test_bootstrap_admin_key_is_ensured_once(container: Container) -> None:
    first = container.api_keys.ensure_admin("bootstrap-admin-key-0123456789")
    again = container.api_keys.ensure_admin("bootstrap-admin-key-0123456789")
    assert first == again
    principal = container.api_keys.authenticate("bootstrap-admin-key-0123456789")
    assert principal is not None
    assert principal.role == "admin"
