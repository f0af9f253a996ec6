"""Dead letters an operator can read and replay: selection, paging, counts and the replay rule.

No Kafka here: the letters come in as `Stored` values, and replay talks to a `ReplayPort`
(services/common/deadletter_kafka.py is the Kafka one), so the rule is tested on its own.

Replay is at most once per dead letter, and safe when repeated or cut short:
 1. the letters already in the replay ledger (a compacted topic keyed by dead-letter id) are
    skipped;
 2. a letter whose bytes still fail the source topic's validation is refused, before anything
    is published;
 3. the original key and value go back to the source topic (and partition) and are
    acknowledged; only then is the letter's id written to the ledger. A service may restore a
    letter in another form (`Restore`): the notifier turns a message out of retries, whose
    bytes are a queue entry, into a work record that queues it again.
A crash between 3's two writes leaves the letter out of the ledger, so the next replay sends
the same bytes again: the same event, with the same event id, which every consumer drops as a
duplicate (reporting and the notifier de-duplicate by event id). Writing the ledger first
would instead lose the letter for good if the crash came before the publish.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from schemas.deadletter import DeadLetter
from schemas.nik import mask_nik

_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
PAGE_SIZE = 50

#: raises ValueError (DecodeError is one) when these bytes are not valid on that topic
Validator = Callable[[str, bytes], object]


@dataclass(frozen=True, slots=True)
class Stored:
    """A dead letter and where it sits in its dead-letter topic."""

    topic: str
    partition: int
    offset: int
    letter: DeadLetter

    @property
    def id(self) -> str:
        """The uuid in its body; letters written before ids existed go by their place."""
        return self.letter.id or f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class Selection:
    source_topic: str | None = None
    reason: str | None = None  # a case-insensitive substring of the reason
    since: datetime | None = None  # failed at or after
    until: datetime | None = None  # failed before
    ids: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.source_topic or self.reason or self.since or self.until or self.ids)

    def matches(self, stored: Stored) -> bool:
        letter = stored.letter
        return (
            (self.source_topic is None or letter.source_topic == self.source_topic)
            and (self.reason is None or self.reason.casefold() in letter.reason.casefold())
            and (self.since is None or letter.failed_at >= self.since)
            and (self.until is None or letter.failed_at < self.until)
            and (not self.ids or stored.id in self.ids)
        )


def select(letters: Iterable[Stored], selection: Selection) -> list[Stored]:
    return [stored for stored in letters if selection.matches(stored)]


@dataclass(frozen=True)
class Page:
    items: list[Stored]
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def paged(letters: Sequence[Stored], page: int = 1, size: int = PAGE_SIZE) -> Page:
    """Newest first (the failure an operator is chasing is usually the latest)."""
    newest = sorted(letters, key=lambda s: s.letter.failed_at, reverse=True)
    start = (page - 1) * size
    return Page(newest[start : start + size], page, size, len(newest))


def counts_by_reason(letters: Iterable[Stored]) -> dict[str, int]:
    counts = Counter(scrub(stored.letter.reason) for stored in letters)
    return dict(counts.most_common())


def scrub(text: str) -> str:
    """Any 16-digit run masked like a NIK: a reason or key may quote the input it rejected."""
    return _NIK.sub(lambda match: mask_nik(match.group()), text)


def view(stored: Stored) -> dict[str, Any]:
    """What a listing shows of one letter: every field but the original bytes (which may hold
    personal data), text scrubbed of NIKs."""
    body = stored.letter.model_dump(mode="json", exclude={"value_b64"})
    for name in ("reason", "error_message", "key"):
        if body.get(name):
            body[name] = scrub(body[name])
    return {
        **body,
        "id": stored.id,
        "deadletter": {"topic": stored.topic, "partition": stored.partition},
        "deadletter_offset": stored.offset,
        "value_bytes": len(stored.letter.original()),
    }


@dataclass(frozen=True, slots=True)
class Outgoing:
    """The record a dead letter goes back as."""

    topic: str
    partition: int | None
    key: bytes | None
    value: bytes


#: what a dead letter goes back as; raises ValueError when it cannot go back at all
Restore = Callable[[Stored], Outgoing]


def as_it_was(stored: Stored) -> Outgoing:
    """The original key and value, to the topic and partition they came from."""
    letter = stored.letter
    key = letter.key.encode() if letter.key is not None else None
    return Outgoing(letter.source_topic, letter.partition, key, letter.original())


class ReplayPort(Protocol):
    async def replayed_ids(self) -> set[str]:
        """The ids in the replay ledger."""
        ...

    async def publish(
        self, topic: str, partition: int | None, key: bytes | None, value: bytes
    ) -> None:
        """Send one record and wait until the broker acknowledged it."""
        ...

    async def remember(self, stored: Stored) -> None:
        """Write the letter's id to the ledger and wait for the acknowledgement."""
        ...


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already replayed
    refused: dict[str, str] = field(default_factory=dict)  # id -> why

    def as_dict(self) -> dict[str, Any]:
        return {
            "replayed": len(self.replayed),
            "skipped": len(self.skipped),
            "refused": len(self.refused),
            "replayed_ids": self.replayed,
            "skipped_ids": self.skipped,
            "refusals": [{"id": i, "reason": scrub(r)} for i, r in self.refused.items()],
        }


async def replay(
    letters: Iterable[Stored],
    port: ReplayPort,
    validate: Validator,
    restore: Restore = as_it_was,
) -> ReplayReport:
    report = ReplayReport()
    done = await port.replayed_ids()
    for stored in letters:
        if stored.id in done:
            report.skipped.append(stored.id)
            continue
        try:
            out = restore(stored)
            validate(out.topic, out.value)  # what is published is what is checked
        except ValueError as exc:
            report.refused[stored.id] = f"still invalid: {exc}"
            continue
        await port.publish(out.topic, out.partition, out.key, out.value)
        await port.remember(stored)  # only after the publish was acknowledged: see above
        done.add(stored.id)
        report.replayed.append(stored.id)
    return report
