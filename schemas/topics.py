"""The topic catalogue: every Kafka topic of the platform, in one place.

The embedded broker, the deploy provisioning job, the AsyncAPI document and the services all
read this table, so a topic is renamed or resized here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    retention_ms: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    events: tuple[str, ...] = ()
    compact: bool = False
    description: str = ""
    config: dict[str, str] = field(default_factory=dict)

    def topic_config(self) -> dict[str, str]:
        """Broker-side settings (as Kafka names them) this topic is created with."""
        conf = {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": "compact" if self.compact else "delete",
        }
        conf.update(self.config)
        return conf

    def named(self, name: str) -> Topic:
        """This topic under another name (a namespace prefix, a setting, a test's topic)."""
        return replace(self, name=name)


PARTICIPANTS = Topic(
    name="bebas.participants",
    partitions=6,
    key="participant_id",
    retention_ms=90 * DAY_MS,
    producers=("enrollment",),
    consumers=("notifier", "reporting"),
    events=(
        "participant.registered",
        "participant.updated",
        "participant.opted_out",
        "contribution.paid",
        "contribution.partially_paid",
    ),
    description="Everything that happens to a participant, in order per participant.",
)

CAMPAIGNS = Topic(
    name="bebas.campaigns",
    partitions=3,
    key="campaign_code",
    retention_ms=365 * DAY_MS,
    producers=("enrollment",),
    consumers=("notifier", "reporting"),
    events=("campaign.created", "campaign.broadcast_requested"),
    description="Campaigns and the broadcasts requested for them.",
)

NOTIFICATIONS = Topic(
    name="bebas.notifications",
    partitions=6,
    key="participant_id",
    retention_ms=90 * DAY_MS,
    producers=("notifier",),
    consumers=("reporting",),
    events=(
        "notification.sent",
        "notification.failed",
        "notification.deferred",
        "notification.delivered",
        "notification.suppressed",
        "participant.lapsed",
        "participant.reactivated",
    ),
    description="What happened to every message: sent, deferred, failed, delivered, "
    "suppressed (not sent, for good: over the frequency cap); and what "
    "the notifier observed of a participant's payments: lapsed (monthly reminders stopped), "
    "reactivated by a payment.",
)

NOTIFIER_WORK = Topic(
    name="bebas.notifier.work",
    partitions=PARTICIPANTS.partitions,  # co-partitioned: the same worker owns both
    key="participant_id (or none: explicit partition)",
    retention_ms=7 * DAY_MS,
    producers=("notifier",),
    consumers=("notifier",),
    description="The notifier's own work, in the partition of the participants it concerns: "
    "dispatch outcomes and retries, reminders due, broadcast fan-out, STOP replies, delivery "
    "receipts, rebalance barriers.",
)

NOTIFIER_DEADLETTER = Topic(
    name="bebas.notifier.deadletter",
    partitions=1,
    key="source topic",
    retention_ms=30 * DAY_MS,
    producers=("notifier",),
    consumers=(),
    description="Input the notifier could not decode, and messages out of retries, with why.",
)

REPORTING_DEADLETTER = Topic(
    name="bebas.reporting.deadletter",
    partitions=1,
    key="source topic",
    retention_ms=30 * DAY_MS,
    producers=("reporting",),
    consumers=(),
    description="Input the reporting service could not decode, with why.",
)

ENROLLMENT_REQUESTS = Topic(
    name="bebas.enrollment.requests",
    partitions=3,  # a few requests a minute at the busiest; 3 leaves room for standby readers
    key="participant_id",
    # long enough to outlast an enrollment outage: a request waits here until it is applied
    retention_ms=14 * DAY_MS,
    producers=("notifier",),
    consumers=("enrollment",),
    events=("participant.opt_out_requested",),
    description="What people asked of their record through the notifier's doors (an SMS "
    "STOP reply, an e-mail's one-click unsubscribe); enrollment applies each request once and "
    "publishes the outcome on bebas.participants.",
)

ENROLLMENT_DEADLETTER = Topic(
    name="bebas.enrollment.deadletter",
    partitions=1,
    key="source topic",
    retention_ms=30 * DAY_MS,
    producers=("enrollment",),
    consumers=(),
    description="Requests enrollment could not apply (undecodable, not a request, unknown "
    "participant), with why.",
)

DEADLETTER_REPLAYS = Topic(
    name="bebas.deadletters.replayed",
    partitions=1,
    key="dead-letter id",
    retention_ms=365 * DAY_MS,
    producers=("notifier", "reporting"),
    consumers=("notifier", "reporting"),
    compact=True,
    description="The replay ledger: one record per dead letter put back on its source topic, "
    "written once the replayed record was acknowledged; replay skips the ids it holds.",
)

CATALOGUE: tuple[Topic, ...] = (
    PARTICIPANTS,
    CAMPAIGNS,
    NOTIFICATIONS,
    NOTIFIER_WORK,
    NOTIFIER_DEADLETTER,
    REPORTING_DEADLETTER,
    ENROLLMENT_REQUESTS,
    ENROLLMENT_DEADLETTER,
    DEADLETTER_REPLAYS,
)


def topic_named(name: str) -> Topic:
    for topic in CATALOGUE:
        if topic.name == name:
            return topic
    raise KeyError(name)


def topic_for_event(event_type: str) -> Topic:
    for topic in CATALOGUE:
        if event_type in topic.events:
            return topic
    raise KeyError(f"no topic carries {event_type!r}")
