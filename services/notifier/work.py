"""Records on the notifier's own topic (`bebas.notifier.work`), co-partitioned with
`bebas.participants`: every change that does not start as an input event — a dispatch round's
outcomes, reminders falling due, a broadcast's fan-out, an inbound STOP (which becomes a
request to enrollment), a delivery receipt, a new owner's barrier, a replayed dead letter of a
message out of retries — travels as one of these
to the partition of the participants it concerns, so that only the worker owning that
partition changes their state, inside stream iteration.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from schemas.events import CampaignBroadcastRequestedV1


class _Work(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Outcome(_Work):
    """What one dispatch attempt of one message came to."""

    participant_id: str
    key: str
    result: Literal["sent", "failed", "dead", "suppressed", "retry", "deferred"]
    state: dict[str, Any] = Field(default_factory=dict)
    #: for retry / deferred: the entry as it must wait in the queue (new attempt, not_before);
    #: for a failure with a fallback: the entry that failed
    entry: dict[str, Any] | None = None
    #: failed, but this channel can still reach the person (WhatsApp "not on WhatsApp" ->
    #: "sms"): the message goes out there once, under that channel's key
    fallback: str | None = None


class Outcomes(_Work):
    type: Literal["outcomes"] = "outcomes"
    round: str
    items: list[Outcome]


class Wake(_Work):
    """These participants' reminders fell due: look at their schedule and queue what is due."""

    type: Literal["wake"] = "wake"
    round: str
    participant_ids: list[str]
    #: wake-up index entries (instant, participant id) their records no longer have
    stale: list[tuple[str, str]] = Field(default_factory=list)


class Broadcast(_Work):
    """One partition's share of a broadcast, from the participant id after `after` on."""

    type: Literal["broadcast"] = "broadcast"
    request: CampaignBroadcastRequestedV1
    after: str = ""


class Stop(_Work):
    """An SMS reply asking to stop, from a number: the partition holding it asks enrollment
    to opt the number's participant out of SMS (`participant.opt_out_requested`)."""

    type: Literal["stop"] = "stop"
    phone: str
    word: str
    #: when the reply arrived (ISO 8601); with the participant it fixes the request's id, so
    #: a work record applied twice asks once. None in records written before it existed.
    at: str | None = None


class Receipt(_Work):
    type: Literal["receipt"] = "receipt"
    reference: str
    message_id: str | None = None
    status: Literal["delivered", "failed", "undelivered"]
    at: str
    #: why it failed, in the provider's words (None: the status says it all)
    reason: str | None = None
    #: a failure that another channel can make good (see Outcome.fallback)
    fallback: str | None = None


class Requeue(_Work):
    """An operator replayed the dead letter of a message that ran out of retries: queue it
    again from its first attempt if it is still marked dead (never if it was sent since)."""

    type: Literal["requeue"] = "requeue"
    participant_id: str
    key: str
    #: the queue entry as the dead letter holds it (key, participant_id, kind, channel, ...)
    entry: dict[str, Any]
    deadletter_id: str

    @classmethod
    def of(cls, entry: dict[str, Any], deadletter_id: str) -> Requeue:
        """The record for a dead letter's queue entry; ValueError if the entry is not one."""
        return cls(
            participant_id=str(entry.get("participant_id", "")),
            key=str(entry.get("key", "")),
            entry=entry,
            deadletter_id=deadletter_id,
        )

    @model_validator(mode="after")
    def _entry_is_the_message(self) -> Requeue:
        missing = sorted(ENTRY_FIELDS - self.entry.keys())
        if missing:
            raise ValueError(f"the queue entry lacks {', '.join(missing)}")
        if (self.entry["key"], self.entry["participant_id"]) != (self.key, self.participant_id):
            raise ValueError("the queue entry is another participant's or message's")
        return self


#: what a queue entry needs to be sent again (services/notifier/service.py `_queue`)
ENTRY_FIELDS = frozenset({"key", "participant_id", "kind", "channel", "params"})


class Barrier(_Work):
    """Written by a worker when it is given a partition; once its own barrier comes back, every
    record written before it (say, the old owner's last outcomes) has been applied."""

    type: Literal["barrier"] = "barrier"
    token: str


WorkRecord = Annotated[
    Outcomes | Wake | Broadcast | Stop | Receipt | Requeue | Barrier, Field(discriminator="type")
]
_ADAPTER: TypeAdapter[WorkRecord] = TypeAdapter(WorkRecord)


def decode_work(value: bytes) -> WorkRecord:
    """The record, or ValueError (pydantic's ValidationError is one) for the dead letter."""
    return _ADAPTER.validate_json(value)


def encode_work(record: WorkRecord) -> bytes:
    return record.model_dump_json().encode()
