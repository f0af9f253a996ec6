"""Integration: the frequency cap on the real path (broker, notifier process, SMS gateway), with
the default cap of 2 messages a day and 4 a week: a third campaign within the day is dropped
with its reason, and the D-7 reminder that falls in the same day waits until the window opens,
then goes out once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.notifier.domain.schedule import D7, ReminderPolicy, period_reminders
from tests.notifier.factories import broadcast, registered
from tests.notifier.harness import Stack, daytime_base, wait_for

pytestmark = pytest.mark.integration
CAMPAIGN = "campaign_announcement"


def _next_d7(moment: datetime) -> tuple[str, datetime]:
    """The first period whose D-7 reminder fires a day or more after `moment` (WIB)."""
    local = moment.astimezone(ZoneInfo("Asia/Jakarta"))
    for months in range(3):
        index = local.year * 12 + local.month - 1 + months
        period = f"{index // 12:04d}-{index % 12 + 1:02d}"
        fires = {
            r.kind: r.fire_at for r in period_reminders(period, "Asia/Jakarta", ReminderPolicy())
        }
        if fires[D7] > moment + timedelta(days=1):
            return period, fires[D7]
    raise AssertionError("no period found")


def test_a_broadcast_over_the_cap_is_dropped_and_a_reminder_waits_for_the_window(
    stack: Stack,
) -> None:
    stack.set_clock(daytime_base(stack.now()))
    segment = f"seg{uuid.uuid4().hex[:6]}"
    person = registered(stack.now(), email=None, segment=segment)
    pid = person.participant_id
    stack.publish(person, pid, "bebas.participants")
    wait_for(lambda: stack.sms(pid))  # the welcome: transactional, it does not count
    period, d7_at = _next_d7(stack.now())

    def events(kind: str) -> list[dict[str, Any]]:
        return [e for e in stack.notifications(pid) if e["type"] == kind]

    def sms_of(kind: str) -> list[dict[str, Any]]:
        return [s for s in stack.sms(pid) if f"|{kind}|" in str(s["reference"])]

    # 08:10 WIB on the D-7 day, 50 minutes before the reminder: two campaigns fill the day
    stack.set_clock(d7_at - timedelta(minutes=50))
    requests = [broadcast(stack.now(), segments=[segment]) for _ in range(3)]
    for sent, request in enumerate(requests[:2], start=1):
        stack.publish(request, request.campaign_code, "bebas.campaigns")
        wait_for(lambda n=sent: len(sms_of(CAMPAIGN)) == n)
    stack.publish(requests[2], requests[2].campaign_code, "bebas.campaigns")
    dropped = wait_for(lambda: events("notification.suppressed"))
    third = f"campaign:{requests[2].campaign_code}:{requests[2].broadcast_id}"
    assert dropped[0]["data"]["notification_key"] == f"{pid}|{CAMPAIGN}|{third}|sms"
    assert dropped[0]["data"]["reason"] == "frequency_cap"
    assert (
        wait_for(lambda: stack.state(pid)["sent"].get(f"{pid}|{CAMPAIGN}|{third}|sms"))["reason"]
        == "frequency_cap"
    )

    # the D-7 reminder falls due with the day full: it waits for the first campaign's 24 h
    stack.set_clock(d7_at + timedelta(minutes=1))
    deferred = wait_for(lambda: events("notification.deferred"))
    assert deferred[0]["data"]["notification_key"] == f"{pid}|{D7}|{period}|sms"
    assert deferred[0]["data"]["reason"] == "frequency_cap"
    first_sent = min(
        datetime.fromisoformat(e["data"]["sent_at"])
        for e in events("notification.sent")
        if e["data"]["kind"] == CAMPAIGN
    )
    opens = datetime.fromisoformat(deferred[0]["data"]["deliver_after"])
    assert opens == first_sent + timedelta(days=1)
    assert sms_of(D7) == []

    stack.set_clock(opens + timedelta(minutes=1))
    reminder = wait_for(lambda: sms_of(D7))
    assert len(reminder) == 1
    assert len(sms_of(CAMPAIGN)) == 2
    assert len(events("notification.deferred")) == 1
