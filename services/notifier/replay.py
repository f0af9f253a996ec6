"""What the notifier's dead letters may be replayed to, and how each is validated."""

from __future__ import annotations

import json
from typing import Any

from schemas.envelope import decode_event
from schemas.topics import (
    CAMPAIGNS,
    DEADLETTER_REPLAYS,
    NOTIFIER_DEADLETTER,
    NOTIFIER_WORK,
    PARTICIPANTS,
)
from services.common.deadletter_cli import DeadLetterConfig
from services.common.deadletters import Outgoing, Stored, as_it_was
from services.common.kafka_settings import KafkaSettings
from services.notifier.settings import Settings
from services.notifier.work import Requeue, decode_work, encode_work


def deadletter_config(
    settings: Settings | None = None, kafka: KafkaSettings | None = None
) -> DeadLetterConfig:
    """The notifier's own: its topics from its settings."""
    settings = settings or Settings()
    return deadletter_config_for(
        kafka or KafkaSettings(),
        events={settings.topic(PARTICIPANTS.name), settings.topic(CAMPAIGNS.name)},
        work=settings.topic(NOTIFIER_WORK.name),
        deadletter=settings.topic(NOTIFIER_DEADLETTER.name),
        ledger=settings.topic(DEADLETTER_REPLAYS.name),
    )


def deadletter_config_for(
    kafka: KafkaSettings, *, events: set[str], work: str, deadletter: str, ledger: str
) -> DeadLetterConfig:
    """Input events go back as events, work records as work records. A message out of retries
    (its letter holds the queue entry) goes back as a `requeue` work record to its
    participant's partition: the owner queues it again if it is still marked dead. Built from
    topic names, so reporting's API can replay the notifier's letters too."""

    def validate(topic: str, value: bytes) -> object:
        if topic == work:
            return decode_work(value)
        if topic in events:
            return decode_event(value)
        raise ValueError(f"{topic} is not a topic the notifier reads")

    def restore(stored: Stored) -> Outgoing:
        entry = (
            _queue_entry(stored.letter.original()) if stored.letter.source_topic == work else None
        )
        if entry is None:
            return as_it_was(stored)
        requeue = Requeue.of(entry, stored.id)
        # keyed like every work record, by participant id; the letter's partition is theirs
        key = requeue.participant_id.encode()
        return Outgoing(work, stored.letter.partition, key, encode_work(requeue))

    return DeadLetterConfig(kafka, deadletter, ledger, validate, restore)


def _queue_entry(value: bytes) -> dict[str, Any] | None:
    """The queue entry a dispatcher's dead letter holds, or None for anything else (a work
    record the stream rejected has a `type`; an entry never has)."""
    try:
        body = json.loads(value)
    except ValueError:
        return None
    return body if isinstance(body, dict) and "type" not in body else None
