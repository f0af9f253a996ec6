"""From counters to figures: totals, rates, breakdowns, ranges and series."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.reporting.domain import figures
from services.reporting.domain.figures import DateRange

COUNTERS = {
    ("camp", ("K1", "Pasar Klewer")): 1,
    ("enr", ("K1", "SKA", "pedagang", "field", "OFF-1", "2023-12-15")): 3,
    ("enr", ("K1", "SKA", "ojek", "web", "-", "2023-12-17")): 1,
    ("enr", ("K1", "MKS", "pedagang", "import", "OFF-2", "2023-12-16")): 4,
    ("enr", ("K2", "SKA", "pedagang", "field", "OFF-1", "2023-12-16")): 5,
    ("msg", ("K1", "SKA", "welcome", "sms", "sent", "2023-12-15")): 4,
    ("msg", ("K1", "SKA", "welcome", "sms", "delivered", "2023-12-15")): 3,
    ("msg", ("K1", "MKS", "welcome", "email", "failed", "2023-12-16")): 1,
    ("fail", ("K1", "MKS", "email", "mailbox full", "2023-12-16")): 1,
    ("sentp", ("K1", "SKA", "sms", "gw-1", "2023-12-15")): 3,
    ("sentp", ("K1", "SKA", "sms", "gw-2", "2023-12-15")): 1,
    ("sentp", ("K2", "SKA", "sms", "gw-2", "2023-12-16")): 7,
    ("pay", ("K1", "SKA", "2023-12", "2023-12-17")): 2,
    ("amt", ("K1", "SKA", "2023-12", "2023-12-17")): 33_600,
    ("payer", ("K1", "SKA", "2023-12-17")): 2,
    ("opt", ("K1", "MKS", "sms", "2023-12-16")): 1,
    ("lapse", ("K1", "SKA", "lapsed", "2024-04-08")): 3,
    ("lapse", ("K1", "MKS", "lapsed", "2024-04-08")): 1,
    ("lapse", ("K1", "SKA", "reactivated", "2024-04-20")): 1,
    ("lapse", ("K2", "SKA", "lapsed", "2024-04-08")): 2,
    # dropped by the notifier's frequency cap, one of them on a day with nothing else
    ("supp", ("K1", "SKA", "campaign_announcement", "sms", "frequency_cap", "2023-12-17")): 2,
    ("supp", ("K1", "MKS", "campaign_announcement", "sms", "frequency_cap", "2023-12-18")): 1,
    ("supp", ("K2", "SKA", "campaign_announcement", "email", "frequency_cap", "2023-12-17")): 4,
}


def test_campaign_report_totals_rates_and_breakdowns() -> None:
    rep = figures.campaign_report(COUNTERS, "K1", DateRange())
    assert rep["campaign"] == {"code": "K1", "name": "Pasar Klewer"}
    assert rep["enrolments"]["total"] == 8
    assert rep["enrolments"]["by_segment"] == {"ojek": 1, "pedagang": 7}
    assert rep["enrolments"]["by_source"] == {"field": 3, "import": 4, "web": 1}
    assert rep["messages"]["sent"] == 4
    assert rep["messages"]["delivery_rate"] == 0.75
    assert rep["messages"]["failures_by_reason"] == {"mailbox full": 1}
    assert rep["messages"]["sent_by_provider"] == {"gw-1": 3, "gw-2": 1}
    assert rep["payments"] == {
        "payers": 2,
        "payments": 2,
        "amount": 33_600,
        "conversion_rate": 0.25,
        "by_period": {"2023-12": {"payments": 2, "amount": 33_600}},
    }
    assert rep["lapses"] == {"lapsed": 4, "reactivated": 1}
    assert rep["by_branch"]["SKA"]["conversion_rate"] == 0.5
    assert rep["by_branch"]["MKS"]["opt_outs"] == 1
    assert [d["date"] for d in rep["series"]] == ["2023-12-15", "2023-12-16", "2023-12-17"]
    assert [d["enrolments"] for d in rep["series"]] == [3, 4, 1]


def test_range_filters_days_and_fills_the_series_with_zeros() -> None:
    rng = DateRange(date(2023, 12, 14), date(2023, 12, 15))
    rep = figures.campaign_report(COUNTERS, "K1", rng)
    assert rep["enrolments"]["total"] == 3
    first = rep["series"][0]
    assert first["date"] == "2023-12-14"
    assert all(value == 0 for name, value in first.items() if name != "date")
    assert rep["range"] == {"from": "2023-12-14", "to": "2023-12-15"}


def test_branch_report_groups_by_campaign_and_overview_lists_every_campaign() -> None:
    rep = figures.branch_report(COUNTERS, "SKA", DateRange())
    assert {k: v["enrolments"] for k, v in rep["by_campaign"].items()} == {"K1": 4, "K2": 5}
    over = figures.overview(COUNTERS, DateRange())
    assert [c["code"] for c in over["campaigns"]] == ["K1", "K2"]
    assert over["totals"]["enrolments"] == 13
    assert over["totals"]["amount"] == 33_600


def test_rates_are_none_when_nothing_to_divide_by() -> None:
    rep = figures.campaign_report(COUNTERS, "NOPE", DateRange())
    assert rep["messages"]["delivery_rate"] is None
    assert rep["payments"]["conversion_rate"] is None
    assert rep["series"] == []


def test_csv_rows_per_day_and_branch() -> None:
    rows = figures.campaign_csv_rows(COUNTERS, "K1", DateRange())
    header = figures.CSV_HEADER
    as_dicts = [dict(zip(header, row, strict=True)) for row in rows]
    assert [(r["date"], r["branch"]) for r in as_dicts] == [
        ("2023-12-15", "SKA"),
        ("2023-12-16", "MKS"),
        ("2023-12-17", "SKA"),
    ]
    assert as_dicts[2]["amount"] == 33_600
    assert as_dicts[1]["failed"] == 1


def test_an_inverted_range_is_refused() -> None:
    with pytest.raises(ValueError, match="after"):
        DateRange(date(2023, 12, 2), date(2023, 12, 1))


def test_response_models_describe_every_field_the_figures_have() -> None:
    from services.reporting.schemas_api import BranchMetrics, CampaignMetrics, Overview

    for model, body in (
        (CampaignMetrics, figures.campaign_report(COUNTERS, "K1", DateRange())),
        (BranchMetrics, figures.branch_report(COUNTERS, "SKA", DateRange())),
        (Overview, figures.overview(COUNTERS, DateRange())),
    ):
        assert model.model_validate(body).model_dump(by_alias=True) == body


def test_suppressed_messages_count_by_reason_apart_from_the_statuses() -> None:
    def dropped(rep: dict[str, Any]) -> dict[str, int]:
        return rep["messages"]["suppressed_by_reason"]  # type: ignore[no-any-return]

    rep = figures.campaign_report(COUNTERS, "K1", DateRange())
    assert dropped(rep) == {"frequency_cap": 3}
    # not a status: no series day, no CSV row, no group column of their own
    assert [d["date"] for d in rep["series"]] == ["2023-12-15", "2023-12-16", "2023-12-17"]
    rows = figures.campaign_csv_rows(COUNTERS, "K1", DateRange())
    assert [row[0] for row in rows] == ["2023-12-15", "2023-12-16", "2023-12-17"]
    assert "suppressed_by_reason" not in rep["by_branch"]["SKA"]
    the_18th = DateRange(date(2023, 12, 18), date(2023, 12, 18))
    assert dropped(figures.campaign_report(COUNTERS, "K1", the_18th)) == {"frequency_cap": 1}
    # a branch: every campaign's
    assert dropped(figures.branch_report(COUNTERS, "SKA", DateRange())) == {"frequency_cap": 6}
    assert dropped(figures.campaign_report(COUNTERS, "NOPE", DateRange())) == {}


def test_lapses_follow_the_range_and_start_at_zero() -> None:
    december = DateRange(date(2023, 12, 1), date(2023, 12, 31))
    assert figures.campaign_report(COUNTERS, "K1", december)["lapses"] == {
        "lapsed": 0,
        "reactivated": 0,
    }
    april = DateRange(date(2024, 4, 1), date(2024, 4, 10))
    assert figures.campaign_report(COUNTERS, "K1", april)["lapses"] == {
        "lapsed": 4,
        "reactivated": 0,
    }
    assert figures.branch_report(COUNTERS, "SKA", DateRange())["lapses"] == {
        "lapsed": 5,
        "reactivated": 1,
    }
