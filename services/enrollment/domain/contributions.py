"""The monthly contribution of an informal (BPU) worker, from the configurable rate table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services.enrollment.domain.reference import RateTable

MANDATORY = ("JKK", "JKM")
OPTIONAL = ("JHT",)
ALL_PROGRAMMES = MANDATORY + OPTIONAL


@dataclass(frozen=True)
class Contribution:
    jkk: int
    jkm: int
    jht: int
    income_basis: int

    @property
    def total(self) -> int:
        return self.jkk + self.jkm + self.jht


def _percent(amount: int, percent: Decimal) -> int:
    value = Decimal(amount) * percent / Decimal(100)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def monthly_contribution(
    declared_income: int, programmes: tuple[str, ...] | list[str], rates: RateTable
) -> Contribution:
    """JKK on the income (floored at the minimum income), JKM flat, JHT when chosen."""
    basis = max(declared_income, rates.minimum_income)
    jht = _percent(basis, rates.jht_rate_percent) if "JHT" in programmes else 0
    return Contribution(
        jkk=_percent(basis, rates.jkk_rate_percent), jkm=rates.jkm_flat, jht=jht, income_basis=basis
    )
