"""A broadcast checked before it is accepted: characters, encoding, segments, reach and cost.

The notifier renders a campaign SMS as its template around `params.message` (the template's
own words, the agency, greeting and participant number before it and " Balas BERHENTI" after
it, are GSM-7 and take `template_chars`). Without a `message` the template's default text goes
out, which the notifier keeps to one segment.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas.vocab import MessageKind
from services.common.gsm import GSM7_REPLACEMENTS, LIMITS, Encoding, measure
from services.enrollment.domain.errors import FieldProblem

#: Message kinds a participant gets without having consented to reminders and campaigns.
TRANSACTIONAL_KINDS = frozenset({MessageKind.WELCOME.value})
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cn", "Cs"})  # controls, format, private, unassigned


@dataclass(frozen=True)
class BroadcastRules:
    max_segments: int = 2
    price_per_segment: int = 350
    template_chars: int = 25


@dataclass(frozen=True)
class SmsPlan:
    encoding: Encoding
    #: characters of params.message (0 when the template's default text is used)
    characters: int
    segments: int
    max_segments: int
    non_gsm_characters: tuple[str, ...] = ()
    uses_template_default: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "encoding": self.encoding,
            "characters": self.characters,
            "segments": self.segments,
            "max_segments": self.max_segments,
            "non_gsm_characters": list(self.non_gsm_characters),
            "uses_template_default": self.uses_template_default,
        }


@dataclass(frozen=True)
class AudienceGroup:
    """Participants of a broadcast's audience who share everything that decides their channel."""

    preferred_channel: str
    has_email: bool
    opted_out: frozenset[str]
    consent: bool
    count: int


@dataclass(frozen=True)
class Reach:
    matching: int = 0
    sms: int = 0
    email: int = 0
    not_reached: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def check_text(
    params: Mapping[str, str], rules: BroadcastRules
) -> tuple[SmsPlan, list[FieldProblem]]:
    """The SMS plan of a broadcast and every problem with its text, each naming its param."""
    problems = [
        FieldProblem(f"params.{name}", _unsendable_message(ch))
        for name, value in params.items()
        for ch in _unsendable(value)
    ]
    subject = params.get("subject")
    if subject is not None and ("\n" in subject or "\r" in subject):
        problems.append(
            FieldProblem("params.subject", "must be one line: it becomes the e-mail subject")
        )
    message = params.get("message")
    if message is None:
        return SmsPlan("GSM-7", 0, 1, rules.max_segments, uses_template_default=True), problems
    # The template's words are GSM-7: spaces stand in for them in either encoding.
    length = measure(message + " " * rules.template_chars)
    plan = SmsPlan(
        length.encoding, len(message), length.segments, rules.max_segments, length.non_gsm
    )
    if length.segments > rules.max_segments:
        problems.append(FieldProblem("params.message", _too_long(plan, length.units, rules)))
    return plan, problems


def _unsendable(value: str) -> list[str]:
    bad = (
        ch
        for ch in value
        if ch != "\n" and (unicodedata.category(ch) in _INVISIBLE or ord(ch) > 0xFFFF)
    )
    return list(dict.fromkeys(bad))


def _unsendable_message(ch: str) -> str:
    name = unicodedata.name(ch, f"U+{ord(ch):04X}")
    if ord(ch) > 0xFFFF:
        return f"contains {ch} ({name}), which basic phones cannot show; remove it"
    return f"contains an invisible character (U+{ord(ch):04X} {name}); remove it"


def _too_long(plan: SmsPlan, units: int, rules: BroadcastRules) -> str:
    single, multi = LIMITS[plan.encoding]
    room = (
        single if rules.max_segments == 1 else multi * rules.max_segments
    ) - rules.template_chars
    text = (
        f"needs {plan.segments} SMS segments per person ({units} {plan.encoding} units with the "
        f"{rules.template_chars} the template adds); at most {rules.max_segments} allowed: "
        f"shorten it to {room} characters"
    )
    if plan.non_gsm_characters:
        swaps = [
            f"{ch} with {GSM7_REPLACEMENTS[ch]}"
            for ch in plan.non_gsm_characters
            if ch in GSM7_REPLACEMENTS
        ]
        text += (
            f"; {' '.join(plan.non_gsm_characters)} are not in the GSM-7 alphabet and make every "
            f"SMS UCS-2 ({single} characters per SMS instead of 160)"
        )
        if swaps:
            text += f": replace {', '.join(swaps)}"
    return text


def channel_for(group: AudienceGroup) -> str | None:
    """The one channel a broadcast reaches these people on, as the notifier chooses it.

    The preferred channel when usable, else the other one the person has and did not opt out
    of; None when none is left. WhatsApp counts as SMS: whether a person who opted in to it
    gets WhatsApp depends on the notifier having an account and on the number being on
    WhatsApp, which enrollment cannot know, so the SMS cost is an upper bound.
    """
    available = ["sms"] + (["email"] if group.has_email else [])
    allowed = [c for c in available if c not in group.opted_out]
    preferred = "email" if group.preferred_channel == "email" else "sms"
    allowed.sort(key=lambda channel: channel != preferred)
    return allowed[0] if allowed else None


def reach(groups: Iterable[AudienceGroup], message_kind: str) -> Reach:
    needs_consent = message_kind not in TRANSACTIONAL_KINDS
    counts = {"sms": 0, "email": 0, None: 0}
    matching = 0
    for group in groups:
        matching += group.count
        channel = channel_for(group) if group.consent or not needs_consent else None
        counts[channel] += group.count
    return Reach(matching, counts["sms"], counts["email"], counts[None])


def estimated_cost(reached: Reach, plan: SmsPlan, rules: BroadcastRules) -> dict[str, object]:
    segments = reached.sms * plan.segments
    return {
        "currency": "IDR",
        "price_per_segment": rules.price_per_segment,
        "sms_segments": segments,
        "total": segments * rules.price_per_segment,
    }
