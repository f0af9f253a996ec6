"""Fakes of the notifier's own ports for unit tests: the partitioned state, the publisher (its
work records are applied when the test pumps them, as the partition owner's stream would)
and a provider channel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from schemas.deadletter import DeadLetter
from schemas.events import EventData
from services.notifier.domain.model import Message
from services.notifier.domain.record import wake_of
from services.notifier.ports import SendReceipt
from services.notifier.work import WorkRecord


def _done() -> asyncio.Future[None]:
    """An acknowledgement that has already arrived."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class FakeState:
    """`StatePort` on dicts, one set per partition; `lose_index_writes` imitates a crash that
    left the record's write on the broker but not its index entries'."""

    def __init__(self) -> None:
        self.people: dict[int, dict[str, dict[str, Any]]] = {}
        self.phones: dict[int, dict[str, str]] = {}
        self.wakeups: dict[int, set[tuple[str, str]]] = {}
        self.lose_index_writes = False

    def get(self, partition: int, participant_id: str) -> dict[str, Any] | None:
        return self.people.get(partition, {}).get(participant_id)

    def save(
        self, partition: int, participant_id: str, record: dict[str, Any], previous_wake: str | None
    ) -> None:
        self.people.setdefault(partition, {})[participant_id] = record
        if self.lose_index_writes:
            return
        wakeups = self.wakeups.setdefault(partition, set())
        wake = wake_of(record)
        if previous_wake is not None and previous_wake != wake:
            wakeups.discard((previous_wake, participant_id))
        if wake is not None:
            wakeups.add((wake, participant_id))

    def drop_wake(self, partition: int, instant: str, participant_id: str) -> None:
        self.wakeups.setdefault(partition, set()).discard((instant, participant_id))

    def phone_owner(self, partition: int, phone: str) -> str | None:
        return self.phones.get(partition, {}).get(phone)

    def set_phone(self, partition: int, phone: str, participant_id: str) -> None:
        if not self.lose_index_writes:
            self.phones.setdefault(partition, {})[phone] = participant_id

    def drop_phone(self, partition: int, phone: str) -> None:
        self.phones.setdefault(partition, {}).pop(phone, None)

    def participants_after(self, partition: int, after: str, limit: int) -> list[str]:
        return sorted(p for p in self.people.get(partition, {}) if p > after)[:limit]

    def due(
        self, partition: int, until: str, limit: int, start: str = ""
    ) -> Iterator[tuple[str, str]]:
        entries = sorted(e for e in self.wakeups.get(partition, set()) if start <= e[0] <= until)
        yield from entries[:limit]


class FakePublisher:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.events: list[EventData] = []
        self.records: list[tuple[int, WorkRecord]] = []  # work records not yet applied
        self.letters: list[DeadLetter] = []
        #: when set, work records are acknowledged only once it is set
        self.acks: asyncio.Event | None = None
        self.refuse_work = 0  # how many of the next work records the broker refuses

    async def event(self, data: EventData, participant_id: str) -> Any:
        self.events.append(data)
        self.log.append(f"event {type(data).__name__}")
        return _done()

    async def work(self, record: WorkRecord, partition: int) -> Any:
        if self.refuse_work:
            self.refuse_work -= 1
            raise ConnectionError("the broker refused the work record")
        self.records.append((partition, record))
        self.log.append(f"work {record.type}")
        if self.acks is not None:
            return asyncio.ensure_future(self.acks.wait())
        return _done()

    async def dead_letter(self, letter: DeadLetter) -> Any:
        self.letters.append(letter)
        return _done()


class FakeChannel:
    provider = "fake"

    def __init__(self, name: str, log: list[str], drops_repeats: bool = True) -> None:
        self.name = name
        self.log = log
        self.drops_repeats = drops_repeats
        self.sent: list[Message] = []
        self.failures: list[Exception] = []
        self.hold: asyncio.Event | None = None  # when set: each send waits for it

    async def send(self, message: Message) -> SendReceipt:
        self.log.append(f"send {message.key}")
        if self.hold is not None:
            await self.hold.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return SendReceipt("fake", f"id-{len(self.sent)}")

    async def close(self) -> None:
        return None
