"""Sign-in to reporting: key entries, roles, session cookies (a clock passed in), and what each
role may read through the API (a fake worker: the API's port)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.common.apikeys import key_digest
from services.enrollment.apikeys import hash_key
from services.reporting.access import COOKIE, Access, Unauthenticated
from services.reporting.api import Services, create_api
from services.reporting.domain.access import Forbidden, Principal, parse_keys
from services.reporting.lag import LagSnapshot
from tests.reporting.test_api import FakeWorker

ADMIN, VIEWER, OFFICER = (f"bck_{who}-key-for-reporting-tests-0123" for who in "avo")
KEYS = parse_keys(
    f"{key_digest(ADMIN)}:admin, {key_digest(VIEWER).upper()}:viewer,"
    f"{key_digest(OFFICER)}:officer:SKA"
)
SECRET = b"session-secret-for-tests-0123456789"


class Wall:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_entries_are_enrollments_digests_with_role_and_branch() -> None:
    assert key_digest(ADMIN) == hash_key(ADMIN)  # what enrollment stores as key_hash
    assert KEYS[key_digest(VIEWER)] == Principal(key_digest(VIEWER), "viewer")
    assert KEYS[key_digest(OFFICER)].branch == "SKA"
    assert parse_keys(" , ") == {}


@pytest.mark.parametrize(
    ("listed", "says"),
    [
        (f"{ADMIN}:admin", "entry 1 does not start with a SHA-256 hex digest"),
        (f"{key_digest(ADMIN)}:boss", "entry 1: the role must be one of"),
        (f"{key_digest(ADMIN)}:admin,{key_digest(OFFICER)}:officer", "entry 2: an officer"),
        (f"{key_digest(ADMIN)}:viewer:SKA", "only officer entries name a branch"),
        (f"{key_digest(ADMIN)}:admin,{key_digest(ADMIN)}:viewer", "listed twice"),
    ],
)
def test_a_wrong_entry_is_named_by_number_never_echoed(listed: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        parse_keys(listed)
    assert ADMIN not in str(caught.value)


def test_roles() -> None:
    officer, viewer = KEYS[key_digest(OFFICER)], KEYS[key_digest(VIEWER)]
    officer.require_branch("SKA")
    with pytest.raises(Forbidden, match="branch SKA, not MKS"):
        officer.require_branch("MKS")
    with pytest.raises(Forbidden):
        officer.require_operations()
    viewer.require_branch("MKS")
    viewer.require_operations()
    with pytest.raises(Forbidden, match="only an admin"):
        viewer.require_admin()
    KEYS[key_digest(ADMIN)].require_admin()


def test_bearer_key_or_session_cookie_until_it_expires() -> None:
    wall = Wall(1_000_000.0)
    access = Access(KEYS, SECRET, session_seconds=3600, wall=wall)
    assert access.who(f"Bearer {VIEWER}", None).role == "viewer"
    token, expires = access.session(access.sign_in(OFFICER))
    assert expires == 1_003_600
    assert access.who(None, token).branch == "SKA"
    wall.now = 1_003_599.0
    assert access.who(None, token).role == "officer"
    wall.now = 1_003_600.0
    with pytest.raises(Unauthenticated, match="expired"):
        access.who(None, token)


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        (None, "sign in"),
        ("Basic abc", "must be 'Bearer <key>'"),
        ("Bearer bck_not-a-listed-key-000000000000", "not accepted by reporting"),
        (f"Bearer {key_digest(ADMIN)}", "not accepted by reporting"),  # a digest is no key
    ],
)
def test_refusals_say_why(authorization: str | None, says: str) -> None:
    with pytest.raises(Unauthenticated, match=says):
        Access(KEYS, SECRET).who(authorization, None)


def test_a_cookie_signed_elsewhere_altered_or_of_a_removed_key_is_refused() -> None:
    access = Access(KEYS, SECRET)
    token, _ = access.session(access.sign_in(ADMIN))
    with pytest.raises(Unauthenticated, match="not signed by this service"):
        Access(KEYS, b"another-secret-0123456789abcdef").who(None, token)
    payload, mac = token.split(".")
    forged = Access(KEYS, SECRET).session(access.sign_in(VIEWER))[0].split(".")[0]
    with pytest.raises(Unauthenticated, match="not signed"):
        access.who(None, f"{forged}.{mac}")
    with pytest.raises(Unauthenticated, match="not signed"):
        access.who(None, payload)
    without_admin = {d: p for d, p in KEYS.items() if p.role != "admin"}
    with pytest.raises(Unauthenticated, match="no longer accepted"):
        Access(without_admin, SECRET).who(None, token)


ROWS: list[tuple[str, tuple[str, ...], int]] = [
    ("enr", ("K1", "SKA", "pedagang", "field", "-", "2023-12-16"), 7),
    ("enr", ("K1", "MKS", "ojek", "field", "-", "2023-12-16"), 5),
]


class TwoBranches(FakeWorker):
    def counters(self) -> list[tuple[str, tuple[str, ...], int]]:
        return ROWS


def api(wall: Wall | None = None) -> TestClient:
    worker = TwoBranches({"participants": [0, 1], "campaigns": [0]})
    services = Services(worker, LagSnapshot(), CollectorRegistry(), "http://self")
    services.access = Access(KEYS, SECRET, wall=wall or Wall(1_000_000.0))
    return TestClient(create_api(services))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_no_key_is_401_problem_and_probes_stay_open() -> None:
    client = api()
    for path in ("/v1/overview", "/v1/campaigns/K1/metrics", "/v1/stream-health"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in response.json()["detail"]
    assert client.get("/v1/dead-letters").status_code == 401
    assert client.post("/v1/dead-letters/replay", json={"ids": ["x"]}).status_code == 401
    for path in ("/healthz", "/readyz", "/metrics", "/"):
        assert client.get(path).status_code == 200, path


def test_an_officer_sees_one_branch_and_no_operations_data() -> None:
    client, auth = api(), bearer(OFFICER)
    campaign = client.get("/v1/campaigns/K1/metrics", headers=auth).json()
    assert campaign["enrolments"]["total"] == 7
    assert list(campaign["by_branch"]) == ["SKA"]
    assert client.get("/v1/overview", headers=auth).json()["totals"]["enrolments"] == 7
    csv = client.get("/v1/campaigns/K1/report.csv", headers=auth).text
    assert ",SKA," in csv
    assert ",MKS," not in csv
    assert client.get("/v1/branches/SKA/metrics", headers=auth).status_code == 200
    other = client.get("/v1/branches/MKS/metrics", headers=auth)
    assert other.status_code == 403
    assert other.json()["detail"] == "your key is for branch SKA, not MKS"
    for path in ("/v1/stream-health", "/v1/dead-letters"):
        assert client.get(path, headers=auth).status_code == 403, path
    assert client.post("/v1/dead-letters/replay", json={}, headers=auth).status_code == 403


def test_a_viewer_sees_every_branch_but_may_not_replay() -> None:
    client, auth = api(), bearer(VIEWER)
    assert client.get("/v1/overview", headers=auth).json()["totals"]["enrolments"] == 12
    campaign = client.get("/v1/campaigns/K1/metrics", headers=auth).json()
    assert list(campaign["by_branch"]) == ["MKS", "SKA"]
    assert client.get("/v1/branches/MKS/metrics", headers=auth).status_code == 200
    assert client.get("/v1/stream-health", headers=auth).status_code == 200
    replay = client.post("/v1/dead-letters/replay", json={"ids": ["x"]}, headers=auth)
    assert replay.status_code == 403
    assert replay.json()["detail"] == "only an admin key may do this"


def test_sign_in_gives_a_strict_httponly_cookie_that_expires() -> None:
    wall = Wall(1_000_000.0)
    client = api(wall)
    wrong = client.post("/v1/session", json={"key": "bck_guess-000000000000000000"})
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["field"] == "key"
    assert client.post("/v1/session", json={}).json()["errors"][0]["field"] == "key"
    signed = client.post("/v1/session", json={"key": OFFICER})
    assert signed.status_code == 200
    assert signed.json() == {"role": "officer", "branch": "SKA", "expires_at": 1_000_000 + 8 * 3600}
    cookie = signed.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert client.get("/v1/session").json() == {"role": "officer", "branch": "SKA"}
    assert client.get("/v1/overview").json()["totals"]["enrolments"] == 7
    wall.now += 8 * 3600
    expired = client.get("/v1/overview")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    client.post("/v1/session", json={"key": VIEWER})
    assert client.delete("/v1/session").status_code == 204
    assert client.get("/v1/session").status_code == 401


def test_replay_needs_a_selection_and_names_the_field() -> None:
    client, auth = api(), bearer(ADMIN)
    empty = client.post("/v1/dead-letters/replay", json={}, headers=auth)
    assert empty.status_code == 422
    assert empty.json()["errors"] == [
        {"field": "ids", "message": empty.json()["errors"][0]["message"]}
    ]
    naive = client.get("/v1/dead-letters", params={"from": "2026-12-04T08:00:00"}, headers=auth)
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "from"
    page = client.get("/v1/dead-letters", params={"page": 0}, headers=auth)
    assert page.json()["errors"][0]["field"] == "page"
