"""Selecting, paging, counting and replaying dead letters, on a fake ledger and publisher."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from schemas.deadletter import DeadLetter
from schemas.envelope import decode_event
from services.common.deadletters import (
    Outgoing,
    Selection,
    Stored,
    counts_by_reason,
    paged,
    replay,
    select,
    view,
)

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
NIK = "3372015705790001"


def stored(
    offset: int, reason: str, *, topic: str = "bebas.participants", key: bytes | None = None
) -> Stored:
    letter = DeadLetter.of(
        service="reporting", source_topic=topic, value=b"{}", reason=reason, key=key
    ).model_copy(update={"failed_at": T0 + timedelta(minutes=offset)})
    return Stored("bebas.reporting.deadletter", 0, offset, letter)


def test_selection_by_topic_reason_time_and_id() -> None:
    letters = [
        stored(0, "not JSON: oops"),
        stored(1, "schema-invalid: data.phone_e164: Field required"),
        stored(2, "schema-invalid: data.nik_hash", topic="bebas.campaigns"),
    ]
    assert select(letters, Selection(reason="SCHEMA")) == letters[1:]
    assert select(letters, Selection(source_topic="bebas.campaigns")) == letters[2:]
    window = Selection(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))
    assert select(letters, window) == [letters[1]]
    assert select(letters, Selection(ids=frozenset({letters[0].id}))) == [letters[0]]
    assert Selection().empty
    assert not window.empty


def test_an_id_is_the_uuid_in_the_body_or_else_the_place_in_the_topic() -> None:
    with_id = stored(7, "x")
    assert with_id.id == with_id.letter.id
    older = Stored("dl", 0, 7, with_id.letter.model_copy(update={"id": None}))
    assert older.id == "dl:0:7"


def test_pages_are_newest_first_and_counts_go_by_reason() -> None:
    letters = [stored(i, "not JSON" if i % 3 else "schema-invalid") for i in range(7)]
    first, last = paged(letters, 1, 3), paged(letters, 3, 3)
    assert [s.offset for s in first.items] == [6, 5, 4]
    assert [s.offset for s in last.items] == [0]
    assert (first.total, first.pages) == (7, 3)
    assert counts_by_reason(letters) == {"not JSON": 4, "schema-invalid": 3}


def test_a_listing_never_shows_a_raw_nik_nor_the_original_bytes() -> None:
    letter = stored(0, f"not JSON: {NIK} at 1", key=NIK.encode())
    shown = json.dumps(view(letter))
    assert NIK not in shown
    assert "3372**********01" in shown
    assert "value_b64" not in shown
    assert NIK not in json.dumps(counts_by_reason([letter]))


class FakePort:
    def __init__(self, ledger: set[str] | None = None, crash_on_remember: bool = False) -> None:
        self.ledger = set(ledger or ())
        self.log: list[str] = []
        self.crash_on_remember = crash_on_remember

    async def replayed_ids(self) -> set[str]:
        return set(self.ledger)

    async def publish(
        self, topic: str, partition: int | None, key: bytes | None, value: bytes
    ) -> None:
        self.log.append(f"publish {topic}[{partition}] {key!r}")

    async def remember(self, letter: Stored) -> None:
        if self.crash_on_remember:
            raise ConnectionError("crashed between the two writes")
        self.log.append(f"remember {letter.id}")
        self.ledger.add(letter.id)


def _validate(topic: str, value: bytes) -> object:
    return decode_event(value)


async def test_replay_publishes_then_remembers_skips_what_was_replayed_refuses_the_invalid() -> (
    None
):
    good_value = _valid_event()
    good = Stored(
        "dl",
        0,
        1,
        DeadLetter.of(
            service="reporting",
            source_topic="bebas.participants",
            value=good_value,
            key=b"P-1",
            partition=4,
            reason="processing error: fixed since",
        ),
    )
    bad = stored(2, "not JSON")
    port = FakePort()
    report = await replay([good, bad], port, _validate)
    assert report.replayed == [good.id]
    assert list(report.refused) == [bad.id]
    assert report.refused[bad.id].startswith("still invalid: missing 'type'")
    assert port.log == ["publish bebas.participants[4] b'P-1'", f"remember {good.id}"]

    again = await replay([good, bad], port, _validate)
    assert (again.replayed, again.skipped, list(again.refused)) == ([], [good.id], [bad.id])
    assert port.log[2:] == []  # nothing published the second time


async def test_a_letter_selected_twice_in_one_run_is_sent_once() -> None:
    good = Stored(
        "dl",
        0,
        1,
        DeadLetter.of(service="r", source_topic="t", value=_valid_event(), reason="x"),
    )
    port = FakePort()
    report = await replay([good, good], port, _validate)
    assert (report.replayed, report.skipped) == ([good.id], [good.id])


async def test_a_crash_between_publish_and_ledger_sends_the_same_bytes_again() -> None:
    value = _valid_event()
    good = Stored("dl", 0, 1, DeadLetter.of(service="r", source_topic="t", value=value, reason="x"))
    port = FakePort(crash_on_remember=True)
    with pytest.raises(ConnectionError):
        await replay([good], port, _validate)
    assert port.ledger == set()
    port.crash_on_remember = False
    report = await replay([good], port, _validate)
    assert report.replayed == [good.id]
    assert port.log == ["publish t[None] None"] * 2 + [f"remember {good.id}"]


async def test_a_letter_goes_back_as_its_restore_says_and_that_record_is_validated() -> None:
    """A service may restore a letter in another form (the notifier re-queues a message out of
    retries): what is published is the restored record, and it is what validation checks."""
    good = Stored("dl", 0, 1, DeadLetter.of(service="r", source_topic="t", value=b"{}", reason="x"))
    bad = Stored("dl", 0, 2, DeadLetter.of(service="r", source_topic="t", value=b"!", reason="y"))
    checked: list[tuple[str, bytes]] = []
    restored = _valid_event()

    def restore(letter: Stored) -> Outgoing:
        if letter.letter.original() == b"!":
            raise ValueError("not a queue entry")
        return Outgoing("work", 3, b"P-1", restored)

    def validate(topic: str, value: bytes) -> object:
        checked.append((topic, value))
        return decode_event(value)

    port = FakePort()
    report = await replay([good, bad], port, validate, restore)
    assert (report.replayed, report.refused) == (
        [good.id],
        {bad.id: "still invalid: not a queue entry"},
    )
    assert checked == [("work", restored)]
    assert port.log == ["publish work[3] b'P-1'", f"remember {good.id}"]


def _valid_event() -> bytes:
    from tests.reporting import factory as f

    return f.raw(f.envelope(f.registered("P-1", T0), "P-1"))
