"""When contribution and JHT reminders fire, in the participant's local time (pure arithmetic)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

D7 = "contribution_due_d7"
D1 = "contribution_due_d1"
OVERDUE = "contribution_overdue"
JHT = "jht_claim"


@dataclass(frozen=True)
class ReminderPolicy:
    due_day: int = 15
    local_time: time = time(9, 0)
    #: (message kind, days relative to the due day)
    offsets: tuple[tuple[str, int], ...] = field(default=((D7, -7), (D1, -1), (OVERDUE, 3)))
    jht_age: int = 56
    #: a contribution reminder found later than this (service down) is skipped, not sent stale
    max_lateness: timedelta = timedelta(days=2)


@dataclass(frozen=True, order=True)
class Reminder:
    fire_at: datetime  # UTC
    kind: str
    period: str  # YYYY-MM, or "once" for the JHT reminder


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def due_date(period: str, due_day: int) -> date:
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, due_day)


def _local_instant(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def period_reminders(period: str, tz: str, policy: ReminderPolicy) -> list[Reminder]:
    due = due_date(period, policy.due_day)
    return [
        Reminder(_local_instant(due + timedelta(days=days), policy.local_time, tz), kind, period)
        for kind, days in policy.offsets
    ]


def _candidate_periods(around: datetime, tz: str) -> list[str]:
    local = around.astimezone(ZoneInfo(tz))
    months = (_shift_month(local.year, local.month, d) for d in range(-1, 3))
    return [f"{y:04d}-{m:02d}" for y, m in months]


def jht_reminder(
    birth_date: date, registered_at: datetime, tz: str, policy: ReminderPolicy
) -> Reminder:
    """The age-`jht_age` birthday at the reminder hour; at registration when already older."""
    year = birth_date.year + policy.jht_age
    try:
        birthday = birth_date.replace(year=year)
    except ValueError:  # born on 29 February, the birthday falls on 1 March that year
        birthday = date(year, 3, 1)
    fire_at = _local_instant(birthday, policy.local_time, tz)
    return Reminder(max(fire_at, registered_at.astimezone(UTC)), JHT, "once")


@dataclass(frozen=True)
class Subject:
    """What the schedule needs to know about one participant."""

    tz: str
    registered_at: datetime
    birth_date: date
    wants_reminders: bool
    wants_jht: bool
    paid_periods: Collection[str] = ()


def _all_reminders(subject: Subject, around: datetime, policy: ReminderPolicy) -> list[Reminder]:
    found: list[Reminder] = []
    if subject.wants_reminders:
        for period in _candidate_periods(around, subject.tz):
            if period not in subject.paid_periods:
                found.extend(period_reminders(period, subject.tz, policy))
    if subject.wants_jht:
        found.append(jht_reminder(subject.birth_date, subject.registered_at, subject.tz, policy))
    return [r for r in found if r.fire_at >= subject.registered_at.astimezone(UTC)]


def due_reminders(
    subject: Subject, after: datetime, now: datetime, policy: ReminderPolicy
) -> list[Reminder]:
    """Reminders that fell due in (after, now]. Contribution reminders older than
    `max_lateness` are skipped, and of one period only the latest is kept: a service that was
    down for days sends the overdue notice, not a stale D-7 as well."""
    stale_before = now - policy.max_lateness
    latest: dict[tuple[str, str], Reminder] = {}
    for reminder in sorted(_all_reminders(subject, now, policy)):
        if not after < reminder.fire_at <= now:
            continue
        if reminder.kind != JHT and reminder.fire_at < stale_before:
            continue
        latest[(reminder.period, reminder.kind if reminder.kind == JHT else "dues")] = reminder
    return sorted(latest.values())


def next_fire_at(subject: Subject, after: datetime, policy: ReminderPolicy) -> datetime | None:
    """The first reminder strictly after `after`, or None when nothing is scheduled."""
    upcoming = [r.fire_at for r in _all_reminders(subject, after, policy) if r.fire_at > after]
    if not upcoming and subject.wants_reminders:
        later = after + timedelta(days=31)
        upcoming = [r.fire_at for r in _all_reminders(subject, later, policy) if r.fire_at > after]
    return min(upcoming, default=None)
