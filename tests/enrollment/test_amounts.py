"""Rupiah amounts as written on Indonesian forms: every accepted and every rejected form."""

from __future__ import annotations

import re

import pytest

from services.enrollment.domain.amounts import AmbiguousAmount, parse_rupiah

ACCEPTED: list[tuple[str, int]] = [
    ("1500000", 1_500_000),
    ("1.500.000", 1_500_000),
    ("Rp1.500.000", 1_500_000),
    ("Rp 1.500.000", 1_500_000),
    ("Rp 1.500.000,00", 1_500_000),
    ("rp1.500.000,00", 1_500_000),
    ("Rp. 1.500.000", 1_500_000),
    ("IDR 1.500.000", 1_500_000),
    ("Rp1.500.000,-", 1_500_000),
    ("1500000.00", 1_500_000),
    ("1500000,00", 1_500_000),
    ("1500000.0", 1_500_000),
    ("1,500,000", 1_500_000),
    ("1,500,000.00", 1_500_000),
    ("1 500 000", 1_500_000),
    ("1\u00a0500\u00a0000", 1_500_000),
    ("  1.500.000  ", 1_500_000),
    ("Rp16.800", 16_800),  # a receipt: after "Rp" a dot only ever groups thousands
    ("Rp1.000", 1_000),
    ("16800", 16_800),
    ("0", 0),
    ("1.000.000.000", 1_000_000_000),
]

AMBIGUOUS: list[tuple[str, str]] = [
    ("1.500", "'1.500' is ambiguous: 1500 rupiah or 1,5 rupiah"),
    ("1,500", "'1,500' is ambiguous: 1500 rupiah or 1,5 rupiah"),
    ("Rp1,500", "'Rp1,500' is ambiguous: 1500 rupiah or 1,5 rupiah"),
    ("16.800", "'16.800' is ambiguous: 16800 rupiah or 16,8 rupiah"),
    ("1.000", "'1.000' is ambiguous: 1000 rupiah or 1 rupiah"),
]

REJECTED: list[tuple[str, str]] = [
    ("", "'' is not an amount in rupiah (write e.g. 1500000, 1.500.000 or Rp1.500.000)"),
    ("Rp", "'Rp' is not an amount in rupiah"),
    ("banyak", "'banyak' is not an amount in rupiah"),
    ("-16800", "'-16800' is negative; an amount in rupiah is 0 or more"),
    ("-1.500.000", "'-1.500.000' is negative"),
    ("1.5", "'1.5' has 50 sen; amounts are whole rupiah (write Rp1)"),
    ("1.500.000,50", "'1.500.000,50' has 50 sen; amounts are whole rupiah (write Rp1.500.000)"),
    ("1500000.05", "'1500000.05' has 05 sen"),
    ("1.50.000", "'1.50.000' is not an amount in rupiah"),
    ("1.500,000", "'1.500,000' is not an amount in rupiah"),
    ("15.000.00", "'15.000.00' is not an amount in rupiah"),
    ("1.5000", "'1.5000' is not an amount in rupiah"),
    ("1.", "'1.' is not an amount in rupiah"),
    (",50", "',50' is not an amount in rupiah"),
    ("1e6", "'1e6' is not an amount in rupiah"),
    ("\u00b2", "'\u00b2' is not an amount in rupiah"),  # str.isdigit() says yes to '²'
    ("\u0661\u0662", "'\u0661\u0662' is not an amount in rupiah"),
]


@pytest.mark.parametrize(("written", "rupiah"), ACCEPTED)
def test_accepted_forms(written: str, rupiah: int) -> None:
    assert parse_rupiah(written) == rupiah


@pytest.mark.parametrize(("written", "message"), AMBIGUOUS)
def test_ambiguous_forms_are_rejected_showing_both_readings(written: str, message: str) -> None:
    with pytest.raises(AmbiguousAmount, match=f"^{re.escape(message)}"):
        parse_rupiah(written)


@pytest.mark.parametrize(("written", "message"), REJECTED)
def test_rejected_forms_say_why(written: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}") as caught:
        parse_rupiah(written)
    assert not isinstance(caught.value, AmbiguousAmount)
