"""Payments that add up: what the named periods cost, how a payment is split among them.

Rules (table-tested in tests/enrollment/test_payments_domain.py):
- A period (`YYYY-MM`) costs the monthly contribution the participant's record said was in
  force at the end of that period's due day (the 15th by default, branch local time); for a
  period whose due day is still ahead, that is today's amount. The monthly amount itself is
  the one registration and corrections computed (domain/contributions.py) and stored; the
  audit trail keeps every change of it, so the amount of any past moment is known.
  Why the due day: reminders quote today's amount up to the due day, so what a reminder asks
  for is what the payment is checked against.
- A payment names one or more periods, none twice, none before the month of registration
  (branch local time), none already paid in full.
- What the payment must bring is what those periods still owe: their cost less what earlier
  partial payments brought. More than that is refused (never guessed into credit); exactly
  that pays every named period.
- Less than that is a partial payment, kept and split *oldest period first*: each period takes
  what it still owes until the money runs out. A period whose owed amount is reached is paid
  (so two partials that reach the cost pay it); the others stay unpaid and keep what they got.
  Oldest first because the oldest unpaid month is the one that lapses cover first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from services.enrollment.domain.errors import Conflict, FieldProblem, InvalidInput

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_period(text: str) -> tuple[int, int]:
    match = _PERIOD.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a period; write YYYY-MM, e.g. 2026-11")
    return int(match.group(1)), int(match.group(2))


def rupiah(amount: int) -> str:
    """Indonesian style, as receipts write it: Rp1.500.000."""
    return "Rp" + f"{amount:,}".replace(",", ".")


@dataclass(frozen=True)
class AmountChange:
    """The monthly contribution changed from `old` to `new` at `at` (a correction)."""

    at: datetime
    old: int
    new: int


@dataclass(frozen=True)
class CostRules:
    """Where a period's cost is fixed: the end of its due day on the branch's wall clock."""

    zone: tzinfo
    due_day: int = 15

    def fixed_at(self, period: str) -> datetime:
        year, month = parse_period(period)
        end_of_due_day = datetime(year, month, self.due_day, tzinfo=self.zone) + timedelta(days=1)
        return end_of_due_day.astimezone(UTC)


def monthly_at(moment: datetime, current: int, changes: Iterable[AmountChange]) -> int:
    """The monthly amount in force just before `moment`: the `old` side of the first change
    at or after it, or today's amount when nothing changed since."""
    later = [c for c in changes if c.at >= moment]
    return min(later, key=lambda c: c.at).old if later else current


@dataclass(frozen=True)
class PeriodAccount:
    """One period as stored: what it costs and what earlier payments brought to it."""

    period: str
    cost: int
    paid_before: int = 0
    settled: bool = False

    @property
    def owed(self) -> int:
        return 0 if self.settled else max(self.cost - self.paid_before, 0)


@dataclass(frozen=True)
class Line:
    """What one payment brings to one period, and where that leaves the period."""

    account: PeriodAccount
    amount: int

    @property
    def period(self) -> str:
        return self.account.period

    @property
    def paid_total(self) -> int:
        return self.account.paid_before + self.amount

    @property
    def owed(self) -> int:
        return self.account.owed - self.amount

    @property
    def settled(self) -> bool:
        return self.owed == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "period": self.period,
            "cost": self.account.cost,
            "paid_before": self.account.paid_before,
            "amount": self.amount,
            "paid_total": self.paid_total,
            "owed": self.owed,
            "paid": self.settled,
        }


@dataclass(frozen=True)
class PaymentPlan:
    amount: int
    expected: int
    lines: tuple[Line, ...]

    @property
    def complete(self) -> bool:
        return self.amount == self.expected

    @property
    def owed(self) -> int:
        return self.expected - self.amount


def check_periods(periods: Sequence[str], first_period: str) -> list[str]:
    """The named periods, oldest first; InvalidInput naming `periods` when they cannot be paid."""
    problems = []
    if not periods:
        problems.append("name one or more periods (YYYY-MM)")
    repeated = sorted({p for p in periods if periods.count(p) > 1})
    if repeated:
        problems.append(f"names {', '.join(repeated)} more than once")
    early = sorted(p for p in set(periods) if p < first_period)
    if early:
        problems.append(
            f"{', '.join(early)} {'is' if len(early) == 1 else 'are'} before the participant "
            f"registered; the first period to pay is {first_period}"
        )
    if problems:
        raise InvalidInput([FieldProblem("periods", "; ".join(problems))])
    return sorted(periods)  # YYYY-MM sorts by time


def plan_payment(amount: int, accounts: Sequence[PeriodAccount]) -> PaymentPlan:
    """Split `amount` among the accounts (already checked and oldest first)."""
    paid = [a.period for a in accounts if a.settled]
    if paid:
        raise PeriodsPaid(paid)
    if amount <= 0:
        raise InvalidInput([FieldProblem("amount", "must be more than 0 rupiah")])
    expected = sum(a.owed for a in accounts)
    if amount > expected:
        raise InvalidInput([FieldProblem("amount", _too_much(amount, expected, accounts))])
    lines, left = [], amount
    for account in accounts:
        share = min(left, account.owed)
        lines.append(Line(account, share))
        left -= share
    return PaymentPlan(amount, expected, tuple(lines))


def _too_much(amount: int, expected: int, accounts: Sequence[PeriodAccount]) -> str:
    parts = ", ".join(f"{a.period} {rupiah(a.owed)}" for a in accounts)
    return (
        f"{rupiah(amount)} is more than the {rupiah(expected)} still owed for {parts}; "
        "pay exactly that, or name more periods"
    )


class PeriodsPaid(Conflict):
    """Some named periods are paid in full already (a second payment would be money for
    nothing); the problem names `periods`."""

    def __init__(self, periods: list[str]) -> None:
        listed = ", ".join(periods)
        verb = "is" if len(periods) == 1 else "are"
        super().__init__(
            f"the contribution for {listed} {verb} already paid",
            [FieldProblem("periods", f"{listed} {verb} already paid")],
        )


def accounts_for(
    periods: Sequence[str],
    rules: CostRules,
    current: int,
    changes: Sequence[AmountChange],
    paid: Mapping[str, tuple[int, bool]],
) -> list[PeriodAccount]:
    """Each period's account: cost from the amount history, and (brought, settled) so far."""
    return [
        PeriodAccount(
            period,
            monthly_at(rules.fixed_at(period), current, changes),
            *paid.get(period, (0, False)),
        )
        for period in periods
    ]
