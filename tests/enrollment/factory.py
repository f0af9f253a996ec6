"""Deterministic valid test data: NIKs and phone numbers that pass every rule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7))


def nik_for(n: int, female: bool = False, province: str = "33") -> str:
    """A valid NIK unique per n (serial and birth date vary with n)."""
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    year = 60 + (n // 336) % 40
    serial = 1 + n % 9999
    regency = 1 + (n // 9999) % 99
    return (
        f"{province}{regency:02d}01{day + (40 if female else 0):02d}{month:02d}{year:02d}"
        f"{serial:04d}"
    )


def phone_for(n: int) -> str:
    return f"0812{n:08d}"


def shuffled(items: list[int], seed: int = 7) -> list[int]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy


def payable_period(months_ahead: int = 1) -> str:
    """A period someone registered today (by the system clock) can pay: by default next
    month, whose due day is always ahead, so it costs today's monthly amount whatever the
    date the test runs on."""
    today = datetime.now(UTC).astimezone(WIB)
    index = today.year * 12 + today.month - 1 + months_ahead
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
