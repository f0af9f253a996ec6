"""Request bodies of the HTTP API (responses are the handlers' views)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from schemas.vocab import MessageKind
from services.enrollment.domain.amounts import parse_rupiah
from services.enrollment.domain.errors import FieldProblem, InvalidInput


def _rupiah(value: object) -> object:
    # Numbers pass through to pydantic's int check; text is read the way Indonesians write it.
    return parse_rupiah(value) if isinstance(value, str) else value


_RUPIAH_FORMS: list[dict[str, object]] = [
    {"type": "integer", "minimum": 0},
    {"type": "string", "examples": ["1.500.000", "Rp 1.500.000,00", "1500000.00"]},
]
_RUPIAH_HELP = "whole rupiah; ambiguous text such as '1.500' is rejected"

#: Whole rupiah: a JSON number, or text such as "1.500.000", "Rp 1.500.000,00", "1500000.00".
Rupiah = Annotated[
    int,
    BeforeValidator(_rupiah),
    WithJsonSchema({"anyOf": _RUPIAH_FORMS, "description": _RUPIAH_HELP}),
]
#: The same, for a field that may be left out (None passes through to the union).
OptionalRupiah = Annotated[
    int | None,
    BeforeValidator(_rupiah),
    WithJsonSchema({"anyOf": [*_RUPIAH_FORMS, {"type": "null"}], "description": _RUPIAH_HELP}),
]

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ParticipantIn(Strict):
    full_name: str = Field(examples=["Sri Wahyuni"])
    nik: str = Field(
        description="16-digit NIK; shown back only masked", examples=["3372015508850001"]
    )
    phone: str = Field(description="Indonesian mobile number", examples=["0812-3456-7890"])
    email: str | None = None
    segment: str = Field(description="trader, ojek, farmer, fisher, labourer or other")
    branch_code: str = Field(examples=["SURAKARTA"])
    campaign_code: str | None = Field(default=None, examples=["KKBC-PASAR-KLEWER"])
    programmes: list[str] = Field(default=["JKK", "JKM"], description="JKK and JKM, plus JHT")
    declared_income: Rupiah = Field(ge=0, description="declared monthly income in rupiah")
    preferred_channel: Literal["sms", "email", "whatsapp"] = "sms"
    language: Literal["id", "en"] = "id"
    consent_reminders: bool
    consent_whatsapp: bool = Field(
        default=False,
        description="the person's opt-in to messages on WhatsApp (its rules ask for one per "
        "channel; consent_reminders is not one)",
    )
    source: Literal["field", "web", "import"] = "field"
    community: str | None = Field(default=None, max_length=200)


class ParticipantPatch(Strict):
    """A correction: only the fields given change; `"email": null` removes the address."""

    phone: str | None = Field(default=None, examples=["0857-1234-5678"])
    email: str | None = None
    declared_income: OptionalRupiah = None
    programmes: list[str] | None = Field(default=None, description="JKK and JKM, plus JHT")
    branch_code: str | None = Field(default=None, description="admins only, for a move")
    preferred_channel: Literal["sms", "email", "whatsapp"] | None = None
    language: Literal["id", "en"] | None = None
    consent_reminders: bool | None = None
    consent_whatsapp: bool | None = None


class ContributionIn(Strict):
    """A payment of one or more periods; `amount` must be what they still owe (less is kept
    as a partial payment, more is refused). `period` is the older one-period form."""

    periods: list[Period] | None = Field(
        default=None, min_length=1, max_length=24, examples=[["2026-11", "2026-12"]]
    )
    period: Period | None = Field(default=None, description="one period; prefer `periods`")
    amount: Rupiah = Field(description="rupiah paid")
    paid_at: AwareDatetime

    def named_periods(self) -> list[str]:
        if (self.periods is None) == (self.period is None):
            message = "give `periods` (one or more YYYY-MM), or the older `period`, not both"
            raise InvalidInput([FieldProblem("periods", message)])
        return list(self.periods) if self.periods is not None else [str(self.period)]


class OptOutIn(Strict):
    channels: list[Literal["sms", "email", "whatsapp", "all"]] = Field(min_length=1)
    reason: str = Field(default="request", max_length=200)


class CampaignIn(Strict):
    code: Code = Field(examples=["KKBC-PASAR-KLEWER"])
    name: str = Field(min_length=1, max_length=200)
    branch_codes: list[str] = Field(default_factory=list, description="empty: every branch")
    starts_on: date
    ends_on: date | None = None


class AudienceIn(Strict):
    branch_codes: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)


class BroadcastIn(Strict):
    message_kind: str = MessageKind.CAMPAIGN.value
    audience: AudienceIn = Field(default_factory=AudienceIn)
    params: dict[str, str] = Field(
        default_factory=dict,
        description="`message`: the SMS/e-mail text (checked: characters, encoding, segments); "
        "`subject`: the e-mail subject",
    )
    dry_run: bool = Field(
        default=False,
        description="check and answer audience size, segments and estimated cost; send nothing",
    )
