"""When contribution and JHT reminders fire, in the participant's local time (pure arithmetic).

Which reminders fit a person's history:
- contribution reminders only for *counted* periods: those whose due date (local) is not before
  the day the person registered, or, after a reactivation, the day they reactivated;
- after `lapse_after` consecutive unpaid counted periods since the latest paid one the person
  lapses: monthly reminders stop at the instant the next period's first reminder would have
  fired, and one reactivation message (kind `LAPSE`) goes instead, naming the unpaid periods;
- the JHT claim reminder only for someone who turns the claim age after registering and has
  paid JHT at least once (anyone older at enrolment has no JHT savings yet).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.vocab import MessageKind

# Plain strings (the enum's values): reminders are stored and keyed by them.
D7 = MessageKind.REMINDER_D7.value
D1 = MessageKind.REMINDER_D1.value
OVERDUE = MessageKind.REMINDER_OVERDUE.value
JHT = MessageKind.JHT_CLAIM.value
LAPSE = MessageKind.REACTIVATION.value
#: kinds sent once per occasion: never skipped as stale, never merged with a period's dues
_ONE_OFF = frozenset({JHT, LAPSE})


@dataclass(frozen=True)
class ReminderPolicy:
    due_day: int = 15
    local_time: time = time(9, 0)
    #: (message kind, days relative to the due day)
    offsets: tuple[tuple[str, int], ...] = field(default=((D7, -7), (D1, -1), (OVERDUE, 3)))
    jht_age: int = 56
    #: a contribution reminder found later than this (service down) is skipped, not sent stale
    max_lateness: timedelta = timedelta(days=2)
    #: consecutive unpaid periods after which monthly reminders stop (the person has lapsed)
    lapse_after: int = 3

    def __post_init__(self) -> None:
        if self.lapse_after < 1:
            raise ValueError("lapse_after must be at least 1")


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


def next_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return "{:04d}-{:02d}".format(*_shift_month(year, month, 1))


def due_date(period: str, due_day: int) -> date:
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, due_day)


def _local_instant(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


#: periods x zones x policies in use: a few hundred entries in a year of service
_CACHED = 4096


# Cached: every registration, payment and wake-up schedules its participant again, and these
# instants were a tenth of a worker's CPU during an intake burst (py-spy); they depend only
# on the arguments, and the results are immutable.
@lru_cache(maxsize=_CACHED)
def period_reminders(period: str, tz: str, policy: ReminderPolicy) -> tuple[Reminder, ...]:
    due = due_date(period, policy.due_day)
    return tuple(
        Reminder(_local_instant(due + timedelta(days=days), policy.local_time, tz), kind, period)
        for kind, days in policy.offsets
    )


def _candidate_periods(around: datetime, tz: str) -> list[str]:
    local = around.astimezone(ZoneInfo(tz))
    months = (_shift_month(local.year, local.month, d) for d in range(-1, 3))
    return [f"{y:04d}-{m:02d}" for y, m in months]


def jht_reminder(
    birth_date: date, registered_at: datetime, tz: str, policy: ReminderPolicy
) -> Reminder | None:
    """The age-`jht_age` birthday at the reminder hour, or None for someone who already had
    that age on the day they registered: they enrolled too late to have JHT savings."""
    year = birth_date.year + policy.jht_age
    try:
        birthday = birth_date.replace(year=year)
    except ValueError:  # born on 29 February, the birthday falls on 1 March that year
        birthday = date(year, 3, 1)
    if birthday <= _local_day(registered_at, tz):
        return None
    return Reminder(_local_instant(birthday, policy.local_time, tz), JHT, "once")


def _local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


@dataclass(frozen=True)
class Subject:
    """What the schedule needs to know about one participant."""

    tz: str
    registered_at: datetime
    birth_date: date
    wants_reminders: bool
    wants_jht: bool
    paid_periods: Collection[str] = ()
    #: set once a payment reactivated the person: periods due before it are not counted again
    reactivated_at: datetime | None = None
    #: the lapse was observed (and announced): no contribution reminders until reactivation
    lapsed: bool = False
    #: at least one payment was recorded while the person was in the JHT programme
    jht_paid: bool = False

    @property
    def counting_from(self) -> datetime:
        return self.reactivated_at or self.registered_at


@dataclass(frozen=True)
class Lapse:
    """When a person lapses if nothing is paid meanwhile, and the unpaid periods that cause it."""

    at: datetime  # UTC: the instant the next period's reminders would have started
    unpaid: tuple[str, ...]

    @property
    def reminder(self) -> Reminder:
        # scoped by the first unpaid period, so a later lapse (after a reactivation) is another
        # message; a reactivation moves counting past these periods, so the scope never repeats
        return Reminder(self.at, LAPSE, self.unpaid[0])


def first_counted_period(subject: Subject, policy: ReminderPolicy) -> str:
    """The first period whose due date is on or after the day counting starts."""
    start = _local_day(subject.counting_from, subject.tz)
    period = period_of(start)
    return period if start.day <= policy.due_day else next_period(period)


@lru_cache(maxsize=_CACHED)
def _first_fire_at(period: str, tz: str, policy: ReminderPolicy) -> datetime:
    reminders = period_reminders(period, tz, policy)
    if reminders:
        return min(reminders).fire_at
    return _local_instant(due_date(period, policy.due_day), policy.local_time, tz)


def lapse_of(subject: Subject, policy: ReminderPolicy) -> Lapse:
    """`lapse_after` unpaid counted periods in a row *after the latest paid one* (or from the
    first counted period): a payment of any later period ends a run, so an old gap followed by
    payments never lapses anyone. Always found, possibly far ahead: when the person *would*
    lapse if nothing is paid."""
    first = first_counted_period(subject, policy)
    paid = [period for period in subject.paid_periods if period >= first]
    run = [next_period(max(paid)) if paid else first]
    while len(run) < policy.lapse_after:
        run.append(next_period(run[-1]))
    return Lapse(_first_fire_at(next_period(run[-1]), subject.tz, policy), tuple(run))


def _dues(
    subject: Subject, periods: Iterable[str], lapse: Lapse, policy: ReminderPolicy
) -> Iterator[Reminder]:
    """Contribution reminders of `periods` that fit: wanted, of a counted unpaid period,
    after counting started and before the lapse."""
    if subject.lapsed or not subject.wants_reminders:
        return
    first = first_counted_period(subject, policy)
    start = subject.counting_from.astimezone(UTC)
    for period in periods:
        if period >= first and period not in subject.paid_periods:
            for reminder in period_reminders(period, subject.tz, policy):
                if start <= reminder.fire_at < lapse.at:
                    yield reminder


def _one_offs(subject: Subject, lapse: Lapse, policy: ReminderPolicy) -> list[Reminder]:
    """The lapse (even without consent to reminders: it is a fact reporting counts, and
    `channels_for` keeps its message from being sent) and the JHT claim reminder."""
    found = [] if subject.lapsed else [lapse.reminder]
    if subject.wants_jht and subject.jht_paid:
        jht = jht_reminder(subject.birth_date, subject.registered_at, subject.tz, policy)
        found.extend([jht] if jht else [])
    return found


def _all_reminders(subject: Subject, around: datetime, policy: ReminderPolicy) -> list[Reminder]:
    lapse = lapse_of(subject, policy)
    periods = _candidate_periods(around, subject.tz)
    found = [*_dues(subject, periods, lapse, policy), *_one_offs(subject, lapse, policy)]
    return [r for r in found if r.fire_at >= subject.registered_at.astimezone(UTC)]


def due_reminders(
    subject: Subject, after: datetime, now: datetime, policy: ReminderPolicy
) -> list[Reminder]:
    """Reminders that fell due in (after, now]. Contribution reminders older than
    `max_lateness` are skipped, and of one period only the latest is kept: a service that was
    down for days sends the overdue notice, not a stale D-7 as well. The JHT and lapse
    reminders happen once and are never stale; a lapse not yet recorded is due even before
    `after` (records written before lapses existed had their `after` move past it)."""
    stale_before = now - policy.max_lateness
    latest: dict[tuple[str, str], Reminder] = {}
    for reminder in sorted(_all_reminders(subject, now, policy)):
        unrecorded_lapse = reminder.kind == LAPSE  # due until recorded, however old
        if reminder.fire_at > now or (reminder.fire_at <= after and not unrecorded_lapse):
            continue
        one_off = reminder.kind in _ONE_OFF
        if not one_off and reminder.fire_at < stale_before:
            continue
        latest[(reminder.period, reminder.kind if one_off else "dues")] = reminder
    return sorted(latest.values())


def next_fire_at(subject: Subject, after: datetime, policy: ReminderPolicy) -> datetime | None:
    """The first reminder strictly after `after` (or an unrecorded lapse, however old), or
    None when nothing is scheduled.

    Periods are walked from `after` (or the start of counting, if later) up to the lapse, so
    months paid ahead are stepped over and a reactivation long after `after` is no gap."""
    lapse = lapse_of(subject, policy)
    upcoming = [
        r.fire_at for r in _one_offs(subject, lapse, policy) if r.fire_at > after or r.kind == LAPSE
    ]
    period = _candidate_periods(max(after, subject.counting_from), subject.tz)[0]
    while _first_fire_at(period, subject.tz, policy) < lapse.at:
        dues = [r.fire_at for r in _dues(subject, [period], lapse, policy) if r.fire_at > after]
        if dues:
            upcoming.append(min(dues))
            break
        period = next_period(period)
    return min(upcoming, default=None)
