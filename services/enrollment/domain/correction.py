"""Correcting a registered participant: validated like a registration, reported as a diff.

Only what an officer can get wrong at a field desk and fix later is correctable; the NIK, and
so birth date and sex, identify the person and are never changed here (a wrong NIK is a new
registration). The result names every stored field whose value actually changes, with its old
and new value: that diff is what the audit trail keeps and what `participant.updated` carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.enrollment.domain.contributions import monthly_contribution
from services.enrollment.domain.errors import InvalidInput
from services.enrollment.domain.model import (
    Collector,
    ContactRules,
    check_branch,
    check_channel,
    check_income,
    check_language,
    check_programmes,
)
from services.enrollment.domain.reference import Branch, ReferenceData

#: The request's field names, in the order problems and documentation list them.
CORRECTABLE = (
    "phone",
    "email",
    "declared_income",
    "programmes",
    "branch_code",
    "preferred_channel",
    "language",
    "consent_reminders",
    "consent_whatsapp",
)


@dataclass(frozen=True)
class CurrentState:
    """The stored values a correction may change (column names, as stored)."""

    phone_e164: str
    email: str | None
    declared_income: int
    programmes: tuple[str, ...]
    branch_code: str
    preferred_channel: str
    language: str
    consent_reminders: bool
    monthly_contribution: int
    consent_whatsapp: bool = False

    def values(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CorrectionInput:
    """What the officer sent: `given` names the fields present (`email: None` removes it)."""

    given: frozenset[str]
    phone: str | None = None
    email: str | None = None
    declared_income: int | None = None
    programmes: list[str] | None = None
    branch_code: str | None = None
    preferred_channel: str | None = None
    language: str | None = None
    consent_reminders: bool | None = None
    consent_whatsapp: bool | None = None


@dataclass(frozen=True)
class Correction:
    branch: Branch
    #: stored column -> (old value, new value), only for values that differ
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def new_values(self) -> dict[str, Any]:
        return {name: new for name, (_, new) in self.changes.items()}


def validate_correction(
    current: CurrentState, raw: CorrectionInput, ref: ReferenceData, contacts: ContactRules
) -> Correction:
    out = Collector()
    if not raw.given & set(CORRECTABLE):
        out.add("body", f"names nothing to change; give one or more of {', '.join(CORRECTABLE)}")
    for name in CORRECTABLE:
        if name in raw.given and name != "email" and getattr(raw, name) is None:
            out.add(name, "cannot be empty; leave it out to keep the current value")
    new = current.values()
    if raw.phone is not None:
        new["phone_e164"] = out.check("phone", lambda: contacts.phone(raw.phone or ""))
    if "email" in raw.given:
        # An empty or null e-mail removes it: people give a relative's address and regret it.
        new["email"] = (
            out.check("email", lambda: contacts.email(raw.email or "")) if raw.email else None
        )
    if raw.declared_income is not None:
        check_income(raw.declared_income, ref.rates, out)
        new["declared_income"] = raw.declared_income
    if raw.programmes is not None:
        new["programmes"] = check_programmes(raw.programmes, out)
    branch = ref.branches.get(current.branch_code)
    if raw.branch_code is not None:
        branch = check_branch(raw.branch_code, ref, out)
        new["branch_code"] = raw.branch_code
    if raw.preferred_channel is not None:
        new["preferred_channel"] = raw.preferred_channel
    if {"preferred_channel", "email"} & raw.given:
        check_channel(new["preferred_channel"], bool(new["email"]), out)
    if raw.language is not None:
        check_language(raw.language, out)
        new["language"] = raw.language
    for consent in ("consent_reminders", "consent_whatsapp"):
        if getattr(raw, consent) is not None:
            new[consent] = getattr(raw, consent)
    if branch is None and raw.branch_code is None:
        # Branches are data: one can be closed while people are still registered there.
        out.add("branch_code", f"{current.branch_code} is no longer a branch; give the new one")
    if out.problems or branch is None:
        raise InvalidInput(out.problems)
    contribution = monthly_contribution(new["declared_income"], new["programmes"], ref.rates)
    new["monthly_contribution"] = contribution.total
    old = current.values()
    return Correction(
        branch=branch, changes={k: (old[k], v) for k, v in new.items() if v != old[k]}
    )
