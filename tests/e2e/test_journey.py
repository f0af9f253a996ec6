"""A branch officer's day, end to end: register, welcome, reminders, payment, opt-out,
broadcast, and the same figures in reporting's API and dashboard."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from bench.driver import wait_until
from bench.nik_scan import scan_files, scan_topics
from services.common.kafka_settings import KafkaSettings
from tests.e2e.conftest import Journey

WIB = ZoneInfo("Asia/Jakarta")


def _csv(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    columns = ["full_name", "nik", "phone", "segment", "branch_code", "declared_income"]
    columns += ["campaign_code", "language", "consent_reminders"]
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=";", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "consent_reminders": "ya"})
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # a spreadsheet's BOM, as officers send


def test_api_and_csv_registrations_get_their_welcome_in_their_language(journey: Journey) -> None:
    campaign = journey.new_campaign()
    sari = journey.person(campaign, full_name="Sari Lestari", branch_code="SURAKARTA")
    budi = journey.person(
        campaign, full_name="Budi Santoso", language="en", email="budi.santoso@example.co.id"
    )
    sheet = [
        journey.person(campaign, full_name="Joko Widodo", language="id"),
        journey.person(campaign, full_name="Wati Ningsih", language="en"),
    ]
    journey.register(sari)
    journey.register(budi)
    with journey.run.api() as api:
        report = api.post(
            "/v1/imports", files={"file": ("pasar-klewer.csv", _csv(sheet), "text/csv")}
        ).json()
    assert report["registered"] == 2, report

    assert "Sari" in journey.wait_sms(sari["phone"], "welcome")["text"]
    assert "Rp16.800" in journey.wait_sms(sari["phone"], "welcome")["text"]
    budi_sms = journey.wait_sms(budi["phone"], "welcome")["text"]
    assert "Budi" in budi_sms
    # registered now, protected only once the first contribution is paid
    assert "you're registered" in budi_sms
    assert "Covered once you pay Rp16.800" in budi_sms
    assert "Joko" in journey.wait_sms(sheet[0]["phone"], "welcome")["text"]
    assert "Covered once you pay" in journey.wait_sms(sheet[1]["phone"], "welcome")["text"]
    mail = wait_until(
        lambda: [m for m in journey.run.mails() if budi["email"] in m["to"]], 60, "Budi's mail"
    )
    assert len(mail) == 1
    assert mail[0]["subject"].startswith("BPJS Ketenagakerjaan: you are registered, M")
    assert mail[0]["subject"].endswith(" Budi")  # Mr or Ms, as his test NIK says
    for person in (sari, budi, *sheet):
        assert len(journey.sms_to(person["phone"])) == 1, "one welcome SMS, no duplicates"


def _next_period(now: datetime) -> tuple[str, date]:
    """The first month whose D-7 (09:00 in the latest zone, WIT) is still ahead of `now`."""
    local = now.astimezone(WIB)
    year, month = local.year, local.month
    while True:
        due = date(year, month, 15)
        d7 = datetime.combine(due - timedelta(days=7), time(9), ZoneInfo("Asia/Jayapura"))
        if d7 > now + timedelta(hours=1):
            return f"{year:04d}-{month:02d}", due
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _move_notifier_clock_to(journey: Journey, when: datetime) -> None:
    journey.run.advance_clock(when - journey.run.notifier_now())


def test_reminders_follow_the_clock_and_stop_once_the_period_is_paid(journey: Journey) -> None:
    campaign = journey.new_campaign()
    people = [
        journey.person(campaign, full_name="Rina Wulandari", branch_code="SURAKARTA"),  # WIB
        journey.person(campaign, full_name="Andi Makatita", branch_code="MAKASSAR"),  # WITA
        journey.person(campaign, full_name="Yosep Kambu", branch_code="JAYAPURA"),  # WIT
    ]
    ids = [journey.register(p)["id"] for p in people]
    for p in people:
        journey.wait_sms(p["phone"], "welcome")
    period, due = _next_period(journey.run.notifier_now())

    # D-7, 09:30 WIB: every zone is past its own 09:00 reminder hour and outside quiet hours.
    _move_notifier_clock_to(journey, datetime.combine(due - timedelta(days=7), time(9, 30), WIB))
    for p in people:
        assert period in journey.wait_sms(p["phone"], "contribution_due_d7")["reference"]

    with journey.run.api() as api:
        paid = api.post(
            f"/v1/participants/{ids[0]}/contributions",
            json={"period": period, "amount": 16_800, "paid_at": datetime.now(UTC).isoformat()},
        )
    assert paid.status_code == 201, paid.text
    wait_until(
        lambda: period in journey.notifier_view(ids[0]).get("paid_periods", []),
        60,
        "the notifier to record the payment",
    )

    _move_notifier_clock_to(journey, datetime.combine(due - timedelta(days=1), time(9, 30), WIB))
    for p in people[1:]:
        journey.wait_sms(p["phone"], "contribution_due_d1")
    # The unpaid two got D-1 from the same timer pass; the payer must have got nothing new.
    payer_kinds = [m["reference"].split("|")[1] for m in journey.sms_to(people[0]["phone"])]
    assert payer_kinds == ["welcome", "contribution_due_d7"]
    metrics = wait_until(
        lambda: (
            m
            if (m := journey.campaign_metrics(campaign)).get("payments", {}).get("payers")
            else None
        ),
        60,
        "reporting to count the payment",
    )
    assert metrics["payments"]["payers"] == 1
    assert metrics["payments"]["amount"] == 16_800


def test_opted_out_people_get_no_broadcast_and_the_recipients_are_counted(
    journey: Journey,
) -> None:
    campaign = journey.new_campaign()
    people = [journey.person(campaign, branch_code="SURAKARTA", segment="trader") for _ in range(4)]
    people.append(journey.person(campaign, branch_code="SURAKARTA", segment="farmer"))
    ids = [journey.register(p)["id"] for p in people]
    for p in people:
        journey.wait_sms(p["phone"], "welcome")
    with journey.run.api() as api:
        out = api.post(f"/v1/participants/{ids[0]}/opt-out", json={"channels": ["all"]})
        assert out.status_code in (200, 201), out.text
        wait_until(
            lambda: journey.notifier_view(ids[0]).get("opted_out"), 60, "the opt-out to land"
        )
        broadcast = api.post(
            f"/v1/campaigns/{campaign}/broadcasts",
            json={
                "message_kind": "campaign_announcement",
                "audience": {"branch_codes": ["SURAKARTA"], "segments": ["trader"]},
                "params": {"message": "Sosialisasi di Pasar Klewer Sabtu 09.00"},
            },
        )
    assert broadcast.status_code == 202, broadcast.text

    for p in people[1:4]:  # the three traders still subscribed
        journey.wait_sms(p["phone"], "campaign_announcement")
    metrics = wait_until(
        lambda: (
            m
            if (m := journey.campaign_metrics(campaign)).get("opt_outs", {}).get("total")
            else None
        ),
        60,
        "reporting to count the opt-out",
    )
    received = {
        m["to"]
        for p in people
        for m in journey.sms_to(p["phone"])
        if "|campaign_announcement|" in m["reference"]
    }
    assert received == {p["phone"] for p in people[1:4]}, "opted-out and farmer get nothing"
    assert metrics["enrolments"]["total"] == 5
    # "all" is one opt-out per channel: reporting counts opt-outs by channel.
    assert metrics["opt_outs"]["by_channel"] == {"email": 1, "sms": 1, "whatsapp": 1}


def test_reporting_api_and_dashboard_show_the_same_figures(
    journey: Journey, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    campaign = journey.new_campaign()
    people = [journey.person(campaign) for _ in range(3)]
    for p in people:
        journey.register(p)
    for p in people:
        journey.wait_sms(p["phone"], "welcome")

    def at_gateway() -> int:
        # welcome, plus any reminder already due on the notifier's (moved) clock
        return sum(len(journey.sms_to(p["phone"])) for p in people)

    metrics = wait_until(
        lambda: (
            m
            if (m := journey.campaign_metrics(campaign)).get("enrolments", {}).get("total") == 3
            and m["messages"]["sent"] == at_gateway()
            else None
        ),
        60,
        "reporting to count every message the gateway received",
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(journey.run.url("reporting") + "/")
        page.select_option("[data-testid=campaign-picker]", campaign)
        # The page polls; wait until it shows this campaign's figures, then read them.
        page.wait_for_function(
            """code => document.querySelector('[data-testid=campaign-picker]').value === code
                && document.querySelector('[data-testid=kpi-enrolments]').textContent.trim()
                   === '3'""",
            arg=campaign,
            timeout=30_000,
        )
        page.wait_for_timeout(3500)  # one more poll: the figures must hold, not flicker
        shown = {
            name: page.locator(f"[data-testid=kpi-{name}]").text_content()
            for name in ("enrolments", "sent", "delivered")
        }
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        browser.close()
    final = journey.campaign_metrics(campaign)
    assert shown == {
        "enrolments": str(final["enrolments"]["total"]),
        "sent": str(final["messages"]["sent"]),
        "delivered": str(final["messages"]["delivered"]),
    }
    assert final["messages"]["sent"] == metrics["messages"]["sent"] >= 3
    assert httpx.get(journey.run.url("reporting") + "/readyz").status_code == 200


def test_generated_requests_never_break_the_enrollment_api(
    journey: Journey, tmp_path: Path
) -> None:
    """schemathesis against enrollment's own OpenAPI: at least 1,000 generated requests, no
    5xx, every response conforms to the documented schema."""
    har = tmp_path / "requests.har"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{journey.run.url('enrollment')}/openapi.json",
            "--header",
            f"Authorization: Bearer {journey.run.admin_key}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            "150",
            "--seed",
            "20261129",
            "--report",
            "har",
            "--report-har-path",
            str(har),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    requests = len(json.loads(har.read_text(encoding="utf-8"))["log"]["entries"])
    assert requests >= 1000, f"only {requests} generated requests"


def test_no_raw_nik_in_any_topic_log_or_stored_file(journey: Journey) -> None:
    """Runs last: everything the session registered, searched for everywhere."""
    ctx = journey.run.live().ctx
    assert ctx is not None
    assert journey.niks, "the journey registered people"
    scanned, topic_leaks = scan_topics(
        KafkaSettings(bootstrap_servers=ctx.bootstrap_servers), journey.niks
    )
    assert scanned > 50, "the scan read the platform's topics"
    assert topic_leaks == []
    assert scan_files(journey.run.root, journey.niks) == []
