"""WhatsApp Business Cloud API, the parts that are rules rather than I/O (standard library only).

Business-initiated WhatsApp messages must be *templates* Meta approved beforehand: we send a
template's registered name, its language and the values of its body placeholders `{{1}}`,
`{{2}}`, …; the approved text itself lives at Meta (our copy, for the local sink and the
tests, is `templates/whatsapp/<kind>.<language>.txt`). This module says

- which context values fill each message kind's placeholders, in order (`BODY_PARAMETERS`);
- the registered template name of each kind and language (`template_names`,
  NOTIFIER_WHATSAPP_TEMPLATES over the defaults `bebas_<kind>`);
- which Cloud API errors are worth retrying and which are not (`classify`), and which one
  means "this number is not on WhatsApp" (the message falls back to SMS once);
- whether a webhook call really comes from Meta (`signature_refusal`: `X-Hub-Signature-256`,
  HMAC-SHA256 of the raw body under the app secret) and the subscription handshake
  (`handshake`);
- what a status webhook says (`statuses`).

Our notification key rides in each request as `biz_opaque_callback_data`, which the Cloud
API hands back in every status webhook of that message: a status finds its notification
without any lookup table.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.vocab import MessageKind
from services.notifier.domain.routing import kind_table

SIGNATURE_HEADER = "X-Hub-Signature-256"
SCHEME = "sha256="
#: the Cloud API's language codes of our two message languages
LANGUAGE_CODES = {"id": "id", "en": "en"}
_REMINDER = ("addressee", "amount", "period_label", "due_date", "payment_list", "contact")
#: how to stop, the last value of every message that needs consent: the agency's contact line
_REMINDER = ("addressee", "amount", "period_label", "due_date", "payment_list", "contact")
#: the context values (`render.Renderer.context`) that fill `{{1}}`, `{{2}}`, … of each kind's
#: approved body, in order
BODY_PARAMETERS: dict[str, tuple[str, ...]] = {
    MessageKind.WELCOME.value: (
        "addressee",
        "participant_number",
        "programmes_text",
        "amount",
        "payment_list",
    ),
    MessageKind.REMINDER_D7.value: _REMINDER,
    MessageKind.REMINDER_D1.value: _REMINDER,
    MessageKind.REMINDER_OVERDUE.value: (
        "addressee",
        "period_label",
        "amount",
        "payment_list",
        "contact",
    ),
    MessageKind.REACTIVATION.value: (
        "addressee",
        "unpaid_count",
        "unpaid_from",
        "unpaid_to",
        "amount_owed",
        "payment_list",
        "contact",
    ),
    MessageKind.JHT_CLAIM.value: ("addressee", "jht_age", "contact"),
    MessageKind.CAMPAIGN.value: ("addressee", "campaign_message", "contact"),
}
#: the Cloud API refuses a body parameter longer than this
PARAMETER_MAX = 1024

#: the error code of "message undeliverable", which is what an unregistered number gets
NOT_ON_WHATSAPP = 131026
#: codes the Cloud API documents as worth trying again later: rate and pair limits, spam-rate
#: limits, its own service errors, and a business number that is temporarily not registered
TRANSIENT_CODES = frozenset(
    {1, 2, 4, 17, 80007, 130429, 131000, 131016, 131048, 131056, 133004, 133005}
)
#: the token expired or was revoked, or the app lost its permission: no message will pass
#: until operators fix the configuration, so messages wait in retries (and end as dead
#: letters an operator can replay), never dropped for good
CONFIGURATION_CODES = frozenset({0, 3, 10, 190, 200})


@dataclass(frozen=True)
class Verdict:
    transient: bool
    reason: str
    #: the recipient cannot get WhatsApp messages: send the message by SMS instead, once
    not_on_whatsapp: bool = False


def classify(status: int, body: Mapping[str, Any] | None) -> Verdict:
    """What an HTTP error answer of `POST /<phone-number-id>/messages` means for the message:
    `body` is the Cloud API's `{"error": {"code": …, "message": …, "error_data": …}}`."""
    error = (body or {}).get("error") or {}
    code = error.get("code") if isinstance(error, Mapping) else None
    reason = _reason(status, error if isinstance(error, Mapping) else {})
    if code == NOT_ON_WHATSAPP:
        return Verdict(False, reason, not_on_whatsapp=True)
    if code in TRANSIENT_CODES or code in CONFIGURATION_CODES:
        return Verdict(True, reason)
    if status == 429 or status >= 500 or status in (401, 403, 408):
        return Verdict(True, reason)
    return Verdict(False, reason)  # template missing or paused, bad parameter, bad number


def failed_status(errors: list[Mapping[str, Any]]) -> Verdict:
    """What a `failed` status webhook's `errors` mean: a failed status is final for that
    message (the Cloud API does not try again), "not on WhatsApp" or not."""
    first = errors[0] if errors else {}
    code = first.get("code")
    title = first.get("title") or first.get("message") or "failed"
    reason = f"whatsapp {code}: {title}" if code is not None else f"whatsapp: {title}"
    return Verdict(False, reason[:500], not_on_whatsapp=code == NOT_ON_WHATSAPP)


def _reason(status: int, error: Mapping[str, Any]) -> str:
    code, message = error.get("code"), error.get("message") or "no message"
    details = (error.get("error_data") or {}).get("details") if error else None
    text = f"whatsapp HTTP {status}, code {code}: {message}"
    return (f"{text} ({details})" if details else text)[:500]


def parameter_text(value: Any) -> str:
    """A body parameter as the Cloud API takes it: no new lines or tabs, no runs of more than
    four spaces (it refuses those: error 132018), never empty (a `-` stands for nothing)."""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value if value is not None else "").split())
    return (text or "-")[:PARAMETER_MAX]


def body_parameters(kind: str, context: Mapping[str, Any]) -> tuple[str, ...]:
    """The values of the kind's placeholders, in order; KeyError for a kind or value missing."""
    return tuple(parameter_text(context[name]) for name in BODY_PARAMETERS[kind])


def template_names(text: str) -> dict[tuple[str, str], str]:
    """(kind, language) -> registered template name: `bebas_<kind>` in every language, with
    NOTIFIER_WHATSAPP_TEMPLATES over it, a JSON object of kind -> name (the same name in both
    languages, as WhatsApp registers a template's translations) or kind -> {language: name}.
    ValueError naming the kind and what is wrong."""
    names = {(kind, lang): f"bebas_{kind}" for kind in BODY_PARAMETERS for lang in LANGUAGE_CODES}
    for kind, spec in kind_table(text, "template name").items():
        if kind not in BODY_PARAMETERS:
            raise ValueError(f"{kind}: not a message kind ({', '.join(sorted(BODY_PARAMETERS))})")
        by_language = spec if isinstance(spec, dict) else dict.fromkeys(LANGUAGE_CODES, spec)
        for lang, name in by_language.items():
            if lang not in LANGUAGE_CODES:
                raise ValueError(f"{kind}.{lang}: not a message language (id, en)")
            if not isinstance(name, str) or not _template_name(name):
                raise ValueError(
                    f"{kind}.{lang}: a template name is lower-case letters, digits and _, "
                    f"at most 512 characters, not {name!r}"
                )
            names[(kind, lang)] = name
    return names


def _template_name(name: str) -> bool:
    return 0 < len(name) <= 512 and all(c.islower() or c.isdigit() or c == "_" for c in name)


# --- webhooks ---------------------------------------------------------------------------------


def signature(app_secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends with a webhook whose raw body is `body`."""
    return SCHEME + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def signature_refusal(app_secret: bytes, body: bytes, header: str | None) -> str | None:
    """None when Meta signed this body with our app secret, else why the call is refused."""
    if not header:
        return f"missing {SIGNATURE_HEADER}"
    if not header.startswith(SCHEME):
        return f"{SIGNATURE_HEADER} must start with {SCHEME}"
    given = header.encode("utf-8", "replace")
    if not hmac.compare_digest(given, signature(app_secret, body).encode()):
        return f"{SIGNATURE_HEADER} does not match the body"
    return None


def handshake(query: Mapping[str, str], verify_token: str) -> str | None:
    """The subscription check (`GET` with hub.mode=subscribe, hub.verify_token and
    hub.challenge): the challenge to echo when the token is ours, else None (answer 403)."""
    given = query.get("hub.verify_token", "")
    if query.get("hub.mode") != "subscribe" or not given:
        return None
    if not hmac.compare_digest(given.encode("utf-8", "replace"), verify_token.encode()):
        return None
    return query.get("hub.challenge", "")


@dataclass(frozen=True)
class Status:
    """One message status of a webhook: `sent`, `delivered`, `read` or `failed`."""

    message_id: str
    status: str
    #: our notification key (`biz_opaque_callback_data`); None if the message was not ours
    reference: str | None
    timestamp: int | None
    errors: tuple[Mapping[str, Any], ...] = ()


def statuses(payload: Any) -> list[Status]:
    """Every message status in a webhook payload (`entry[].changes[].value.statuses[]`);
    ValueError when the payload is not a WhatsApp Business Account notification."""
    if not isinstance(payload, Mapping) or payload.get("object") != "whatsapp_business_account":
        raise ValueError("object: not a whatsapp_business_account notification")
    found: list[Status] = []
    for entry in _list(payload.get("entry"), "entry"):
        for change in _list(entry.get("changes"), "entry.changes"):
            value = change.get("value") if isinstance(change, Mapping) else None
            for item in _list((value or {}).get("statuses") or [], "value.statuses"):
                found.append(_status(item))
    return found


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ValueError(f"{field}: a list of objects")
    return value


def _status(item: Mapping[str, Any]) -> Status:
    message_id, status = item.get("id"), item.get("status")
    if not isinstance(message_id, str) or not isinstance(status, str):
        raise ValueError("value.statuses: each needs an id and a status")
    stamp = item.get("timestamp")
    reference = item.get("biz_opaque_callback_data")
    return Status(
        message_id=message_id,
        status=status,
        reference=reference if isinstance(reference, str) and reference else None,
        timestamp=int(stamp) if isinstance(stamp, str | int) and str(stamp).isdigit() else None,
        errors=tuple(e for e in item.get("errors") or [] if isinstance(e, Mapping)),
    )
