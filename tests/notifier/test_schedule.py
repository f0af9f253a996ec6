"""Reminders that fit the person's history (issue 14): tables of cases for each rule of the
pure schedule — first counted period, lapse after N unpaid periods, reactivation, JHT claim."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.notifier.domain.schedule import (
    D1,
    D7,
    JHT,
    LAPSE,
    OVERDUE,
    ReminderPolicy,
    Subject,
    due_reminders,
    first_counted_period,
    lapse_of,
    next_fire_at,
)

WIB, WIT = "Asia/Jakarta", "Asia/Jayapura"
POLICY = ReminderPolicy()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def subject(**kw: object) -> Subject:
    fields: dict[str, object] = {
        "tz": WIB,
        "registered_at": utc(2026, 12, 16, 3),  # 10:00 WIB on the 16th
        "birth_date": date(1985, 8, 17),
        "wants_reminders": True,
        "wants_jht": False,
    }
    fields.update(kw)
    return Subject(**fields)  # type: ignore[arg-type]


def sent(s: Subject, after: datetime, now: datetime) -> list[tuple[str, str]]:
    return [(r.kind, r.period) for r in due_reminders(s, after, now, POLICY)]


# --- no reminder for a period due before the registration -----------------------------------


@pytest.mark.parametrize(
    ("registered_at", "tz", "first"),
    [
        (utc(2026, 12, 16, 3), WIB, "2027-01"),  # the 16th: December's due day has passed
        (utc(2026, 12, 15, 3), WIB, "2026-12"),  # on the due day: still payable that day
        (utc(2026, 12, 14, 3), WIB, "2026-12"),
        (utc(2026, 12, 1, 0), WIB, "2026-12"),
        (utc(2026, 12, 15, 16, 30), WIB, "2026-12"),  # 23:30 WIB on the 15th
        (utc(2026, 12, 15, 16, 30), WIT, "2027-01"),  # the same instant is 01:30 WIT, the 16th
        (utc(2026, 12, 31, 3), WIB, "2027-01"),
    ],
)
def test_the_first_counted_period_is_the_first_due_on_or_after_registration(
    registered_at: datetime, tz: str, first: str
) -> None:
    assert first_counted_period(subject(registered_at=registered_at, tz=tz), POLICY) == first


@pytest.mark.parametrize(
    ("registered_at", "first_reminder"),
    [
        (utc(2026, 12, 16, 3), (D7, "2027-01")),  # no December overdue notice on the 18th
        (utc(2026, 12, 10, 3), (D1, "2026-12")),  # December counts; its D-7 was before
        (utc(2026, 12, 15, 3), (OVERDUE, "2026-12")),  # registered on the due day, unpaid
    ],
)
def test_no_reminder_of_a_period_due_before_the_registration(
    registered_at: datetime, first_reminder: tuple[str, str]
) -> None:
    s = subject(registered_at=registered_at)
    first_at = next_fire_at(s, registered_at, POLICY)
    assert first_at is not None
    assert sent(s, registered_at, first_at) == [first_reminder]


# --- lapse after N consecutive unpaid periods -----------------------------------------------


@pytest.mark.parametrize(
    ("paid", "lapse_after", "unpaid", "lapse_at"),
    [
        # registered 16 Dec 2026: January is the first period counted
        ((), 3, ("2027-01", "2027-02", "2027-03"), utc(2027, 4, 8, 2)),
        (("2027-01",), 3, ("2027-02", "2027-03", "2027-04"), utc(2027, 5, 8, 2)),
        (("2027-02",), 3, ("2027-03", "2027-04", "2027-05"), utc(2027, 6, 8, 2)),
        (("2027-03",), 3, ("2027-04", "2027-05", "2027-06"), utc(2027, 7, 8, 2)),
        (
            ("2027-01", "2027-02", "2027-03"),
            3,
            ("2027-04", "2027-05", "2027-06"),
            utc(2027, 7, 8, 2),
        ),
        (("2026-12",), 3, ("2027-01", "2027-02", "2027-03"), utc(2027, 4, 8, 2)),  # uncounted
        # a payment of a later period ends a run: the Jan-Apr gap never lapses anyone
        (("2027-05",), 3, ("2027-06", "2027-07", "2027-08"), utc(2027, 9, 8, 2)),
        (("2027-01", "2027-05"), 3, ("2027-06", "2027-07", "2027-08"), utc(2027, 9, 8, 2)),
        ((), 1, ("2027-01",), utc(2027, 2, 8, 2)),
        ((), 2, ("2027-01", "2027-02"), utc(2027, 3, 8, 2)),
        (("2027-02",), 2, ("2027-03", "2027-04"), utc(2027, 5, 8, 2)),
    ],
)
def test_lapse_after_consecutive_unpaid_periods(
    paid: tuple[str, ...], lapse_after: int, unpaid: tuple[str, ...], lapse_at: datetime
) -> None:
    lapse = lapse_of(subject(paid_periods=frozenset(paid)), ReminderPolicy(lapse_after=lapse_after))
    assert lapse.unpaid == unpaid
    assert lapse.at == lapse_at  # the instant the next period's D-7 would have fired


def test_lapse_after_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lapse_after"):
        ReminderPolicy(lapse_after=0)


def test_three_months_of_reminders_then_the_lapse_then_nothing() -> None:
    s = subject()
    months = ("2027-01", "2027-02", "2027-03")
    stepwise: list[tuple[str, str]] = []
    after = s.registered_at
    while (upcoming := next_fire_at(s, after, POLICY)) is not None and upcoming < utc(2028, 1, 1):
        stepwise += sent(s, after, upcoming)
        after = upcoming
        if (LAPSE, months[0]) in stepwise:
            break
    assert stepwise == [(kind, m) for m in months for kind in (D7, D1, OVERDUE)] + [
        (LAPSE, "2027-01")
    ]
    lapsed = subject(lapsed=True)
    assert sent(lapsed, utc(2027, 4, 8, 2), utc(2027, 12, 31)) == []
    assert next_fire_at(lapsed, utc(2027, 4, 8, 2), POLICY) is None


@pytest.mark.parametrize(
    ("lapsed", "window", "expected"),
    [
        (False, (utc(2027, 4, 8, 1), utc(2027, 4, 8, 2)), [(LAPSE, "2027-01")]),
        # after days of downtime the reactivation message still goes (never stale)
        (False, (utc(2027, 4, 1), utc(2027, 4, 20)), [(LAPSE, "2027-01")]),
        (True, (utc(2027, 4, 1), utc(2027, 4, 20)), []),
        (True, (utc(2027, 5, 1), utc(2027, 5, 20)), []),  # no April/May reminders once lapsed
    ],
)
def test_the_lapse_replaces_the_monthly_reminders(
    lapsed: bool, window: tuple[datetime, datetime], expected: list[tuple[str, str]]
) -> None:
    assert sent(subject(lapsed=lapsed), *window) == expected


def test_without_consent_the_lapse_is_still_scheduled_but_no_reminder() -> None:
    s = subject(wants_reminders=False)
    assert next_fire_at(s, s.registered_at, POLICY) == utc(2027, 4, 8, 2)
    assert sent(s, s.registered_at, utc(2027, 4, 8, 2)) == [(LAPSE, "2027-01")]


# --- a payment reactivates: counting starts again -------------------------------------------


@pytest.mark.parametrize(
    ("reactivated_at", "paid", "first", "unpaid"),
    [
        # paid for January on 2 May: May is the first period counted again
        (utc(2027, 5, 2, 3), ("2027-01",), "2027-05", ("2027-05", "2027-06", "2027-07")),
        # paid for April on 20 April (after April's due day): counting starts with May
        (utc(2027, 4, 20, 3), ("2027-04",), "2027-05", ("2027-05", "2027-06", "2027-07")),
        # paid for May ahead, on 9 April: April counts and is unpaid, then May is paid
        (utc(2027, 4, 9, 3), ("2027-05",), "2027-04", ("2027-06", "2027-07", "2027-08")),
    ],
)
def test_reactivation_counts_periods_from_the_reactivation(
    reactivated_at: datetime, paid: tuple[str, ...], first: str, unpaid: tuple[str, ...]
) -> None:
    s = subject(reactivated_at=reactivated_at, paid_periods=frozenset(paid))
    assert first_counted_period(s, POLICY) == first
    assert lapse_of(s, POLICY).unpaid == unpaid


def test_reminders_resume_after_reactivation() -> None:
    s = subject(reactivated_at=utc(2027, 4, 20, 3), paid_periods=frozenset({"2027-01"}))
    assert next_fire_at(s, utc(2027, 4, 20, 3), POLICY) == utc(2027, 5, 8, 2)
    assert sent(s, utc(2027, 4, 20, 3), utc(2027, 5, 8, 2)) == [(D7, "2027-05")]


# --- the JHT claim reminder -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "registered_at", "wants_jht", "jht_paid", "fires"),
    [
        (date(1971, 3, 20), utc(2026, 12, 16, 3), True, True, True),  # turns 56 while enrolled
        (date(1971, 3, 20), utc(2026, 12, 16, 3), True, False, False),  # never paid JHT
        (date(1971, 3, 20), utc(2026, 12, 16, 3), False, True, False),  # not in JHT (or consent)
        (date(1970, 3, 20), utc(2026, 12, 16, 3), True, True, False),  # 56 already at enrolment
        (date(1970, 12, 16), utc(2026, 12, 16, 3), True, True, False),  # turns 56 that very day
        (date(1970, 12, 17), utc(2026, 12, 16, 3), True, True, True),  # turns 56 the next day
    ],
)
def test_jht_claim_only_for_who_turns_the_age_enrolled_and_paid_jht(
    birth: date, registered_at: datetime, wants_jht: bool, jht_paid: bool, fires: bool
) -> None:
    s = subject(
        birth_date=birth,
        registered_at=registered_at,
        wants_reminders=False,
        wants_jht=wants_jht,
        jht_paid=jht_paid,
    )
    found = [r for r in due_reminders(s, registered_at, utc(2027, 12, 31), POLICY) if r.kind == JHT]
    assert bool(found) is fires


@pytest.mark.parametrize(
    ("paid", "after", "next_at"),
    [
        ((), utc(2026, 12, 16, 3), utc(2027, 1, 8, 2)),
        # paid three months ahead: the next reminder is April's, not the lapse nor none at all
        (("2027-01", "2027-02", "2027-03"), utc(2026, 12, 16, 3), utc(2027, 4, 8, 2)),
        (
            ("2027-01", "2027-02", "2027-03", "2027-04", "2027-05"),
            utc(2027, 1, 2),
            utc(2027, 6, 8, 2),
        ),
        (("2027-02",), utc(2027, 1, 18, 3), utc(2027, 3, 8, 2)),  # February skipped
    ],
)
def test_the_next_reminder_steps_over_months_paid_ahead(
    paid: tuple[str, ...], after: datetime, next_at: datetime
) -> None:
    assert next_fire_at(subject(paid_periods=frozenset(paid)), after, POLICY) == next_at


def test_a_lapse_the_schedule_moved_past_unrecorded_is_due_at_once() -> None:
    # a record written before lapses existed: its `after` went past the lapse instant
    s = subject()
    late = utc(2027, 5, 20)
    assert next_fire_at(s, late, POLICY) == utc(2027, 4, 8, 2)  # in the past: wake at once
    assert sent(s, late, utc(2027, 5, 20, 1)) == [(LAPSE, "2027-01")]
    assert next_fire_at(subject(lapsed=True), late, POLICY) is None  # once recorded, done
