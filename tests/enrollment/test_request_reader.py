"""The request reader's bookkeeping on fakes of its own ports (the real-broker proof is in
test_opt_out_requests.py): a record is committed past only once handled for good, a failure
that may pass puts it back, and a batch after an offset gap is fetched again until the gap has
lasted long enough to be real."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.enrollment.adapters.requests import Refused, RequestReader

TP = ("bebas.enrollment.requests", 0)


@dataclass
class Record:
    offset: int
    value: bytes
    topic: str = TP[0]
    partition: int = 0
    key: bytes | None = None


@dataclass
class FakeConsumer:
    seeks: list[tuple[Any, int]] = field(default_factory=list)
    commits: int = 0

    def poll(self, timeout_ms: int = 0) -> dict[Any, list[Any]]:
        return {}

    def seek(self, partition: Any, offset: int) -> None:
        self.seeks.append((partition, offset))

    def commit(self) -> None:
        self.commits += 1

    def close(self, autocommit: bool = True) -> None:
        pass


class Ack:
    def get(self, timeout: float) -> None:
        pass


@dataclass
class FakeProducer:
    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def send(self, topic: str, value: bytes, key: bytes, headers: list[Any]) -> Ack:
        self.sent.append((topic, value))
        return Ack()

    def close(self, timeout: float | None = None) -> None:
        pass


class Handler:
    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.fail_next = 0

    def __call__(self, raw: bytes) -> str:
        self.seen.append(raw)
        if raw == b"bad":
            raise Refused("type: not a request")
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("database down")
        return "applied"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def reader(handler: Handler, producer: FakeProducer, clock: Clock) -> RequestReader:
    return RequestReader(
        FakeConsumer,
        lambda: producer,
        handler,
        "dead",
        retry_pause=0,
        gap_grace=10,
        monotonic=clock,
    )


def test_handled_and_refused_records_are_passed_a_failing_one_is_put_back() -> None:
    handler, producer, clock = Handler(), FakeProducer(), Clock()
    subject, consumer = reader(handler, producer, clock), FakeConsumer()
    handler.fail_next = 0
    subject.read(consumer, {TP: [Record(0, b"a"), Record(1, b"bad")]})
    assert consumer.seeks == []
    assert consumer.commits == 1
    assert [topic for topic, _ in producer.sent] == ["dead"]  # the refused one, with why
    assert b"type: not a request" in producer.sent[0][1]

    handler.fail_next = 1
    subject.read(consumer, {TP: [Record(2, b"c"), Record(3, b"d")]})
    assert consumer.seeks == [(TP, 2)]  # c failed: read again from there; d not touched
    assert handler.seen[-1] == b"c"
    subject.read(consumer, {TP: [Record(2, b"c"), Record(3, b"d")]})
    assert handler.seen[-2:] == [b"c", b"d"]


def test_a_batch_after_an_offset_gap_is_fetched_again_until_the_gap_is_old() -> None:
    handler, producer, clock = Handler(), FakeProducer(), Clock()
    subject, consumer = reader(handler, producer, clock), FakeConsumer()
    subject.read(consumer, {TP: [Record(0, b"a")]})
    subject.read(consumer, {TP: [Record(5, b"f")]})  # 1..4 not readable yet
    assert consumer.seeks == [(TP, 1)]
    assert handler.seen == [b"a"]
    subject.read(consumer, {TP: [Record(1, b"b")]})  # the earlier batch did come
    assert handler.seen == [b"a", b"b"]

    subject.read(consumer, {TP: [Record(9, b"j")]})  # 2..8 missing
    clock.now = 9.9
    subject.read(consumer, {TP: [Record(9, b"j")]})
    assert handler.seen[-1] == b"b"
    clock.now = 10.0  # a gap that lasts is real (Apache Kafka: compaction, markers)
    subject.read(consumer, {TP: [Record(9, b"j")]})
    assert handler.seen[-1] == b"j"
