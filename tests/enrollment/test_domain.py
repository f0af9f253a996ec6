"""Unit tests of the pure domain: NIK, contribution, reference data, registration rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.enrollment.domain.contributions import monthly_contribution
from services.enrollment.domain.errors import InvalidInput
from services.enrollment.domain.model import RegistrationInput, validate_registration
from services.enrollment.domain.nik import NikError, age_on, parse_nik
from services.enrollment.domain.reference import load_reference

REF = load_reference()
TODAY = date(2026, 11, 29)
PROVINCES = sorted(REF.provinces)


def test_reference_tables_are_complete() -> None:
    assert len(REF.provinces) == 38
    zones = {p.zone for p in REF.provinces.values()}
    assert zones == {"WIB", "WITA", "WIT"}
    assert REF.provinces["33"].timezone == "Asia/Jakarta"
    assert REF.provinces["51"].timezone == "Asia/Makassar"
    assert REF.provinces["91"].timezone == "Asia/Jayapura"
    assert REF.branches["SURAKARTA"].province.name == "Jawa Tengah"
    assert set(REF.segments) == {"trader", "ojek", "farmer", "fisher", "labourer", "other"}


@st.composite
def valid_niks(draw: st.DrawFn) -> tuple[str, date, str, str]:
    province = draw(st.sampled_from(PROVINCES))
    regency = draw(st.integers(1, 99))
    district = draw(st.integers(1, 99))
    born = draw(st.dates(min_value=date(1927, 1, 1), max_value=TODAY))
    female = draw(st.booleans())
    serial = draw(st.integers(1, 9999))
    day = born.day + (40 if female else 0)
    nik = (
        f"{province}{regency:02d}{district:02d}{day:02d}{born.month:02d}{born.year % 100:02d}"
        f"{serial:04d}"
    )
    return nik, born, "F" if female else "M", province


@given(valid_niks())
def test_every_valid_nik_gives_back_its_birth_date_sex_and_province(
    case: tuple[str, date, str, str],
) -> None:
    nik, born, sex, province = case
    facts = parse_nik(nik, REF.provinces, TODAY)
    assert facts.sex == sex
    assert facts.province.code == province
    # Two-digit years are ambiguous across a century: the parser picks the most recent past one.
    assert facts.birth_date.year % 100 == born.year % 100
    assert (facts.birth_date.month, facts.birth_date.day) == (born.month, born.day)
    assert facts.birth_date <= TODAY
    assert TODAY.year - facts.birth_date.year <= 100


@given(st.text(alphabet="0123456789", min_size=0, max_size=30).filter(lambda s: len(s) != 16))
def test_a_nik_that_is_not_16_digits_is_rejected(raw: str) -> None:
    with pytest.raises(NikError, match="16 digits"):
        parse_nik(raw, REF.provinces, TODAY)


@given(st.integers(0, 99).filter(lambda c: f"{c:02d}" not in REF.provinces), valid_niks())
def test_a_nik_with_an_unknown_province_is_rejected(
    code: int, case: tuple[str, date, str, str]
) -> None:
    with pytest.raises(NikError, match="not an Indonesian province code"):
        parse_nik(f"{code:02d}{case[0][2:]}", REF.provinces, TODAY)


@pytest.mark.parametrize(
    ("nik", "reason"),
    [
        ("3372013102900001", "not a valid birth date"),  # 31 February
        ("3372017202900001", "not a valid birth date"),  # woman, day 32
        ("3372010013900001", "not a valid birth date"),  # month 13
        ("3300011508900001", "cannot be 00"),
        ("3372011508900000", "cannot be 0000"),
        ("33720115089a0001", "16 digits"),
        ("3372011512260001", "in the future"),  # 15 Dec 2026, after TODAY
    ],
)
def test_bad_niks_say_why(nik: str, reason: str) -> None:
    with pytest.raises(NikError, match=reason):
        parse_nik(nik, REF.provinces, TODAY)


def test_spaces_and_dots_in_a_typed_nik_are_ignored() -> None:
    facts = parse_nik("3372.0155 0885-0001", REF.provinces, TODAY)
    assert facts.nik == "3372015508850001"
    assert facts.birth_date == date(1985, 8, 15)
    assert facts.sex == "F"


def test_age_counts_completed_years() -> None:
    assert age_on(date(1970, 11, 30), TODAY) == 55
    assert age_on(date(1970, 11, 29), TODAY) == 56


@pytest.mark.parametrize(
    ("income", "programmes", "jkk", "jht", "total"),
    [
        (0, ["JKK", "JKM"], 10_000, 0, 16_800),  # the advertised "from Rp16,800"
        (800_000, ["JKK", "JKM"], 10_000, 0, 16_800),  # floored at the minimum income
        (1_000_000, ["JKK", "JKM"], 10_000, 0, 16_800),
        (1_500_000, ["JKK", "JKM"], 15_000, 0, 21_800),
        (1_500_000, ["JKK", "JKM", "JHT"], 15_000, 30_000, 51_800),
        (2_345_678, ["JKK", "JKM", "JHT"], 23_457, 46_914, 77_171),  # rounded half up
    ],
)
def test_monthly_contribution(
    income: int, programmes: list[str], jkk: int, jht: int, total: int
) -> None:
    result = monthly_contribution(income, programmes, REF.rates)
    assert (result.jkk, result.jkm, result.jht, result.total) == (jkk, 6_800, jht, total)


def test_contribution_follows_the_rate_table_not_literals() -> None:
    from dataclasses import replace
    from decimal import Decimal

    rates = replace(REF.rates, jkm_flat=7_000, jkk_rate_percent=Decimal("0.5"))
    assert monthly_contribution(2_000_000, ["JKK", "JKM"], rates).total == 17_000


class FakeContacts:
    """A fake of the ContactRules port (the real one is tested in test_contacts)."""

    def phone(self, raw: str) -> str:
        if not raw.startswith("08"):
            raise ValueError("not a mobile")
        return "+62" + raw[1:]

    def email(self, raw: str) -> str:
        if "@" not in raw:
            raise ValueError("not an e-mail")
        return raw.lower()


def _input(**overrides: object) -> RegistrationInput:
    fields: dict[str, object] = {
        "full_name": "  Budi   Santoso ",
        "nik": "3372010101900002",
        "phone": "081234567890",
        "segment": "ojek",
        "branch_code": "SURAKARTA",
        "declared_income": 2_000_000,
    }
    fields.update(overrides)
    return RegistrationInput(**fields)  # type: ignore[arg-type]


def test_a_valid_registration_is_normalised_and_priced() -> None:
    reg = validate_registration(_input(), REF, FakeContacts(), TODAY)
    assert reg.full_name == "Budi Santoso"
    assert reg.phone_e164 == "+6281234567890"
    assert reg.branch.timezone == "Asia/Jakarta"
    assert reg.age == 36
    assert reg.contribution.total == 26_800


def test_every_problem_is_reported_at_once_with_its_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_registration(
            _input(
                full_name=" ",
                nik="1",
                phone="021",
                segment="pilot",
                branch_code="NOWHERE",
                programmes=["JHT"],
                declared_income=-5,
                preferred_channel="email",
                language="fr",
                source="fax",
            ),
            REF,
            FakeContacts(),
            TODAY,
        )
    fields = [p.field for p in caught.value.problems]
    assert fields == [
        "full_name",
        "nik",
        "phone",
        "segment",
        "branch_code",
        "programmes",
        "declared_income",
        "email",
        "language",
        "source",
    ]


def test_a_child_cannot_be_registered() -> None:
    born = TODAY - timedelta(days=365 * 10)
    nik = f"337201{born.day:02d}{born.month:02d}{born.year % 100:02d}0001"
    with pytest.raises(InvalidInput, match="at least 15"):
        validate_registration(_input(nik=nik), REF, FakeContacts(), TODAY)
