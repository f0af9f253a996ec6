"""The frequency cap's windows and verdicts (pure: every instant is given)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notifier.domain.frequency import FrequencyCap, judge, sent_recently
from services.notifier.domain.record import iso

NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
MICRO = timedelta(microseconds=1)


def ago(delta: timedelta) -> datetime:
    return NOW - delta


@pytest.mark.parametrize(
    ("cap", "sent", "opens"),
    [
        # nothing sent, or no cap at all
        (FrequencyCap(per_day=2, per_week=4), [], None),
        (FrequencyCap(), [ago(H)] * 10, None),
        # the day: two in the last 24 h fill it; it opens 24 h after the older one
        (FrequencyCap(per_day=2), [ago(H)], None),
        (FrequencyCap(per_day=2), [ago(2 * H), ago(H)], NOW + 22 * H),
        (FrequencyCap(per_day=2), [ago(H), ago(2 * H), ago(3 * H)], NOW + 22 * H),
        # one sent exactly 24 h ago has left the window (a rolling (now - 24 h, now])
        (FrequencyCap(per_day=2), [ago(D), ago(H)], None),
        (FrequencyCap(per_day=2), [ago(D - MICRO), ago(H)], NOW + MICRO),
        # the week: four in the last 7 days fill it, whatever the day allows
        (FrequencyCap(per_week=4), [ago(6 * D), ago(4 * D), ago(2 * D)], None),
        (FrequencyCap(per_week=4), [ago(6 * D), ago(4 * D), ago(2 * D), ago(D)], NOW + D),
        (FrequencyCap(per_week=4), [ago(8 * D), ago(4 * D), ago(2 * D), ago(D)], None),
        # both: the later opening wins
        (FrequencyCap(per_day=1, per_week=2), [ago(5 * D), ago(H)], NOW + 2 * D),
        (FrequencyCap(per_day=1, per_week=3), [ago(5 * D), ago(H)], NOW + 23 * H),
        # an instant after now (another worker's clock a little ahead) counts as now
        (FrequencyCap(per_day=1), [NOW + H], NOW + D),
        # a cap of one a day that was just used
        (FrequencyCap(per_day=1), [NOW], NOW + D),
    ],
)
def test_when_the_window_opens(
    cap: FrequencyCap, sent: list[datetime], opens: datetime | None
) -> None:
    assert cap.opens_at(sent, NOW) == opens
    assert cap.opens_at(list(reversed(sent)), NOW) == opens  # any order


def test_the_window_is_open_at_the_instant_it_names_and_not_before() -> None:
    cap = FrequencyCap(per_day=2, per_week=3)
    sent = [ago(3 * D), ago(5 * H), ago(H)]
    opens = cap.opens_at(sent, NOW)
    assert opens is not None
    assert cap.opens_at(sent, opens) is None
    assert cap.opens_at(sent, opens - MICRO) == opens


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="0 \\(none\\) or more"):
        FrequencyCap(per_day=-1)


def entry(kind: str, scope: str, channel: str = "sms", due: datetime = NOW) -> dict[str, Any]:
    return {"key": f"p|{kind}|{scope}|{channel}", "kind": kind, "not_before": iso(due)}


def sent_state(at: datetime, state: str = "sent") -> dict[str, Any]:
    return {"state": state, "at": iso(at)}


def test_only_capped_notifications_really_sent_in_the_last_week_count() -> None:
    sent = {
        "p|welcome|once|sms": sent_state(ago(H)),  # transactional
        "p|jht_claim|once|sms": sent_state(ago(H)),  # transactional
        "p|contribution_due_d7|2026-03|sms": sent_state(ago(2 * H)),
        "p|campaign_announcement|campaign:C:b1|sms": sent_state(ago(3 * H)),
        # the same notification on a second channel: one message, its first send
        "p|campaign_announcement|campaign:C:b1|email": sent_state(ago(H)),
        "p|contribution_due_d1|2026-03|sms": sent_state(ago(H), state="failed"),
        "p|contribution_overdue|2026-02|sms": sent_state(ago(H), state="suppressed"),
        "p|campaign_announcement|campaign:C:b2|sms": {"state": "retry", "attempt": 1},
        "p|reactivation|2026-01|sms": sent_state(ago(7 * D)),  # left the week
    }
    assert sent_recently(sent, NOW) == {
        "p|contribution_due_d7|2026-03": ago(2 * H),
        "p|campaign_announcement|campaign:C:b1": ago(3 * H),
    }


def test_a_full_day_defers_reminders_and_drops_campaigns() -> None:
    cap = FrequencyCap(per_day=2, per_week=4)
    sent = {
        "p|campaign_announcement|campaign:C:b1|sms": sent_state(ago(3 * H)),
        "p|contribution_due_d7|2026-03|sms": sent_state(ago(H)),
    }
    due = [
        entry("campaign_announcement", "campaign:C:b2"),
        entry("contribution_due_d1", "2026-03"),
        entry("welcome", "once"),
        entry("jht_claim", "once"),
        entry("reactivation", "2026-01"),
    ]
    campaign, reminder, welcome, jht, reactivation = judge(cap, sent, due, NOW)
    assert (reactivation.opens_at, reactivation.dropped) == (NOW + 21 * H, False)  # it waits
    assert welcome.send  # transactional: never held back
    assert jht.send
    assert (reminder.send, reminder.opens_at, reminder.dropped) == (False, NOW + 21 * H, False)
    assert (campaign.send, campaign.opens_at, campaign.dropped) == (False, NOW + 21 * H, True)


def test_reminders_go_first_and_what_only_the_planned_would_exceed_waits() -> None:
    cap = FrequencyCap(per_day=2)
    sent = {"p|campaign_announcement|campaign:C:b1|sms": sent_state(ago(H))}
    due = [
        entry("campaign_announcement", "campaign:C:b2", due=ago(H)),  # older, yet after
        entry("contribution_due_d1", "2026-03"),
        entry("contribution_overdue", "2026-02"),
    ]
    campaign, d1, overdue = judge(cap, sent, due, NOW)
    # one place left: a reminder before the campaign, though the campaign waited longer
    # (reminders due at the same instant go by key)
    assert d1.send
    # the others would exceed the cap only with the D-1 that goes now: they wait, queued,
    # until its outcome is recorded (it may still fail; a drop would be for good)
    assert overdue.wait
    assert campaign.wait
    assert not campaign.dropped


def test_a_second_channel_of_a_notification_goes_with_it_uncounted() -> None:
    cap = FrequencyCap(per_day=1)
    # sent on SMS already: its e-mail copy is the same message, not a second one
    sent = {"p|campaign_announcement|campaign:C:b1|sms": sent_state(ago(H))}
    copy = entry("campaign_announcement", "campaign:C:b1", channel="email")
    assert judge(cap, sent, [copy], NOW)[0].send
    # both channels due now with one place: both go
    both = [
        entry("campaign_announcement", "campaign:C:b3", channel="sms"),
        entry("campaign_announcement", "campaign:C:b3", channel="email"),
    ]
    assert all(v.send for v in judge(cap, {}, both, NOW))


def test_no_cap_sends_everything() -> None:
    due = [entry("campaign_announcement", f"campaign:C:b{i}") for i in range(5)]
    assert all(v.send for v in judge(FrequencyCap(), {}, due, NOW))
