"""Unit tests of the pure domain: quiet hours, reminder schedule, keys, GSM-7, backoff."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.notifier.domain.audience import matches
from services.notifier.domain.backoff import backoff_seconds
from services.notifier.domain.gsm import is_gsm7, segments, septets
from services.notifier.domain.keys import NotificationKey, campaign_key, once_key, period_key
from services.notifier.domain.model import channels_for
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.domain.schedule import (
    D1,
    D7,
    JHT,
    OVERDUE,
    ReminderPolicy,
    Subject,
    due_reminders,
    jht_reminder,
    next_fire_at,
    period_reminders,
)

WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"
POLICY = ReminderPolicy()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- quiet hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "tz", "quiet"),
    [
        (utc(2026, 1, 10, 13, 59), WIB, False),  # 20:59 WIB
        (utc(2026, 1, 10, 14, 0), WIB, True),  # 21:00 WIB
        (utc(2026, 1, 10, 14, 0), WITA, True),  # 22:00 WITA
        (utc(2026, 1, 10, 12, 0), WIT, True),  # 21:00 WIT
        (utc(2026, 1, 10, 12, 0), WIB, False),  # 19:00 WIB: same instant, other zone
        (utc(2026, 1, 10, 17, 0), WIB, True),  # 00:00 WIB, across midnight
        (utc(2026, 1, 10, 0, 59), WIB, True),  # 07:59 WIB
        (utc(2026, 1, 10, 1, 0), WIB, False),  # 08:00 WIB
        (utc(2026, 1, 10, 0, 0), WITA, False),  # 08:00 WITA
        (utc(2026, 1, 9, 23, 0), WIT, False),  # 08:00 WIT
        (utc(2026, 1, 9, 22, 59), WIT, True),  # 07:59 WIT
    ],
)
def test_quiet_hours_in_each_zone(moment: datetime, tz: str, quiet: bool) -> None:
    assert QuietHours().contains(moment, tz) is quiet


def test_window_opens_at_eight_local_the_next_morning() -> None:
    quiet = QuietHours()
    assert quiet.opens_at(utc(2026, 1, 10, 15, 30), WIB) == utc(2026, 1, 11, 1, 0)  # 22:30
    assert quiet.opens_at(utc(2026, 1, 10, 18, 0), WIB) == utc(2026, 1, 11, 1, 0)  # 01:00
    assert quiet.opens_at(utc(2026, 1, 10, 15, 30), WITA) == utc(2026, 1, 11, 0, 0)
    assert quiet.opens_at(utc(2026, 1, 10, 15, 30), WIT) == utc(2026, 1, 10, 23, 0)
    awake = utc(2026, 1, 10, 5, 0)
    assert quiet.opens_at(awake, WIB) == awake


def test_quiet_hours_are_configurable_and_may_be_within_a_day() -> None:
    lunch = QuietHours(time(12, 0), time(13, 0))
    assert lunch.contains(utc(2026, 1, 10, 5, 30), WIB)  # 12:30 WIB
    assert not lunch.contains(utc(2026, 1, 10, 6, 0), WIB)
    assert not QuietHours(time(0, 0), time(0, 0)).contains(utc(2026, 1, 10, 17, 0), WIB)


# --- reminder schedule ----------------------------------------------------------------------


def test_reminders_fire_at_nine_local_on_d7_d1_and_d_plus_3() -> None:
    wib = {r.kind: r.fire_at for r in period_reminders("2026-03", WIB, POLICY)}
    assert wib == {D7: utc(2026, 3, 8, 2), D1: utc(2026, 3, 14, 2), OVERDUE: utc(2026, 3, 18, 2)}
    wit = {r.kind: r.fire_at for r in period_reminders("2026-03", WIT, POLICY)}
    assert wit[D1] == utc(2026, 3, 14, 0)
    custom = ReminderPolicy(due_day=5, local_time=time(10, 0))
    wita = {r.kind: r.fire_at for r in period_reminders("2026-03", WITA, custom)}
    assert wita[D7] == utc(2026, 2, 26, 2)  # D-7 falls in the month before


def subject(**kw: object) -> Subject:
    fields: dict[str, object] = {
        "tz": WIB,
        "registered_at": utc(2026, 3, 1, 3),
        "birth_date": date(1985, 8, 17),
        "wants_reminders": True,
        "wants_jht": False,
    }
    fields.update(kw)
    return Subject(**fields)  # type: ignore[arg-type]


def test_due_reminders_in_a_window_and_the_next_one() -> None:
    s = subject()
    after, now = utc(2026, 3, 8, 1), utc(2026, 3, 8, 2, 30)
    assert [(r.kind, r.period) for r in due_reminders(s, after, now, POLICY)] == [(D7, "2026-03")]
    assert next_fire_at(s, now, POLICY) == utc(2026, 3, 14, 2)
    assert due_reminders(s, now, utc(2026, 3, 13, 0), POLICY) == []


def test_payment_cancels_every_reminder_of_its_period() -> None:
    s = subject(paid_periods=frozenset({"2026-03"}))
    assert due_reminders(s, utc(2026, 3, 8, 1), utc(2026, 3, 20), POLICY) == []
    assert next_fire_at(s, utc(2026, 3, 8, 1), POLICY) == utc(2026, 4, 8, 2)  # April's D-7


def test_only_the_latest_reminder_of_a_period_and_never_a_stale_one() -> None:
    s = subject()
    late = due_reminders(s, utc(2026, 3, 7), utc(2026, 3, 14, 3), POLICY)
    assert [r.kind for r in late] == [D1]  # not D-7 as well
    stale = due_reminders(s, utc(2026, 3, 7), utc(2026, 3, 25), POLICY)
    assert stale == []  # the overdue notice of the 18th is a week old: skipped


def test_no_reminder_before_registration_nor_without_consent() -> None:
    s = subject(registered_at=utc(2026, 3, 10))
    assert next_fire_at(s, utc(2026, 3, 10), POLICY) == utc(2026, 3, 14, 2)
    silent = subject(wants_reminders=False)
    assert due_reminders(silent, utc(2026, 3, 1), utc(2026, 5, 31), POLICY) == []
    # without consent only the lapse instant stays scheduled: the lapse is counted, not sent
    assert next_fire_at(silent, utc(2026, 3, 1), POLICY) == utc(2026, 6, 8, 2)


def _jht_at(birth: date, registered_at: datetime, tz: str, policy: ReminderPolicy) -> datetime:
    reminder = jht_reminder(birth, registered_at, tz, policy)
    assert reminder is not None
    return reminder.fire_at


def test_jht_reminder_on_the_56th_birthday_local_time() -> None:
    reg = utc(2020, 1, 1)
    assert _jht_at(date(1970, 5, 20), reg, WIT, POLICY) == utc(2026, 5, 20, 0)
    assert _jht_at(date(1968, 2, 29), reg, WIB, POLICY) == utc(2024, 2, 29, 2)
    leap_gap = ReminderPolicy(jht_age=57)  # 29 Feb 1968 + 57 years: no 29 Feb in 2025
    assert _jht_at(date(1968, 2, 29), reg, WIB, leap_gap) == utc(2025, 3, 1, 2)
    s = subject(wants_reminders=False, wants_jht=True, jht_paid=True, birth_date=date(1970, 3, 20))
    due = due_reminders(s, utc(2026, 3, 19), utc(2026, 3, 20, 3), POLICY)
    assert [(r.kind, r.period) for r in due] == [(JHT, "once")]


# --- keys, audience, channels ----------------------------------------------------------------


def test_keys_are_deterministic_and_parse_back() -> None:
    assert period_key("P1", D1, "2026-03", "sms") == "P1|contribution_due_d1|2026-03|sms"
    assert once_key("P1", "welcome", "email") == "P1|welcome|once|email"
    key = campaign_key("P1", "campaign_announcement", "KKBC", "b1", "sms")
    assert key == campaign_key("P1", "campaign_announcement", "KKBC", "b1", "sms")
    assert NotificationKey.parse(key).scope == "campaign:KKBC:b1"
    with pytest.raises(ValueError, match="not a notification key"):
        NotificationKey.parse("P1|welcome")


def test_audience_matching() -> None:
    person = {"branch_code": "SKT", "segment": "trader", "campaign_code": "C1"}
    assert matches(**person, branch_codes=[], segments=[], campaign_codes=[])
    assert matches(**person, branch_codes=["SKT", "JKT"], segments=["trader"], campaign_codes=[])
    assert not matches(**person, branch_codes=["JKT"], segments=[], campaign_codes=[])
    assert not matches(**person, branch_codes=[], segments=[], campaign_codes=["C2"])


def test_channels_respect_preference_consent_and_opt_outs() -> None:
    person = {"email": "a@b.id", "preferred_channel": "sms", "consent_reminders": True}
    assert channels_for("welcome", person) == ["sms", "email"]
    assert channels_for(D1, person) == ["sms"]
    assert channels_for(D1, {**person, "preferred_channel": "email"}) == ["email"]
    assert channels_for(D1, {**person, "opted_out": ["sms"]}) == ["email"]
    assert channels_for(D1, {**person, "opted_out": ["sms", "email"]}) == []
    assert channels_for(D1, {**person, "consent_reminders": False}) == []
    assert channels_for("welcome", {**person, "consent_reminders": False, "email": None}) == ["sms"]


# --- GSM-7 and backoff ------------------------------------------------------------------------


def test_gsm7_segments() -> None:
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert septets("€[]") == 6
    assert segments("€" * 80) == 1
    assert segments("€" * 81) == 2
    assert not is_gsm7("Halo 😀")
    assert segments("é" * 70) == 1  # é is GSM-7
    assert segments("ę" * 70) == 1  # ę is not: UCS-2, 70 per segment
    assert segments("ę" * 71) == 2


def test_backoff_grows_is_capped_jittered_and_honours_retry_after() -> None:
    low = [backoff_seconds(n, base=1, cap=30, rand=lambda: 0.0) for n in (1, 2, 3, 10)]
    high = [backoff_seconds(n, base=1, cap=30, rand=lambda: 1.0) for n in (1, 2, 3, 10)]
    assert low == [0.5, 1.0, 2.0, 15.0]
    assert high == [1.0, 2.0, 4.0, 30.0]
    assert backoff_seconds(1, base=1, cap=30, retry_after=7, rand=lambda: 0.0) == 7
    assert backoff_seconds(1, base=1, cap=30, retry_after=99, rand=lambda: 0.0) == 30
    assert timedelta(seconds=backoff_seconds(2, base=1, cap=30)) <= timedelta(seconds=2)
