"""What the notifier's dead letters may be replayed to, and how each is validated."""

from __future__ import annotations

from schemas.envelope import decode_event
from schemas.topics import (
    CAMPAIGNS,
    DEADLETTER_REPLAYS,
    NOTIFIER_DEADLETTER,
    NOTIFIER_WORK,
    PARTICIPANTS,
)
from services.common.deadletter_cli import DeadLetterConfig
from services.common.kafka_settings import KafkaSettings
from services.notifier.settings import Settings
from services.notifier.work import decode_work


def deadletter_config(
    settings: Settings | None = None, kafka: KafkaSettings | None = None
) -> DeadLetterConfig:
    """Input events go back as events, work records as work records. A message out of retries
    is a queue entry, not a work record: replay refuses it (say so, rather than re-send it in
    a form the notifier would reject again)."""
    settings = settings or Settings()
    events = {settings.topic(PARTICIPANTS.name), settings.topic(CAMPAIGNS.name)}
    work = settings.topic(NOTIFIER_WORK.name)

    def validate(topic: str, value: bytes) -> object:
        if topic == work:
            return decode_work(value)
        if topic in events:
            return decode_event(value)
        raise ValueError(f"{topic} is not a topic the notifier reads")

    return DeadLetterConfig(
        kafka or KafkaSettings(),
        settings.topic(NOTIFIER_DEADLETTER.name),
        settings.topic(DEADLETTER_REPLAYS.name),
        validate,
    )
