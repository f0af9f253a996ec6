"""The dashboard in a real headless Chromium: numbers match the API and move without reload."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from services.common.kafka_settings import KafkaSettings
from tests.reporting import factory as f
from tests.reporting import mix
from tests.reporting.harness import (
    ADMIN_KEY,
    OFFICER_KEY,
    get,
    json_or_none,
    make_topics,
    poll,
    publish,
    stream_health,
    worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"


def id_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def rupiah(n: int) -> str:
    return "Rp" + id_int(n)


def pct(rate: float | None) -> str:
    if rate is None:
        return "–"
    text = f"{rate * 100:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") + "%"


def text(page: Page, testid: str) -> str:
    return page.inner_text(f'[data-testid="{testid}"]').strip()


def assert_page_matches_api(page: Page, url: str) -> None:
    m = get(url, "/v1/campaigns/KLEWER23/metrics").json()
    expected = {
        "kpi-enrolments": id_int(m["enrolments"]["total"]),
        "kpi-sent": id_int(m["messages"]["sent"]),
        "kpi-delivered": id_int(m["messages"]["delivered"]),
        "kpi-failed": id_int(m["messages"]["failed"]),
        "kpi-delivery-rate": pct(m["messages"]["delivery_rate"]),
        "kpi-payers": id_int(m["payments"]["payers"]),
        "kpi-conversion": pct(m["payments"]["conversion_rate"]),
        "kpi-amount": rupiah(m["payments"]["amount"]),
        "kpi-opt-outs": id_int(m["opt_outs"]["total"]),
    }
    assert {key: text(page, key) for key in expected} == expected
    for branch, g in m["by_branch"].items():
        cells = page.locator(f'[data-testid="branch-row-{branch}"] td').all_inner_texts()
        assert cells == [
            branch,
            id_int(g["enrolments"]),
            id_int(g["payers"]),
            pct(g["conversion_rate"]),
            rupiah(g["amount"]),
        ]


def sign_in(page: Page, key: str) -> None:
    page.wait_for_selector('[data-testid="sign-in"]', state="visible")
    page.fill('[data-testid="sign-in-key"]', key)
    page.click('[data-testid="sign-in-submit"]')


def assert_dead_letter_panel_matches_api(page: Page, url: str) -> None:
    listed = get(url, "/v1/dead-letters", page_size=10).json()
    assert listed["total"] == 2
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=dead-letter-row]').length === 2"
    )
    assert page.locator('[data-testid="dead-letter-panel"]').is_visible()
    reasons = page.locator('[data-testid="dead-letter-reason"]').all()
    shown = {
        r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text() for r in reasons
    }
    assert shown == {reason: id_int(n) for reason, n in listed["counts_by_reason"].items()}
    sources = page.locator('[data-testid="dead-letter-source"]').all_inner_texts()
    assert all(source.startswith("reporting: ") for source in sources), sources
    ids = page.locator('[data-testid="dead-letter-row"] code').all_inner_texts()
    assert ids == [item["id"] for item in listed["items"]]


def test_dashboard_shows_the_api_figures_and_updates_live(
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    group_factory: Callable[[str], str],
    tmp_path: Path,
) -> None:
    assert shutil.which("chromium") == CHROMIUM, "run `make browser` (apt-get install chromium)"
    topics = make_topics(topic_factory)
    group = group_factory("reporting-dash")
    first, second = mix.build()
    publish(kafka_settings, topics, first + second)
    w = worker(kafka_settings, topics, group, tmp_path, "dash").start()
    try:
        w.wait_ready()
        totals = poll(
            lambda: (json_or_none(get(w.url, "/v1/overview")) or {}).get("totals"),
            lambda t: t == mix.OVERVIEW["totals"],
        )
        assert totals == mix.OVERVIEW["totals"], stream_health(w.url)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1500})
            page.goto(f"{w.url}/?interval=1000&campaign=KLEWER23&lang=id")
            sign_in(page, "bck_not-a-key-of-this-service-000000")
            page.wait_for_function(
                "document.querySelector('[data-testid=sign-in-error]').textContent !== ''"
            )
            assert "Kunci ditolak" in text(page, "sign-in-error")
            assert page.locator('[data-testid="kpi-enrolments"]').is_hidden()
            sign_in(page, ADMIN_KEY)
            page.wait_for_function(
                "document.querySelector('[data-testid=kpi-enrolments]').textContent === '5'"
            )
            assert page.locator("h1").inner_text() == "Pemantauan Kampanye"
            assert_page_matches_api(page, w.url)
            assert text(page, "kpi-amount") == "Rp50.400"
            assert text(page, "kpi-delivery-rate") == "75%"
            assert text(page, "health-dead-letters") == "2"
            lag_groups = page.locator('[data-testid="lag-table"] td[data-group]')
            page.wait_for_function(
                f"document.querySelector('[data-group=\"{group}\"]') !== null", timeout=15_000
            )
            assert group in [g.get_attribute("data-group") for g in lag_groups.all()]
            assert_dead_letter_panel_matches_api(page, w.url)
            loaded_at = page.evaluate("window.__dashboard.loadedAt")

            # new events move the numbers on the open page, without a reload
            at = datetime(2023, 12, 17, 2, 0, tzinfo=UTC)
            late = [
                mix.Outgoing(
                    "participants",
                    b"P10",
                    f.raw(f.envelope(f.registered("P10", at, campaign="KLEWER23"), "P10")),
                ),
                mix.Outgoing(
                    "participants",
                    b"P10",
                    f.raw(
                        f.envelope(f.paid("P10", at, amount=1_234_000, campaign="KLEWER23"), "P10")
                    ),
                ),
            ]
            publish(kafka_settings, topics, late)
            page.wait_for_function(
                "document.querySelector('[data-testid=kpi-enrolments]').textContent === '6'"
                " && document.querySelector('[data-testid=kpi-amount]').textContent"
                " === 'Rp1.284.400'",
                timeout=20_000,
            )
            assert page.evaluate("window.__dashboard.loadedAt") == loaded_at
            assert_page_matches_api(page, w.url)

            page.select_option('[data-testid="campaign-picker"]', "NELAYAN23")
            page.wait_for_function(
                "document.querySelector('[data-testid=kpi-enrolments]').textContent === '2'"
            )
            assert text(page, "kpi-amount") == "Rp36.800"
            assert text(page, "kpi-delivery-rate") == "50%"
            page.select_option('[data-testid="campaign-picker"]', "KLEWER23")
            page.wait_for_function(
                "document.querySelector('[data-testid=kpi-enrolments]').textContent === '6'"
            )

            page.click('[data-testid="lang-toggle"]')
            assert page.locator("h1").inner_text() == "Campaign monitor"
            assert text(page, "kpi-amount") == "Rp1.284.400"  # Indonesian numbers either way
            assert page.locator("#dead-letters h2").inner_text() == "Dead letters"
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)

            # an officer of MKS: that branch's figures only, no stream health or dead letters
            page.click('[data-testid="sign-out"]')
            page.wait_for_selector('[data-testid="sign-in"]', state="visible")
            sign_in(page, OFFICER_KEY)
            officer = get(w.url, "/v1/campaigns/KLEWER23/metrics", key=OFFICER_KEY).json()
            assert list(officer["by_branch"]) == ["MKS"]
            page.wait_for_selector('[data-testid="branch-row-MKS"]')
            page.wait_for_function(
                "document.querySelectorAll('[data-testid^=branch-row-]').length === 1"
            )
            assert text(page, "kpi-enrolments") == id_int(officer["enrolments"]["total"])
            assert page.locator('[data-testid="health-panel"]').is_hidden()
            assert page.locator('[data-testid="dead-letter-panel"]').is_hidden()
            browser.close()
        assert shot.stat().st_size > 10_000
    finally:
        w.stop()
