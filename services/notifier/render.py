"""Render-then-send: a pure function from (kind, channel, person, params) to a message object.

Templates live in `templates/<channel>/<kind>.<language>.<ext>`; Jinja2 runs sandboxed with
StrictUndefined (a missing variable is an error, never an empty hole in a text) and escapes
HTML e-mail only.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from schemas.vocab import MessageKind
from services.common.clock import Clock, SystemClock
from services.notifier.domain import unsubscribe, whatsapp
from services.notifier.domain.greeting import greeting, honorific
from services.notifier.domain.links import on_domain
from services.notifier.domain.model import (
    CONSENT_KINDS,
    EmailMessage,
    Message,
    SmsMessage,
    WhatsAppMessage,
)
from services.notifier.domain.payment_channels import all_channels, sms_channels
from services.notifier.domain.record import amount_due
from services.notifier.domain.schedule import due_date

TEMPLATE_DIR = Path(__file__).parent / "templates"
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
KINDS = tuple(k.value for k in MessageKind)
PROGRAMME_NAMES = {
    "id": {
        "JKK": "Jaminan Kecelakaan Kerja (JKK)",
        "JKM": "Jaminan Kematian (JKM)",
        "JHT": "Jaminan Hari Tua (JHT)",
    },
    "en": {
        "JKK": "Work-accident cover (JKK)",
        "JKM": "Death cover (JKM)",
        "JHT": "Old-age savings (JHT)",
    },
}
#: how to stop, at the end of every SMS that is not transactional (domain/replies.py's
#: STOP_WORDS understand both)
STOP_LINES = {"id": "Balas BERHENTI", "en": "Reply STOP"}
#: longest call name an SMS greets with: every SMS template is measured with a name this long
#: (and a domain of links.SMS_DOMAIN_MAX) and must stay one GSM-7 segment
SMS_NAME_MAX = 10
#: what a campaign message says when its broadcast gave no `message` of its own
CAMPAIGN_MESSAGE = {
    "id": "Kerja Keras Bebas Cemas: lindungi diri dan keluarga, bayar iuran tiap bulan.",
    "en": "Kerja Keras Bebas Cemas: protect yourself and your family, pay every month.",
}
MONTHS = {
    "id": ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}


@dataclass(frozen=True)
class Unsubscribe:
    """Where an e-mail's one-click unsubscribe link points, and how its token is signed."""

    #: the notifier's `/unsubscribe`, as the public reaches it (on the official domain)
    url: str
    secret: bytes = field(repr=False)
    valid_for: timedelta = timedelta(days=60)
    #: a mailbox that really acts on "unsubscribe" mails; the platform has none of its own
    mailto: str | None = None


@dataclass(frozen=True)
class Content:
    """Settings-driven facts every message may mention."""

    sms_sender: str = "BEBASCEMAS"
    email_from: str = "Bebas Cemas <no-reply@bebas-cemas.example>"
    pay_url: str = "https://bebas-cemas.example/bayar"
    #: the agency's own domain; without it no message links anywhere, since a link to an
    #: unknown site is the mark of the scam SMS that imitate the agency
    official_domain: str | None = None
    contact: str = "175"
    due_day: int = 15
    jht_age: int = 56
    #: None: e-mail carries no unsubscribe link nor List-Unsubscribe (it says to call instead)
    unsubscribe: Unsubscribe | None = None
    #: (kind, language) -> the WhatsApp template name registered with Meta
    whatsapp_templates: dict[tuple[str, str], str] = field(
        default_factory=lambda: whatsapp.template_names("")
    )


def rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


def ascii_fold(text: str) -> str:
    """Latin letters without accents, so an SMS stays in the cheap GSM-7 alphabet."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded or text


class Renderer:
    def __init__(
        self, content: Content, template_dir: Path = TEMPLATE_DIR, clock: Clock | None = None
    ) -> None:
        self.content = content
        self.clock = clock or SystemClock()  # dates the unsubscribe links' expiry
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(template_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=False,
            # templates change with a release, not while a worker runs: jinja would otherwise
            # stat the file on every render (py-spy: a quarter of rendering in a burst)
            auto_reload=False,
        )

    def context(self, kind: str, person: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        language = _language(person)
        programmes = list(person.get("programmes", []))
        period = params.get("period")
        title = honorific(person.get("sex"), language)
        ctx: dict[str, Any] = {
            "language": language,
            "kind": kind,
            "full_name": person["full_name"],
            "addressee": f"{title} {person['full_name']}" if title else person["full_name"],
            "greeting": greeting(
                ascii_fold(person["full_name"]), person.get("sex"), language, SMS_NAME_MAX
            ),
            "participant_number": person.get("participant_number"),
            "sms_channels": sms_channels(language),
            "payment_channels": all_channels(language),
            "payment_list": ", ".join(all_channels(language)),
            "official_domain": self.content.official_domain,
            "programme_names": [PROGRAMME_NAMES[language].get(p, p) for p in programmes],
            "programmes_text": ", ".join(programmes) if programmes else "-",
            "amount": rupiah(int(person.get("monthly_contribution", 0))),
            "due_day": self.content.due_day,
            "pay_url": self.official_pay_url(),
            "contact": self.content.contact,
            "jht_age": self.content.jht_age,
            "params": dict(params.get("campaign_params", {})),
            "campaign_message": dict(params.get("campaign_params", {})).get("message")
            or CAMPAIGN_MESSAGE[language],
            "unsubscribe_link": self.unsubscribe_link(person["participant_id"]),
            "unsubscribe_label": "Berhenti berlangganan" if language == "id" else "Unsubscribe",
        }
        if period:
            # a partially paid period asks for what it still owes, and says so
            ctx["amount"] = rupiah(amount_due(person, period))
            ctx["partial"] = period in person.get("partial_owed", {})
            due = due_date(period, self.content.due_day)
            ctx["period_label"] = _period_label(period, language)
            ctx["period_month"] = _period_label(period, language).split()[0]
            ctx["due_date"] = _date_label(due, language)
            ctx["due_day_month"] = _day_month_label(due, language)
        if "unpaid_periods" in params:
            ctx.update(_owed(params["unpaid_periods"], int(params["amount_owed"]), language))
        return ctx

    def official_pay_url(self) -> str | None:
        domain = self.content.official_domain
        return self.content.pay_url if domain and on_domain(self.content.pay_url, domain) else None

    def unsubscribe_link(self, participant_id: str) -> str | None:
        config = self.content.unsubscribe
        if config is None:
            return None
        expires = self.clock.now() + config.valid_for
        token = unsubscribe.sign(config.secret, participant_id, "email", expires)
        return unsubscribe.link(config.url, token)

    def render(
        self,
        *,
        key: str,
        kind: str,
        channel: str,
        person: dict[str, Any],
        params: dict[str, Any],
    ) -> Message:
        ctx = self.context(kind, person, params)
        language = ctx["language"]
        if channel == "sms":
            text = self.env.get_template(f"sms/{kind}.{language}.txt").render(ctx)
            if kind in CONSENT_KINDS:
                text = f"{text} {STOP_LINES[language]}"
            return SmsMessage(
                key=key,
                to=person["phone_e164"],
                text=" ".join(text.split()),
                sender=self.content.sms_sender,
            )
        if channel == "email":
            template = self.env.get_template(f"email/{kind}.{language}.html")
            blocks = template.new_context(ctx)
            subject = "".join(template.blocks["subject"](blocks)).strip()
            text = "".join(template.blocks["text"](template.new_context(ctx))).strip() + "\n"
            html = template.render(ctx)
            headers = {"X-Bebas-Notification-Key": key, **self._list_unsubscribe(ctx, key)}
            return EmailMessage(
                key=key,
                to=person["email"],
                sender=self.content.email_from,
                subject=" ".join(subject.split()),
                text=text,
                html=html,
                headers=headers,
            )
        if channel == "whatsapp":
            return WhatsAppMessage(
                key=key,
                to=person["phone_e164"],
                template=self.content.whatsapp_templates[(kind, language)],
                language=whatsapp.LANGUAGE_CODES[language],
                parameters=whatsapp.body_parameters(kind, ctx),
            )
        raise ValueError(f"no renderer for channel {channel!r}")

    def _list_unsubscribe(self, ctx: dict[str, Any], key: str) -> dict[str, str]:
        """RFC 8058 one-click: the mail provider POSTs `List-Unsubscribe=One-Click` to the
        https URL (RFC 2369 header), so the link's token alone identifies person and channel."""
        url, config = ctx["unsubscribe_link"], self.content.unsubscribe
        if url is None or config is None:
            return {}
        targets = [f"<{url}>"]
        if config.mailto:
            targets.append(f"<mailto:{config.mailto}?subject=unsubscribe%20{key}>")
        return {
            "List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }


def _language(person: dict[str, Any]) -> str:
    language = person.get("language") or DEFAULT_LANGUAGE
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def _period_label(period: str, language: str) -> str:
    year, month = period.split("-")
    return f"{MONTHS[language][int(month) - 1]} {year}"


def _owed(unpaid: list[str], amount: int, language: str) -> dict[str, Any]:
    """What the reactivation message says is owed (the amount is fixed when the lapse is)."""
    return {
        "unpaid_count": len(unpaid),
        "unpaid_from": _period_label(unpaid[0], language),
        "unpaid_to": _period_label(unpaid[-1], language),
        "amount_owed": rupiah(amount),
    }


def _date_label(day: date, language: str) -> str:
    return f"{_day_month_label(day, language)} {day.year}"


def _day_month_label(day: date, language: str) -> str:
    """`15 Mar`: what an SMS needs of a due date a few days away."""
    return f"{day.day} {MONTHS[language][day.month - 1]}"
