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


def _nothing_due(journey: Journey, participant_id: str) -> bool:
    """Nothing queued and the next reminder ahead of the notifier's clock."""
    view = journey.notifier_view(participant_id)
    if not view or view["queued"]:
        return False
    next_at = view["schedule"]["next_at"]
    return bool(next_at) and datetime.fromisoformat(next_at) > journey.run.notifier_now()


def test_reporting_api_and_dashboard_show_the_same_figures(
    journey: Journey, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    campaign = journey.new_campaign()
    people = [journey.person(campaign) for _ in range(3)]
    ids = [journey.register(p)["id"] for p in people]
    for p in people:
        journey.wait_sms(p["phone"], "welcome")
    # An earlier test may have moved the notifier's clock to a reminder day, so a reminder can
    # follow the welcome. Wait until nothing is due for anyone: then the gateway's count is final.
    for pid in ids:
        wait_until(
            lambda pid=pid: _nothing_due(journey, pid),
            60,
            f"the notifier to have nothing due for {pid}",
        )

    def at_gateway() -> int:
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
        # the run's enrollment admin key signs in (make run lists its digest for reporting)
        page.fill("[data-testid=sign-in-key]", journey.run.admin_key)
        page.click("[data-testid=sign-in-submit]")
        page.wait_for_selector("[data-testid=dead-letter-panel]", state="visible")
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
            # two API operations at a time (measured alone: 44 s against 50 s with one)
            "--workers",
            "2",
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


def _wib(period: str, day: int, hour: int = 9, minute: int = 30) -> datetime:
    """`day` of the month `period` at hour:minute WIB (09:30: past the 09:00 reminders)."""
    year, month = (int(part) for part in period.split("-"))
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


def _shift(period: str, months: int) -> str:
    year, month = (int(part) for part in period.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _first_month_whose_14th_is_ahead(journey: Journey) -> str:
    ahead = max(journey.run.notifier_now(), journey.run.enrollment_now()) + timedelta(hours=1)
    period = f"{ahead.astimezone(WIB):%Y-%m}"
    return period if _wib(period, 14, 10, 0) > ahead else _shift(period, 1)


def _sms_log(journey: Journey, phone: str) -> list[str]:
    """`kind|period` of every SMS the gateway got for `phone`, in the order it got them."""
    return ["|".join(m["reference"].split("|")[1:3]) for m in journey.sms_to(phone)]


def _wait_sms_entry(journey: Journey, phone: str, entry: str) -> None:
    wait_until(lambda: entry in _sms_log(journey, phone), 60, f"SMS {entry} to {phone}")


def _lapses(journey: Journey, campaign: str, expected: dict[str, int]) -> None:
    wait_until(
        lambda: journey.campaign_metrics(campaign).get("lapses") == expected,
        60,
        f"reporting to count lapses {expected}",
    )


def test_reminders_fit_the_history_lapse_reactivation_and_resume(journey: Journey) -> None:
    """Registered on the 16th: no overdue notice for that month, three months of reminders,
    the lapse, one reactivation message, nothing after; a payment and reminders resume.

    A second participant registered on the 14th, who paid three months ahead, is the barrier
    that shows the notifier did look at the instants where the first one must get nothing."""
    run, campaign = journey.run, journey.new_campaign()
    m0 = _first_month_whose_14th_is_ahead(journey)
    months = [_shift(m0, k) for k in range(1, 6)]
    sri = journey.person(campaign, full_name="Sri Wahyuni", branch_code="SURAKARTA")
    dewi = journey.person(campaign, full_name="Dewi Sartika", branch_code="SURAKARTA")

    run.move_clocks_to(_wib(m0, 14, 10, 0))
    dewi_id = journey.register(dewi)["id"]
    run.move_clocks_to(_wib(m0, 16, 10, 0))
    sri_id = journey.register(sri)["id"]
    with run.api() as api:
        for period in months[:3]:
            paid_at = run.enrollment_now().isoformat()
            body = {"period": period, "amount": 16_800, "paid_at": paid_at}
            response = api.post(f"/v1/participants/{dewi_id}/contributions", json=body)
            assert response.status_code == 201, response.text
    _wait_sms_entry(journey, sri["phone"], "welcome|once")

    # The 18th of the registration month: Dewi (registered on the 14th) is overdue, Sri not.
    _move_notifier_clock_to(journey, _wib(m0, 18))
    _wait_sms_entry(journey, dewi["phone"], f"contribution_overdue|{m0}")
    assert _sms_log(journey, sri["phone"]) == ["welcome|once"]

    reminders = []
    for period in months[:3]:
        for kind, day in (
            ("contribution_due_d7", 8),
            ("contribution_due_d1", 14),
            ("contribution_overdue", 18),
        ):
            _move_notifier_clock_to(journey, _wib(period, day))
            reminders.append(f"{kind}|{period}")
            _wait_sms_entry(journey, sri["phone"], reminders[-1])

    # Month four: instead of its D-7, one reactivation message saying what is owed.
    _move_notifier_clock_to(journey, _wib(months[3], 8))
    _wait_sms_entry(journey, sri["phone"], f"reactivation|{months[0]}")
    _wait_sms_entry(journey, dewi["phone"], f"contribution_due_d7|{months[3]}")
    reactivation = next(
        m["text"] for m in journey.sms_to(sri["phone"]) if "|reactivation|" in m["reference"]
    )
    assert "3 bln" in reactivation, reactivation  # what is owed: three months, 3 x Rp16.800
    assert "Rp50.400" in reactivation, reactivation
    for kind, day in (("contribution_due_d1", 14), ("contribution_overdue", 18)):
        _move_notifier_clock_to(journey, _wib(months[3], day))
        _wait_sms_entry(journey, dewi["phone"], f"{kind}|{months[3]}")
    lapsed = ["welcome|once", *reminders, f"reactivation|{months[0]}"]
    assert _sms_log(journey, sri["phone"]) == lapsed, "nothing after the reactivation message"
    view = journey.notifier_view(sri_id)
    assert view["lapse"]["unpaid_periods"] == months[:3]
    assert view["schedule"]["next_at"] is None
    _lapses(journey, campaign, {"lapsed": 1, "reactivated": 0})

    with run.api() as api:
        body = {"period": months[0], "amount": 16_800, "paid_at": run.enrollment_now().isoformat()}
        response = api.post(f"/v1/participants/{sri_id}/contributions", json=body)
    assert response.status_code == 201, response.text
    wait_until(lambda: journey.notifier_view(sri_id).get("reactivated_at"), 60, "the reactivation")
    assert journey.notifier_view(sri_id)["lapse"] is None
    # Paid on the 18th of month four: counting starts again with month five.
    _move_notifier_clock_to(journey, _wib(months[4], 8))
    _wait_sms_entry(journey, sri["phone"], f"contribution_due_d7|{months[4]}")
    assert _sms_log(journey, sri["phone"]) == [*lapsed, f"contribution_due_d7|{months[4]}"]
    _lapses(journey, campaign, {"lapsed": 1, "reactivated": 1})


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


def test_a_corrected_phone_gets_the_next_reminder(journey: Journey) -> None:
    """An officer corrects a phone number (PATCH): the welcome went to the old number, the next
    reminder goes to the new one, and the old number gets nothing more."""
    run, campaign = journey.run, journey.new_campaign()
    m0 = _first_month_whose_14th_is_ahead(journey)
    rina = journey.person(campaign, full_name="Rina Marlina", branch_code="SURAKARTA")
    new_phone = journey.person(campaign)["phone"]  # a valid number nobody registered
    run.move_clocks_to(_wib(m0, 14, 10, 0))
    rina_id = journey.register(rina)["id"]
    _wait_sms_entry(journey, rina["phone"], "welcome|once")

    with run.api() as api:
        response = api.patch(f"/v1/participants/{rina_id}", json={"phone": new_phone})
    assert response.status_code == 200, response.text
    corrected = response.json()["phone_e164"]
    wait_until(
        lambda: journey.notifier_view(rina_id).get("phone_e164") == corrected,
        60,
        "the notifier has the corrected number",
    )

    _move_notifier_clock_to(journey, _wib(m0, 18))  # past the due day, unpaid: overdue notice
    _wait_sms_entry(journey, corrected, f"contribution_overdue|{m0}")
    assert _sms_log(journey, rina["phone"]) == ["welcome|once"]
