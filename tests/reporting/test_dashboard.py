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
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        assert shot.stat().st_size > 10_000
    finally:
        w.stop()
