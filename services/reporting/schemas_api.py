"""Response models of the HTTP API: what OpenAPI documents and every answer is checked against."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

Count = int


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class Statuses(_Model):
    sent: Count
    delivered: Count
    failed: Count
    deferred: Count = Field(description="held back, e.g. quiet hours at night local time")


class Enrolments(_Model):
    total: Count
    by_segment: dict[str, Count] = Field(description="occupation segment, e.g. pedagang, ojek")
    by_source: dict[str, Count] = Field(description="field, web or import")
    by_officer: dict[str, Count] = Field(description="officer id; '-' when none was recorded")


class Messages(Statuses):
    delivery_rate: float | None = Field(description="delivered ÷ sent; null when none sent")
    by_kind: dict[str, Statuses]
    by_channel: dict[str, Statuses]
    failures_by_reason: dict[str, Count]
    suppressed_by_reason: dict[str, Count] = Field(
        description="messages not sent, for good, by the notifier's reason (frequency_cap: "
        "a campaign message to someone who had as many messages as the cap allows); "
        "not among the statuses above"
    )
    sent_by_provider: dict[str, Count] = Field(
        description="messages sent, by the provider that took them (the notifier's name for "
        "it, e.g. one of several SMS gateways it fails over between)"
    )


class PeriodFigures(_Model):
    payments: Count
    amount: int = Field(description="rupiah")


_PAYMENTS_HELP = (
    "payments of a period: one per period a payment brought money to, partial or not "
    "(a payment of three months counts three; a month paid in two parts counts two)"
)


class Payments(_Model):
    payers: Count = Field(
        description="participants with at least one period paid in full (contribution.paid); "
        "a partial payment alone makes no payer"
    )
    payments: Count = Field(description=_PAYMENTS_HELP)
    amount: int = Field(description="rupiah collected, partial payments included")
    conversion_rate: float | None = Field(description="payers ÷ enrolments")
    by_period: dict[str, PeriodFigures] = Field(description="by contribution period YYYY-MM")


class OptOuts(_Model):
    total: Count
    by_channel: dict[str, Count]


class Lapses(_Model):
    lapsed: Count = Field(
        description="lapses: a participant's monthly reminders stopped after consecutive "
        "unpaid periods (participant.lapsed, the notifier's observation)"
    )
    reactivated: Count = Field(description="lapses a payment ended (participant.reactivated)")


class GroupFigures(Statuses):
    enrolments: Count
    payers: Count
    payments: Count
    amount: int
    opt_outs: Count
    delivery_rate: float | None
    conversion_rate: float | None


class Day(Statuses):
    date: str = Field(description="local day of the branch (WIB/WITA/WIT), YYYY-MM-DD")
    enrolments: Count
    payers: Count
    payments: Count
    amount: int
    opt_outs: Count


class DateRangeOut(_Model):
    from_: str | None = Field(alias="from")
    to: str | None


class CampaignRef(_Model):
    code: str = Field(description="campaign code; '-' for events without a campaign")
    name: str | None


class BranchRef(_Model):
    code: str


class _Report(_Model):
    range: DateRangeOut
    enrolments: Enrolments
    messages: Messages
    payments: Payments
    opt_outs: OptOuts
    lapses: Lapses
    series: list[Day] = Field(description="one entry per local day, gaps filled with zeros")


class CampaignMetrics(_Report):
    campaign: CampaignRef
    by_branch: dict[str, GroupFigures]


class BranchMetrics(_Report):
    branch: BranchRef
    by_campaign: dict[str, GroupFigures]


class OverviewTotals(Statuses):
    enrolments: Count
    delivery_rate: float | None
    payers: Count
    payments: Count
    amount: int
    conversion_rate: float | None
    opt_outs: Count


class OverviewCampaign(GroupFigures):
    code: str
    name: str | None


class Overview(_Model):
    range: DateRangeOut
    totals: OverviewTotals
    campaigns: list[OverviewCampaign]


class TopicTotals(_Model):
    processed: Count = Field(description="records read (counted, duplicate or dead-lettered)")
    counted: Count
    duplicates: Count
    dead_letters: Count
    errors: Count


class PartitionLagOut(_Model):
    group: str
    topic: str
    partition: int
    committed: int
    end: int
    lag: int


class LagOut(_Model):
    by_group: dict[str, int] = Field(description="sum of lag over the group's partitions")
    partitions: list[PartitionLagOut]
    taken_at: float | None = Field(description="unix time of the last successful read")
    error: str | None


class StreamHealth(_Model):
    workers: list[str]
    unreachable_workers: dict[str, str]
    missing_partitions: dict[str, list[int]]
    events_per_second: float = Field(description="all workers, over the last 10 s")
    topics: dict[str, TopicTotals] = Field(description="since each worker started")
    dead_letters: Count
    first_batch_at: float | None
    last_batch_at: float | None
    lag: LagOut
