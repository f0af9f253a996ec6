"""The use case "a person asked to stop": `participant.opt_out_requested` from the notifier's
doors (an SMS STOP reply, an e-mail's one-click unsubscribe link), applied by enrollment, the
only writer of participant state.

The door already checked who asked (the SMS provider's signature on the reply and the number's
owner; the link's signed token), so no API key or branch is involved: the audit trail names the
door (`person:sms-reply`, `person:email-link`, role `participant`) and the request id. A
request is applied once per id (the envelope's id, kept with the idempotency records in the
transaction that applies it); what it changes is published as `participant.opted_out`, as an
officer's opt-out is, so the notifier and reporting learn it from bebas.participants.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from schemas.envelope import CloudEvent, DecodeError, decode_event
from schemas.events import EventData, ParticipantOptOutRequestedV1
from services.enrollment.adapters.requests import Handler, Refused
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import Conflict, NotFound
from services.enrollment.handlers import Enrollment, Idempotency

#: who the audit trail says made the change, per door (never an API key: no key has this role)
PEOPLE = {
    "sms_reply": Principal(key_id="person:sms-reply", role="participant"),
    "email_link": Principal(key_id="person:email-link", role="participant"),
}


class RequestRefused(Refused):
    """A request that can never be applied (it goes to the dead-letter topic with why)."""


@dataclass(frozen=True)
class Outcome:
    result: Literal["applied", "unchanged", "duplicate"]
    channels: tuple[str, ...]  # the channels this request opted out (empty unless applied)


def apply_request(enrollment: Enrollment, event: CloudEvent[EventData]) -> Outcome:
    """Apply one request; RequestRefused for one that is not a request or names nobody.
    Anything else raised (database down) is transient: the caller tries the request again."""
    data = event.data
    if not isinstance(data, ParticipantOptOutRequestedV1):
        raise RequestRefused(f"type: {event.type} is not a request enrollment acts on")
    fingerprint = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
    reason = f"{data.via}:{data.keyword}" if data.keyword else data.via
    try:
        view = enrollment.apply_opt_out_request(
            data.participant_id,
            [channel.value for channel in data.channels],
            reason,
            PEOPLE[data.via],
            # 200: what an HTTP retry would see; never served, as no API key is a person
            Idempotency(str(event.id), fingerprint, 200),
        )
    except NotFound as exc:
        raise RequestRefused(f"participant_id: {exc}") from exc
    except Conflict as exc:  # the same id with another request in it
        raise RequestRefused(f"id: {exc}") from exc
    if view.get("replayed"):
        return Outcome("duplicate", ())
    changed = tuple(view["changed"])
    return Outcome("applied" if changed else "unchanged", changed)


def record_handler(enrollment: Enrollment) -> Handler:
    """What the request reader calls with each record's bytes."""

    def handle(raw: bytes) -> str:
        try:
            event = decode_event(raw)
        except DecodeError as exc:
            raise RequestRefused(str(exc)) from exc
        return apply_request(enrollment, event).result

    return handle
