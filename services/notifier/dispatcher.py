"""One dispatcher per channel drains the outbox: a slow or dead provider only ever delays its
own channel.

Exactly once per recipient: before a message goes to the provider its key is marked
`inflight` in the sent table and that write is flushed to the changelog; only after the
provider accepted is the key marked `sent` and the outbox entry removed. A crash in between
leaves the entry in the outbox, so it is sent again after the restart *with the same key* as
the provider's client reference (SMS) or Message-ID (e-mail), and the provider drops the copy.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from jinja2 import TemplateError

from schemas.deadletter import DeadLetter
from schemas.events import (
    NotificationDeferredV1,
    NotificationFailedV1,
    NotificationSentV1,
)
from services.notifier.domain.backoff import backoff_seconds
from services.notifier.domain.model import Message
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.ports import ChannelPort, PermanentError, TransientError
from services.notifier.render import Renderer
from services.notifier.service import FINAL_STATES, NotifierService, iso

log = logging.getLogger(__name__)

Flush = Callable[[], Awaitable[None]]
PublishRetry = Callable[[dict[str, Any]], Awaitable[None]]
PublishDeadLetter = Callable[[DeadLetter], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        service: NotifierService,
        channel: ChannelPort,
        renderer: Renderer,
        *,
        quiet: QuietHours,
        max_attempts: int,
        backoff_base: float,
        backoff_cap: float,
        flush: Flush,
        publish_retry: PublishRetry,
        publish_dead_letter: PublishDeadLetter,
        retry_topic: str,
        on_result: Callable[[str, str], None] = lambda channel, outcome: None,
        concurrency: int = 1,
    ) -> None:
        self.service = service
        self.channel = channel
        self.renderer = renderer
        self.quiet = quiet
        self.max_attempts = max_attempts
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.flush = flush
        self.publish_retry = publish_retry
        self.publish_dead_letter = publish_dead_letter
        self.retry_topic = retry_topic
        self.on_result = on_result
        self.concurrency = max(1, concurrency)

    @property
    def s(self) -> Any:
        return self.service.s

    async def run_once(self, limit: int) -> int:
        """One round: up to `limit` due messages, marked in flight with one changelog flush,
        then handed to the provider `concurrency` at a time."""
        entries = self.service.due_entries(self.channel.name, limit)
        ready: list[tuple[dict[str, Any], dict[str, Any], Message]] = []
        for entry in entries:
            prepared = await self._prepare(entry)
            if prepared is not None:
                ready.append(prepared)
        if not ready:
            return len(entries)
        now = self.service.clock.now()
        for entry, _, _ in ready:
            attempt = int(entry.get("attempt", 1))
            self.s.sent[entry["key"]] = {"state": "inflight", "attempt": attempt, "at": iso(now)}
        await self.flush()  # in-flight markers are durable before the provider sees anything
        gate = asyncio.Semaphore(self.concurrency)

        async def deliver(item: tuple[dict[str, Any], dict[str, Any], Message]) -> None:
            async with gate:
                await self._deliver(*item)

        await asyncio.gather(*(deliver(item) for item in ready))
        return len(entries)

    async def dispatch(self, entry: dict[str, Any]) -> None:
        """Send one message now (the same steps as a round of one)."""
        prepared = await self._prepare(entry)
        if prepared is None:
            return
        attempt = int(entry.get("attempt", 1))
        now = iso(self.service.clock.now())
        self.s.sent[entry["key"]] = {"state": "inflight", "attempt": attempt, "at": now}
        await self.flush()
        await self._deliver(*prepared)

    async def _prepare(
        self, entry: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], Message] | None:
        """Checks before sending; None when the entry was settled here (or deferred)."""
        key = entry["key"]
        state = self.s.sent.get(key)
        if state and state["state"] in FINAL_STATES:
            self.s.outbox.pop(key, None)
            return None
        person = self.s.participants.get(entry["participant_id"])
        now = self.service.clock.now()
        if person is None:
            await self._fail(entry, None, "unknown participant", permanent=True, now=now)
            return None
        reason = self.service.suppression(entry, person)
        if reason:
            self.s.sent[key] = {"state": "suppressed", "reason": reason, "at": iso(now)}
            self.s.outbox.pop(key, None)
            self.on_result(self.channel.name, "suppressed")
            return None
        if self.channel.name == "sms" and self.quiet.contains(now, person["branch_timezone"]):
            await self._defer(entry, person, now)
            return None
        try:
            message = self.renderer.render(
                key=key,
                kind=entry["kind"],
                channel=entry["channel"],
                person=person,
                params=entry.get("params", {}),
            )
        except (TemplateError, KeyError, ValueError) as exc:
            await self._fail(entry, person, f"render: {exc!r}", permanent=True, now=now)
            return None
        return entry, person, message

    async def _deliver(
        self, entry: dict[str, Any], person: dict[str, Any], message: Message
    ) -> None:
        key = entry["key"]
        attempt = int(entry.get("attempt", 1))
        try:
            receipt = await self.channel.send(message)
        except PermanentError as exc:
            await self._fail(entry, person, exc.reason, permanent=True, now=self._now())
            return
        except TransientError as exc:
            await self._transient(entry, person, exc, self._now())
            return
        sent_at = self._now()
        # the event first, then the final state: a crash in between offers the message again
        # (the provider drops the copy by its key) and emits the event again under the same
        # event id, which reporting drops; the other order lost the event for good
        await self.service.emit(
            NotificationSentV1(
                **self.service.facts(entry, person),
                provider=receipt.provider,
                provider_message_id=receipt.provider_message_id,
                attempt=attempt,
                sent_at=sent_at,
            ),
            entry["participant_id"],
        )
        self.s.sent[key] = {
            "state": "sent",
            "attempt": attempt,
            "at": iso(sent_at),
            "provider": receipt.provider,
            "provider_message_id": receipt.provider_message_id,
        }
        self.s.outbox.pop(key, None)
        # durable at once: after a crash only messages still in flight are offered again
        await self.flush()
        self.on_result(self.channel.name, "sent")

    def _now(self) -> datetime:
        return self.service.clock.now()

    async def _defer(self, entry: dict[str, Any], person: dict[str, Any], now: datetime) -> None:
        opens = self.quiet.opens_at(now, person["branch_timezone"])
        updated = {**entry, "not_before": iso(opens), "deferred": True}
        self.s.outbox[entry["key"]] = updated
        if not entry.get("deferred"):
            await self.service.emit(
                NotificationDeferredV1(
                    **self.service.facts(entry, person),
                    reason="quiet_hours",
                    deliver_after=opens,
                    deferred_at=now,
                ),
                entry["participant_id"],
            )
            self.on_result(self.channel.name, "deferred")

    async def _transient(
        self, entry: dict[str, Any], person: dict[str, Any], exc: TransientError, now: datetime
    ) -> None:
        attempt = int(entry.get("attempt", 1))
        key = entry["key"]
        if attempt >= self.max_attempts:
            reason = f"gave up after {attempt} attempts: {exc.reason}"
            await self.publish_dead_letter(
                DeadLetter.of(
                    service="notifier",
                    source_topic=self.retry_topic,
                    key=key.encode(),
                    value=_entry_bytes(entry),
                    reason=reason,
                )
            )
            await self._fail(entry, person, reason, permanent=False, now=now, state="dead")
            return
        delay = backoff_seconds(
            attempt, base=self.backoff_base, cap=self.backoff_cap, retry_after=exc.retry_after
        )
        record = {
            "key": key,
            "attempt": attempt + 1,
            "not_before": iso(now + timedelta(seconds=delay)),
            "reason": exc.reason,
            "entry": entry,
        }
        await self.publish_retry(record)  # durable before the entry leaves the outbox
        self.s.sent[key] = {"state": "retry", "attempt": attempt, "at": iso(now)}
        # the retry agent may already have queued the next attempt while the publish was
        # awaited (the broker can answer its fetch before our produce): keep that one
        queued = self.s.outbox.get(key)
        if queued is not None and int(queued.get("attempt", 1)) <= attempt:
            self.s.outbox.pop(key, None)
        self.on_result(self.channel.name, "retry")
        log.info("transient failure for %s (attempt %d), retry in %.1fs", key, attempt, delay)

    async def _fail(
        self,
        entry: dict[str, Any],
        person: dict[str, Any] | None,
        reason: str,
        *,
        permanent: bool,
        now: datetime,
        state: str = "failed",
    ) -> None:
        key = entry["key"]
        # event first, final state after (see _deliver): at least once, same event id
        await self.service.emit(
            NotificationFailedV1(
                **self.service.facts(entry, person),
                reason=reason[:500],
                permanent=permanent,
                attempt=int(entry.get("attempt", 1)),
                failed_at=now,
            ),
            entry["participant_id"],
        )
        self.s.sent[key] = {"state": state, "reason": reason[:500], "at": iso(now)}
        self.s.outbox.pop(key, None)
        self.on_result(self.channel.name, "failed" if permanent else "dead")


def _entry_bytes(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry).encode()
