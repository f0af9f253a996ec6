"""What the dead-letter endpoints accept: the list's query filters and the replay's body,
both turned into the `Selection` the CLI uses too (services/common/deadletters.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.common.deadletters import Selection

#: the services whose dead letters reporting lists and replays
DeadLetterService = Literal["reporting", "notifier", "enrollment"]
ServiceFilter = Annotated[
    DeadLetterService | None, Query(description="one service's letters (default: every one)")
]

FROM_HELP = "failed at or after (ISO 8601 with its UTC offset, e.g. 2026-12-04T08:00:00+07:00)"
TO_HELP = "failed before (ISO 8601 with its UTC offset)"


def dead_letter_filter(
    topic: Annotated[str | None, Query(max_length=249, description="the source topic")] = None,
    reason: Annotated[
        str | None, Query(max_length=200, description="a substring of the reason")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from", description=FROM_HELP)] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to", description=TO_HELP)] = None,
) -> Selection:
    return Selection(topic or None, reason or None, since, until)


class ReplayRequest(BaseModel):
    """Which dead letters to replay: any of ids, topic, reason and time range (all must
    match); at least one, so that an empty body never replays everything."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    service: DeadLetterService | None = Field(
        default=None, description="only this service's letters (default: every service's)"
    )
    ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=1000, description="dead letter ids"
    )
    topic: str | None = Field(default=None, max_length=249, description="the source topic")
    reason: str | None = Field(default=None, max_length=200)
    since: AwareDatetime | None = Field(default=None, alias="from", description=FROM_HELP)
    until: AwareDatetime | None = Field(default=None, alias="to", description=TO_HELP)

    def selection(self) -> Selection:
        return Selection(
            self.topic or None, self.reason or None, self.since, self.until, frozenset(self.ids)
        )
