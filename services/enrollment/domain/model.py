"""What the service records: the validated registration of one worker, and its inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, TypeVar

from services.enrollment.domain.contributions import (
    ALL_PROGRAMMES,
    MANDATORY,
    Contribution,
    monthly_contribution,
)
from services.enrollment.domain.errors import FieldProblem, InvalidInput
from services.enrollment.domain.nik import NikFacts, age_on, parse_nik
from services.enrollment.domain.reference import Branch, RateTable, ReferenceData

CHANNELS = ("sms", "email", "whatsapp")
LANGUAGES = ("id", "en")
SOURCES = ("field", "web", "import")

T = TypeVar("T")


class ContactRules(Protocol):
    """Port for phone and e-mail normalisation (libraries live outside the domain)."""

    def phone(self, raw: str) -> str:
        """E.164 of an Indonesian mobile number, or ValueError saying what is wrong."""
        ...

    def email(self, raw: str) -> str:
        """Normalised address, or ValueError saying what is wrong."""
        ...


@dataclass
class RegistrationInput:
    """A registration as typed by an officer or read from a sign-up sheet (not yet checked)."""

    full_name: str
    nik: str
    phone: str
    segment: str
    branch_code: str
    declared_income: int
    email: str | None = None
    campaign_code: str | None = None
    programmes: list[str] = field(default_factory=lambda: list(MANDATORY))
    preferred_channel: str = "sms"
    language: str = "id"
    consent_reminders: bool = True
    #: WhatsApp's own opt-in (its rules ask for one per channel); off unless the person says so
    consent_whatsapp: bool = False
    source: str = "field"
    community: str | None = None


@dataclass(frozen=True)
class Registration:
    full_name: str
    nik: NikFacts
    age: int
    phone_e164: str
    email: str | None
    segment: str
    branch: Branch
    campaign_code: str | None
    programmes: tuple[str, ...]
    declared_income: int
    contribution: Contribution
    preferred_channel: str
    language: str
    consent_reminders: bool
    source: str
    community: str | None
    consent_whatsapp: bool = False


class Collector:
    """Gathers every field problem of one request, so an officer fixes a form in one go."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def add(self, field_name: str, message: str) -> None:
        self.problems.append(FieldProblem(field_name, message))

    def check(self, field_name: str, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except ValueError as exc:
            self.add(field_name, str(exc))
            return None


def validate_registration(
    raw: RegistrationInput, ref: ReferenceData, contacts: ContactRules, today: date
) -> Registration:
    """Check every field and report all problems at once (officers fix a form in one go)."""
    out = Collector()
    name = " ".join(raw.full_name.split())
    if not name:
        out.add("full_name", "is required")
    elif len(name) > 200:
        out.add("full_name", "is longer than 200 characters")
    nik = out.check("nik", lambda: parse_nik(raw.nik, ref.provinces, today))
    age = age_on(nik.birth_date, today) if nik else 0
    if nik and age < ref.rates.minimum_age:
        out.add(
            "nik", f"gives an age of {age}; participants must be at least {ref.rates.minimum_age}"
        )
    phone = out.check("phone", lambda: contacts.phone(raw.phone))
    email = out.check("email", lambda: contacts.email(raw.email or "")) if raw.email else None
    if raw.segment not in ref.segments:
        out.add("segment", f"unknown segment {raw.segment!r}; use one of {', '.join(ref.segments)}")
    branch = check_branch(raw.branch_code, ref, out)
    programmes = check_programmes(raw.programmes, out)
    rates = ref.rates
    check_income(raw.declared_income, rates, out)
    check_channel(raw.preferred_channel, bool(raw.email), out)
    check_language(raw.language, out)
    if raw.source not in SOURCES:
        out.add("source", f"must be one of {', '.join(SOURCES)}")
    if out.problems:
        raise InvalidInput(out.problems)
    assert nik is not None
    assert phone is not None
    assert branch is not None
    return Registration(
        full_name=name,
        nik=nik,
        age=age,
        phone_e164=phone,
        email=email,
        segment=raw.segment,
        branch=branch,
        campaign_code=raw.campaign_code or None,
        programmes=programmes,
        declared_income=raw.declared_income,
        contribution=monthly_contribution(raw.declared_income, programmes, rates),
        preferred_channel=raw.preferred_channel,
        language=raw.language,
        consent_reminders=raw.consent_reminders,
        source=raw.source,
        community=raw.community or None,
        consent_whatsapp=raw.consent_whatsapp,
    )


def check_branch(code: str, ref: ReferenceData, out: Collector) -> Branch | None:
    branch = ref.branches.get(code)
    if branch is None:
        out.add("branch_code", f"unknown branch {code!r}")
    return branch


def check_income(income: int, rates: RateTable, out: Collector) -> None:
    if not 0 <= income <= rates.maximum_income:
        out.add("declared_income", f"must be between 0 and {rates.maximum_income:,} rupiah")


def check_channel(channel: str, has_email: bool, out: Collector) -> None:
    if channel not in CHANNELS:
        out.add("preferred_channel", f"must be one of {', '.join(CHANNELS)}")
    elif channel == "email" and not has_email:
        out.add("email", "is required when the preferred channel is email")


def check_language(language: str, out: Collector) -> None:
    if language not in LANGUAGES:
        out.add("language", f"must be one of {', '.join(LANGUAGES)}")


def check_programmes(chosen: list[str], out: Collector) -> tuple[str, ...]:
    unknown = [p for p in chosen if p not in ALL_PROGRAMMES]
    if unknown:
        out.add("programmes", f"unknown programme {unknown[0]!r}; use JKK, JKM and optionally JHT")
    missing = [p for p in MANDATORY if p not in chosen]
    if missing:
        out.add("programmes", f"{' and '.join(missing)} are mandatory for every participant")
    return tuple(p for p in ALL_PROGRAMMES if p in chosen)
