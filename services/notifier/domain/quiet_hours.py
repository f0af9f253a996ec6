"""Quiet hours: no SMS or WhatsApp at night in the recipient's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

#: channels whose messages ring a phone: they wait for the morning (an e-mail waits in the
#: mailbox, so it goes at any hour)
QUIET_CHANNELS = frozenset({"sms", "whatsapp"})


@dataclass(frozen=True)
class QuietHours:
    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, now: datetime, tz: str) -> bool:
        """Is `now` (aware) inside the quiet window in zone `tz`?"""
        local = now.astimezone(ZoneInfo(tz)).time()
        if self.start == self.end:
            return False
        if self.start < self.end:  # a window inside one day, e.g. 13:00-14:00
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # a window across midnight

    def opens_at(self, now: datetime, tz: str) -> datetime:
        """The first instant at or after `now` outside the quiet window (same zone as `now`)."""
        if not self.contains(now, tz):
            return now
        zone = ZoneInfo(tz)
        local = now.astimezone(zone)
        opening = datetime.combine(local.date(), self.end, tzinfo=zone)
        if opening <= local:
            opening += timedelta(days=1)
        return opening.astimezone(now.tzinfo)
