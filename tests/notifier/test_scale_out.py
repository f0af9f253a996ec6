"""Several notifier workers share the partitions and the work: a worker joining or leaving in the
middle of a burst loses nothing and sends nothing twice (real broker, gateway and SMTP sink)."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.envelope import encode_event, new_event
from schemas.topics import PARTICIPANTS
from services.common.kafka_settings import KafkaSettings
from services.notifier.store import partition_for
from tests.notifier.factories import registered
from tests.notifier.harness import Stack, running_stack, wait_for

pytestmark = pytest.mark.integration
BURST = 150


@pytest.fixture
def fresh_stack(kafka_settings: KafkaSettings, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(kafka_settings, tmp_path) as running:
        yield running


def _burst(stack: Stack, count: int) -> list[str]:
    people = [registered(stack.now()) for _ in range(count)]
    for person in people:
        event = new_event(person, source="urn:test", subject=person.participant_id)
        stack.producer.send(
            stack.topic(PARTICIPANTS.name),
            key=person.participant_id.encode(),
            value=encode_event(event),
        )
    stack.producer.flush()
    return [p.participant_id for p in people]


def _welcomes_once(stack: Stack, pids: list[str]) -> None:
    wait_for(lambda: len(stack.sms()) >= len(pids) and len(stack.mails()) >= len(pids), timeout=180)
    sms = Counter(s["reference"] for s in stack.sms())
    mails = Counter(m["notification_key"] for m in stack.mails())
    assert set(sms) == {f"{pid}|welcome|once|sms" for pid in pids}
    assert set(mails) == {f"{pid}|welcome|once|email" for pid in pids}
    assert max(sms.values()) == 1
    assert max(mails.values()) == 1


def _split(stack: Stack, names: list[str]) -> dict[str, set[int]]:
    return {name: set(stack.readyz(name)["dispatching"]) for name in names}


def test_two_workers_split_the_partitions_and_a_graceful_handover_repeats_nothing(
    fresh_stack: Stack,
) -> None:
    stack = fresh_stack
    pids = _burst(stack, BURST)
    wait_for(lambda: len(stack.sms()) >= 10, timeout=60, every=0.02)
    stack.start_notifier(name="second")  # joins mid-burst
    pids += _burst(stack, BURST)

    def shared() -> dict[str, set[int]] | None:
        split = _split(stack, ["notifier", "second"])
        mine, theirs = split["notifier"], split["second"]
        whole = mine | theirs == set(range(PARTICIPANTS.partitions))
        return split if mine and theirs and not mine & theirs and whole else None

    split = wait_for(shared, timeout=90)
    _welcomes_once(stack, pids)
    # both did the work: each sent the welcomes of its own partitions
    senders = {name: 0 for name in split}
    for pid in pids:
        owner = next(n for n, parts in split.items() if partition_for(pid, 6) in parts)
        senders[owner] += 1
    assert all(count > 0 for count in senders.values()), senders
    # a handover between live workers re-offers nothing, even to a provider that would drop it
    attempts = Counter(r["reference"] for r in stack.sms_requests_all())
    assert max(attempts.values()) == 1
    assert stack.mail_duplicates() == []

    stack.stop("second")  # leaves gracefully while another burst runs
    more = _burst(stack, BURST)
    _welcomes_once(stack, pids + more)
    assert max(Counter(r["reference"] for r in stack.sms_requests_all()).values()) == 1
    assert stack.mail_duplicates() == []
    assert stack.readyz("notifier")["dispatching"] == list(range(PARTICIPANTS.partitions))


def test_a_worker_killed_mid_burst_loses_nothing(fresh_stack: Stack) -> None:
    stack = fresh_stack
    stack.start_notifier(name="second")
    wait_for(lambda: all(_split(stack, ["notifier", "second"]).values()), timeout=90)
    pids = _burst(stack, BURST * 2)
    wait_for(lambda: len(stack.sms()) >= 20, timeout=60, every=0.02)
    stack.stop("second", signal.SIGKILL)
    assert len(stack.sms()) < len(pids), "the kill came too late to test anything"
    _welcomes_once(stack, pids)
    # what the killed worker had in flight went out again under the same keys: the gateway
    # dropped the SMS copies; e-mail rounds are as small as the SMTP concurrency (4), two at once
    assert len(stack.mail_duplicates()) <= 8
