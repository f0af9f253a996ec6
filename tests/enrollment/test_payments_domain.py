"""Payments that add up: costs from the amount history, checks, oldest-first allocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.enrollment.domain.errors import Conflict, InvalidInput
from services.enrollment.domain.payments import (
    AmountChange,
    CostRules,
    PeriodAccount,
    accounts_for,
    check_periods,
    monthly_at,
    plan_payment,
)

WIB = timezone(timedelta(hours=7))
RULES = CostRules(WIB, due_day=15)


def at(text: str) -> datetime:
    """A WIB wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


# Registered at 21.800 a month; JHT added on 3 Dec 2026 (66.800); income lowered on
# 20 Jan 2027 (56.800, today's amount).
CHANGES = [
    AmountChange(at("2026-12-03T10:00"), 21_800, 66_800),
    AmountChange(at("2027-01-20T10:00"), 66_800, 56_800),
]


@pytest.mark.parametrize(
    ("period", "cost", "why"),
    [
        ("2026-11", 21_800, "before any change"),
        ("2026-12", 66_800, "changed on the 3rd, before the due day"),
        ("2027-01", 66_800, "changed on the 20th, after the due day: next month's"),
        ("2027-02", 56_800, "due day ahead: today's amount"),
        ("2030-05", 56_800, "far ahead: today's amount"),
    ],
)
def test_a_period_costs_the_amount_in_force_at_the_end_of_its_due_day(
    period: str, cost: int, why: str
) -> None:
    assert monthly_at(RULES.fixed_at(period), 56_800, CHANGES) == cost, why


@pytest.mark.parametrize(
    ("changed_at", "cost"),
    [
        ("2026-12-15T23:59", 66_800),  # still the due day, local time
        ("2026-12-16T00:00", 21_800),  # the day after: December was fixed at the old amount
    ],
)
def test_the_due_day_ends_at_local_midnight(changed_at: str, cost: int) -> None:
    changes = [AmountChange(at(changed_at), 21_800, 66_800)]
    assert monthly_at(RULES.fixed_at("2026-12"), 66_800, changes) == cost


def test_the_due_instant_is_the_branch_wall_clock() -> None:
    assert RULES.fixed_at("2026-12") == datetime(2026, 12, 15, 17, 0, tzinfo=UTC)


def test_no_change_means_todays_amount() -> None:
    assert monthly_at(RULES.fixed_at("2020-01"), 16_800, []) == 16_800


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        ([], "name one or more periods (YYYY-MM)"),
        (["2026-12", "2026-12"], "names 2026-12 more than once"),
        (
            ["2026-10", "2026-12"],
            "2026-10 is before the participant registered; the first period to pay is 2026-11",
        ),
        (
            ["2026-09", "2026-10"],
            "2026-09, 2026-10 are before the participant registered; "
            "the first period to pay is 2026-11",
        ),
    ],
)
def test_periods_that_cannot_be_paid_are_named(periods: list[str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_periods(periods, "2026-11")
    assert [(p.field, p.message) for p in caught.value.problems] == [("periods", message)]


def test_periods_come_back_oldest_first() -> None:
    assert check_periods(["2027-01", "2026-11", "2026-12"], "2026-11") == [
        "2026-11",
        "2026-12",
        "2027-01",
    ]


def acc(period: str, cost: int = 16_800, before: int = 0, settled: bool = False) -> PeriodAccount:
    return PeriodAccount(period, cost, before, settled)


JAN, FEB, MAR = acc("2027-01"), acc("2027-02"), acc("2027-03")


@pytest.mark.parametrize(
    ("amount", "accounts", "lines", "complete"),
    [
        # (period, brought now, owed after, paid)
        (16_800, [JAN], [("2027-01", 16_800, 0, True)], True),
        (10_000, [JAN], [("2027-01", 10_000, 6_800, False)], False),
        (
            50_400,
            [JAN, FEB, MAR],
            [
                ("2027-01", 16_800, 0, True),
                ("2027-02", 16_800, 0, True),
                ("2027-03", 16_800, 0, True),
            ],
            True,
        ),
        # short: oldest first, the money runs out in February, March gets nothing
        (
            20_000,
            [JAN, FEB, MAR],
            [
                ("2027-01", 16_800, 0, True),
                ("2027-02", 3_200, 13_600, False),
                ("2027-03", 0, 16_800, False),
            ],
            False,
        ),
        # the second partial reaches the cost: the period is paid
        (6_800, [acc("2027-01", before=10_000)], [("2027-01", 6_800, 0, True)], True),
        # a partial then a payment of what two periods still owe
        (
            23_600,
            [acc("2027-01", before=10_000), FEB],
            [("2027-01", 6_800, 0, True), ("2027-02", 16_800, 0, True)],
            True,
        ),
        # periods of different cost (a correction between them)
        (
            60_000,
            [acc("2026-12", 21_800), acc("2027-01", 66_800)],
            [("2026-12", 21_800, 0, True), ("2027-01", 38_200, 28_600, False)],
            False,
        ),
    ],
)
def test_a_payment_is_split_oldest_first(
    amount: int,
    accounts: list[PeriodAccount],
    lines: list[tuple[str, int, int, bool]],
    complete: bool,
) -> None:
    plan = plan_payment(amount, accounts)
    assert [(x.period, x.amount, x.owed, x.settled) for x in plan.lines] == lines
    assert plan.complete is complete
    assert plan.owed == sum(owed for _, _, owed, _ in lines)
    assert sum(x.amount for x in plan.lines) == amount


@pytest.mark.parametrize(
    ("amount", "accounts", "message"),
    [
        (
            16_801,
            [JAN],
            "Rp16.801 is more than the Rp16.800 still owed for 2027-01 Rp16.800; "
            "pay exactly that, or name more periods",
        ),
        (
            40_000,
            [acc("2027-01", before=10_000), FEB],
            "Rp40.000 is more than the Rp23.600 still owed for 2027-01 Rp6.800, "
            "2027-02 Rp16.800; pay exactly that, or name more periods",
        ),
        (0, [JAN], "must be more than 0 rupiah"),
    ],
)
def test_an_amount_that_does_not_fit_names_amount_and_what_is_owed(
    amount: int, accounts: list[PeriodAccount], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        plan_payment(amount, accounts)
    assert [(p.field, p.message) for p in caught.value.problems] == [("amount", message)]


def test_a_period_paid_in_full_is_a_conflict_naming_periods() -> None:
    with pytest.raises(Conflict) as caught:
        plan_payment(16_800, [acc("2027-01", before=16_800, settled=True), FEB])
    assert str(caught.value) == "the contribution for 2027-01 is already paid"
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("periods", "2027-01 is already paid")
    ]


def test_accounts_take_costs_from_history_and_what_was_paid() -> None:
    accounts = accounts_for(
        ["2026-12", "2027-02"], RULES, 56_800, CHANGES, {"2026-12": (10_000, False)}
    )
    assert accounts == [acc("2026-12", 66_800, 10_000), acc("2027-02", 56_800)]
