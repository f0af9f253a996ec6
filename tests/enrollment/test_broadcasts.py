"""Broadcast checks: characters, encoding, segments against the maximum, and the dry run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.common.kafka_settings import KafkaSettings
from services.enrollment.adapters import tables
from services.enrollment.api.app import create_app
from services.enrollment.bootstrap import Container, bootstrap
from services.enrollment.domain.broadcast import (
    AudienceGroup,
    BroadcastRules,
    Reach,
    check_text,
    reach,
)
from services.enrollment.seed import seed_demo
from tests.enrollment.conftest import Keys, make_settings
from tests.enrollment.test_api import PROBLEM, outbox_events, register

Person = Callable[..., dict[str, Any]]
EM_DASH = "\u2014"
URL = "/v1/campaigns/KKBC-PASAR-KLEWER/broadcasts"
RULES = BroadcastRules(max_segments=2, price_per_segment=350, template_chars=25)
#: The issue's sample: 218 characters with one em dash, four UCS-2 segments per person.
DASHED = "Kerja Keras Bebas Cemas " + EM_DASH + " " + "lindungi diri Anda sekarang. " * 6 + "x" * 18


def test_the_issue_sample_is_refused_naming_the_em_dash_and_the_fix() -> None:
    assert len(DASHED) == 218
    plan, problems = check_text({"message": DASHED}, RULES)
    assert (plan.encoding, plan.segments, plan.non_gsm_characters) == ("UCS-2", 4, (EM_DASH,))
    assert problems[0].field == "params.message"
    assert problems[0].message == (
        "needs 4 SMS segments per person (243 UCS-2 units with the 25 the template adds); "
        "at most 2 allowed: shorten it to 109 characters; \u2014 are not in the GSM-7 alphabet "
        "and make every SMS UCS-2 (70 characters per SMS instead of 160): replace \u2014 with -"
    )
    fixed, none = check_text({"message": DASHED.replace(EM_DASH, "-")}, RULES)
    assert (fixed.encoding, fixed.segments, none) == ("GSM-7", 2, [])


@pytest.mark.parametrize(
    ("params", "encoding", "segments", "problems"),
    [
        ({}, "GSM-7", 1, []),  # the template's own text, which the notifier keeps to one
        ({"message": "a" * 135}, "GSM-7", 1, []),
        ({"message": "a" * 136}, "GSM-7", 2, []),
        ({"message": "a" * 281}, "GSM-7", 2, []),
        (
            {"message": "a" * 282},
            "GSM-7",
            3,
            [
                (
                    "params.message",
                    "needs 3 SMS segments per person (307 GSM-7 units with the 25 the template "
                    "adds); at most 2 allowed: shorten it to 281 characters",
                )
            ],
        ),
        ({"message": "Iuran ę " + "a" * 100}, "UCS-2", 2, []),
        (
            {"message": "Halo\u200bsemua"},
            "UCS-2",
            1,
            [
                (
                    "params.message",
                    "contains an invisible character (U+200B ZERO WIDTH SPACE); remove it",
                )
            ],
        ),
        (
            {"message": "Halo \U0001f600", "event_date": "16\tDes"},
            "UCS-2",
            1,
            [
                (
                    "params.message",
                    "contains \U0001f600 (GRINNING FACE), which basic phones cannot show; "
                    "remove it",
                ),
                (
                    "params.event_date",
                    "contains an invisible character (U+0009 U+0009); remove it",
                ),
            ],
        ),
        (
            {"subject": "Halo\nBcc: x@example.id"},
            "GSM-7",
            1,
            [("params.subject", "must be one line: it becomes the e-mail subject")],
        ),
    ],
)
def test_text_checks(
    params: dict[str, str], encoding: str, segments: int, problems: list[tuple[str, str]]
) -> None:
    plan, found = check_text(params, RULES)
    assert (plan.encoding, plan.segments) == (encoding, segments)
    assert [(p.field, p.message) for p in found] == problems


def _group(channel: str = "sms", email: bool = False, out: str = "", consent: bool = True) -> Any:
    return AudienceGroup(channel, email, frozenset(out.split(",")) - {""}, consent, 1)


@pytest.mark.parametrize(
    ("group", "kind", "channel"),
    [
        (_group(), "campaign_announcement", "sms"),
        (_group("whatsapp"), "campaign_announcement", "sms"),  # no WhatsApp adapter yet
        (_group("email", email=True), "campaign_announcement", "email"),
        (_group("email"), "campaign_announcement", "sms"),  # no address: SMS after all
        (_group(email=True, out="sms"), "campaign_announcement", "email"),
        (_group("email", email=True, out="email"), "campaign_announcement", "sms"),
        (_group(email=True, out="sms,email"), "campaign_announcement", None),
        (_group(out="sms"), "campaign_announcement", None),
        (_group(consent=False), "campaign_announcement", None),
        (_group(consent=False), "welcome", "sms"),  # transactional: no consent needed
    ],
)
def test_reach_follows_channel_opt_outs_and_consent(
    group: AudienceGroup, kind: str, channel: str | None
) -> None:
    expected = {"sms": 0, "email": 0, "not_reached": 0}
    expected[channel or "not_reached"] = 1
    assert reach([group], kind) == Reach(matching=1, **expected)


@pytest.fixture
def priced(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str, Container]]:
    """Enrollment with one segment allowed at Rp400 each, and its admin key.

    The template budget is pinned, so the figures below stay about this API and do not move
    with the notifier's campaign template (whose own test checks the default covers it).
    """
    container = bootstrap(
        make_settings(
            database_url,
            tmp_path / "data",
            broadcast_max_segments=1,
            broadcast_price_per_segment=400,
            broadcast_template_chars=RULES.template_chars,
        ),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        relay=False,
    )
    seed_demo(container)
    with TestClient(create_app(container)) as client:
        yield client, container.api_keys.create("admin").plaintext, container
    container.engine.dispose()


def _count(container: Container, table: Any) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_dry_run_answers_reach_segments_and_cost_and_writes_nothing(
    priced: tuple[TestClient, str, Container], person: Person
) -> None:
    client, admin, container = priced
    keys = Keys(admin=admin, officer_skt="", officer_smg="", viewer="")
    ids = [register(client, keys, person()).json()["id"] for _ in range(3)]
    register(client, keys, person(preferred_channel="email", email="sri@example.id"))
    register(client, keys, person(consent_reminders=False))
    register(client, keys, person(segment="ojek"))
    register(client, keys, person(branch_code="SEMARANG", campaign_code=None))
    auth = Keys.auth(admin)
    client.post(f"/v1/participants/{ids[0]}/opt-out", json={"channels": ["sms"]}, headers=auth)
    events_before = len(outbox_events(container))

    body = {
        "audience": {"branch_codes": ["SURAKARTA"], "segments": ["trader"]},
        "params": {"message": "Pasar Klewer, 16 Des: daftar BPJS Ketenagakerjaan di stand kami."},
        "dry_run": True,
    }
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["dry_run"] is True
    assert answer["recipients"] == {"matching": 5, "sms": 2, "email": 1, "not_reached": 2}
    assert answer["sms"] == {
        "encoding": "GSM-7",
        "characters": 64,
        "segments": 1,
        "max_segments": 1,
        "non_gsm_characters": [],
        "uses_template_default": False,
    }
    assert answer["estimated_cost"] == {
        "currency": "IDR",
        "price_per_segment": 400,
        "sms_segments": 2,
        "total": 800,
    }
    assert len(outbox_events(container)) == events_before
    assert _count(container, tables.broadcasts) == 0

    dashed = {
        **body,
        "params": {
            "message": "Pasar Klewer " + EM_DASH + " daftar BPJS Ketenagakerjaan di stand kami"
        },
    }
    two = client.post(URL, json=dashed, headers=auth)
    assert two.status_code == 422
    assert two.headers["content-type"] == PROBLEM
    [error] = two.json()["errors"]
    assert error["field"] == "params.message"
    assert error["message"].startswith("needs 2 SMS segments per person (81 UCS-2 units")
    assert "replace \u2014 with -" in error["message"]

    accepted = client.post(URL, json={**body, "dry_run": False}, headers=auth)
    assert accepted.status_code == 202
    assert accepted.json()["sms"]["segments"] == 1
    assert "dry_run" not in accepted.json()
    assert _count(container, tables.broadcasts) == 1
    assert outbox_events(container)[-1][2].type == "campaign.broadcast_requested"


def test_a_refused_broadcast_writes_nothing(
    client: TestClient, keys: Keys, container: Container
) -> None:
    before = len(outbox_events(container))
    refused = client.post(
        URL, json={"params": {"message": "x" * 400}}, headers=Keys.auth(keys.admin)
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "params.message"
    assert len(outbox_events(container)) == before
    assert _count(container, tables.broadcasts) == 0
    viewer = client.post(URL, json={"dry_run": True}, headers=Keys.auth(keys.viewer))
    assert viewer.status_code == 403
