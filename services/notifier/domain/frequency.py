"""The frequency cap: at most so many non-transactional messages per person per rolling day and
rolling week.

Counted are *notifications* (kind + scope), not channel sends: one campaign that reached a
person on two channels is one message. Transactional kinds (the welcome, the JHT claim notice)
neither count nor wait. What counts is read from the participant's own record (the `sent`
states and their `at`), so the partition owner's record is the whole truth: nothing to share
between workers, nothing lost by a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.vocab import MessageKind
from services.notifier.domain.keys import NotificationKey

DAY = timedelta(days=1)
WEEK = timedelta(days=7)

#: kinds that count and are capped: what nudges (reminders, the reactivation notice, which
#: asks for money like a reminder) and what announces (campaigns). The welcome confirms what
#: the person just did and the JHT claim notice tells, once in a life, of money that is theirs
#: to claim: transactional, never held back.
CAPPED_KINDS = frozenset(
    k.value
    for k in (
        MessageKind.REMINDER_D7,
        MessageKind.REMINDER_D1,
        MessageKind.REMINDER_OVERDUE,
        MessageKind.REACTIVATION,
        MessageKind.CAMPAIGN,
    )
)
#: over the cap these are dropped (a campaign is news of its day); the others wait
DROPPED_KINDS = frozenset({MessageKind.CAMPAIGN.value})
#: the reason recorded and published for a message held back or dropped by the cap
REASON = "frequency_cap"


@dataclass(frozen=True)
class FrequencyCap:
    """`per_day` in any 24 hours and `per_week` in any 7 days; 0 leaves that window open."""

    per_day: int = 0
    per_week: int = 0

    def __post_init__(self) -> None:
        if self.per_day < 0 or self.per_week < 0:
            raise ValueError("a frequency cap is 0 (none) or more")

    @property
    def active(self) -> bool:
        return bool(self.per_day or self.per_week)

    def opens_at(self, sent: Iterable[datetime], now: datetime) -> datetime | None:
        """None when one more message may go at `now` after the messages sent at `sent` (any
        order; instants after `now` count as now), else the first instant it may."""
        instants = sorted(min(at, now) for at in sent)
        opens = [
            _window_opens(instants, limit, length, now)
            for limit, length in ((self.per_day, DAY), (self.per_week, WEEK))
            if limit
        ]
        later = [at for at in opens if at is not None]
        return max(later) if later else None


def _window_opens(
    instants: Sequence[datetime], limit: int, length: timedelta, now: datetime
) -> datetime | None:
    """When the window (start, end] of `length` ending then holds fewer than `limit` of the
    sorted `instants` (None: at `now` already). Each leaves it `length` after it was sent."""
    inside = [at for at in instants if at > now - length]
    if len(inside) < limit:
        return None
    return inside[len(inside) - limit] + length


def notification_of(key: str) -> str:
    """A message key without its channel: the notification it is one channel's copy of."""
    parsed = NotificationKey.parse(key)
    return f"{parsed.participant_id}|{parsed.kind}|{parsed.scope}"


def sent_recently(sent: Mapping[str, Mapping[str, Any]], now: datetime) -> dict[str, datetime]:
    """Capped notifications sent in the last week: notification -> its first send (a record's
    `sent` states: only `sent` counts; a failure, a suppression or a retry reached nobody)."""
    since = now - WEEK
    first: dict[str, datetime] = {}
    for key, state in sent.items():
        if state.get("state") != "sent" or not state.get("at"):
            continue
        if NotificationKey.parse(key).kind not in CAPPED_KINDS:
            continue
        at = datetime.fromisoformat(state["at"])
        if at > since:
            notification = notification_of(key)
            first[notification] = min(at, first.get(notification, at))
    return first


@dataclass(frozen=True)
class Verdict:
    """What the cap says of one due message: `send` it, `wait` for the next look (other
    messages planned now may fill the window; the record will say), or held by the cap until
    `opens_at` (deferred, or dropped when its kind is in DROPPED_KINDS)."""

    entry: Mapping[str, Any]
    send: bool
    opens_at: datetime | None = None

    @property
    def wait(self) -> bool:
        return not self.send and self.opens_at is None

    @property
    def dropped(self) -> bool:
        return self.opens_at is not None and self.entry["kind"] in DROPPED_KINDS


def judge(
    cap: FrequencyCap,
    sent: Mapping[str, Mapping[str, Any]],
    due: Sequence[Mapping[str, Any]],
    now: datetime,
) -> list[Verdict]:
    """The cap's verdict on each of one person's messages due `now`, in the order given.

    Messages go in priority order: transactional ones, then those that would wait (reminders:
    late beats never), then those that would be dropped, each oldest first. A message is held
    back (deferred or dropped) only by what the record says was sent; one that would exceed
    the cap only with the messages planned in this same look *waits* instead, queued as it is,
    until their outcomes are recorded (a planned message may still fail, and a drop is final).
    A second channel of a notification already sent or planned goes with it, uncounted.
    """
    if not cap.active:
        return [Verdict(entry, send=True) for entry in due]
    recent = sent_recently(sent, now)
    settled = list(recent.values())
    planned: set[str] = set()
    verdicts: dict[int, Verdict] = {}
    for index in sorted(range(len(due)), key=lambda i: _priority(due[i])):
        entry = due[index]
        notification = notification_of(entry["key"])
        if entry["kind"] not in CAPPED_KINDS or notification in recent or notification in planned:
            verdicts[index] = Verdict(entry, send=True)
            continue
        opens = cap.opens_at(settled, now)
        if opens is not None:
            verdicts[index] = Verdict(entry, send=False, opens_at=opens)
        elif cap.opens_at(settled + [now] * len(planned), now) is not None:
            verdicts[index] = Verdict(entry, send=False)
        else:
            planned.add(notification)
            verdicts[index] = Verdict(entry, send=True)
    return [verdicts[index] for index in range(len(due))]


def _priority(entry: Mapping[str, Any]) -> tuple[int, str, str]:
    kind = entry["kind"]
    rank = 0 if kind not in CAPPED_KINDS else 2 if kind in DROPPED_KINDS else 1
    return rank, str(entry["not_before"]), str(entry["key"])
