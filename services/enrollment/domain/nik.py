"""The Indonesian NIK: 2 province, 2 regency, 2 district, DDMMYY (day + 40 for women), 4 serial."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.enrollment.domain.reference import Province

FEMALE_DAY_OFFSET = 40


@dataclass(frozen=True)
class NikFacts:
    nik: str
    province: Province
    birth_date: date
    sex: str  # "F" or "M", as schemas.vocab.Sex


class NikError(ValueError):
    """The NIK is unusable; the message says why in words an officer understands."""


def clean_nik(raw: str) -> str:
    """Officers type NIKs with spaces or dots; only the digits count."""
    return raw.replace(" ", "").replace(".", "").replace("-", "").strip()


def parse_nik(raw: str, provinces: dict[str, Province], today: date) -> NikFacts:
    nik = clean_nik(raw)
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        raise NikError(f"must be exactly 16 digits (got {len(nik)} characters)")
    province = provinces.get(nik[:2])
    if province is None:
        raise NikError(f"starts with {nik[:2]}, which is not an Indonesian province code")
    if nik[2:4] == "00" or nik[4:6] == "00":
        raise NikError("regency and district codes (digits 3–6) cannot be 00")
    if nik[12:] == "0000":
        raise NikError("the serial number (last 4 digits) cannot be 0000")
    day, month, short_year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "M"
    if day > FEMALE_DAY_OFFSET:
        day -= FEMALE_DAY_OFFSET
        sex = "F"
    birth_date = _birth_date(day, month, short_year, today)
    return NikFacts(nik=nik, province=province, birth_date=birth_date, sex=sex)


def _birth_date(day: int, month: int, short_year: int, today: date) -> date:
    # Two-digit years: a year not after this year's is this century, otherwise the last one.
    century = 2000 if short_year <= today.year % 100 else 1900
    try:
        born = date(century + short_year, month, day)
    except ValueError:
        raise NikError(
            f"digits 7–12 ({day:02d}-{month:02d}-{short_year:02d}) are not a valid birth date "
            "(for women the day has 40 added)"
        ) from None
    if born > today:
        raise NikError("the birth date in the NIK is in the future")
    return born


def age_on(birth_date: date, today: date) -> int:
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years
