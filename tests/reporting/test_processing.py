"""The batch handler with table state over a plain dict (the table port's fake)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.reporting.domain.metrics import AMOUNTS, PAYERS, PAYMENTS
from services.reporting.processing import SERVICE_VERSION, Record, handle_batch
from services.reporting.state import TableState
from tests.reporting import factory as f

AT = datetime(2023, 12, 16, 3, 0, tzinfo=UTC)


def record(value: bytes, partition: int = 0, offset: int = 0) -> Record:
    return Record("bebas.participants", partition, offset, b"P1", value)


def counted(state: TableState) -> dict[tuple[str, tuple[str, ...]], int]:
    return {(fam, dims): v for fam, dims, v in state.counters({0, 1, 2})}


def run(state: TableState, records: list[Record]) -> Any:
    outcome = handle_batch(records, state)
    state.write(outcome)
    return outcome


def test_duplicates_in_one_batch_and_across_batches_count_once() -> None:
    state = TableState({}, capacity=1000)
    event = f.raw(f.envelope(f.registered("P1", AT), "P1"))
    first = run(state, [record(event), record(event, offset=1)])
    second = run(state, [record(event, offset=2)])
    assert (first.counted, first.duplicates, second.counted, second.duplicates) == (1, 1, 0, 1)
    assert list(counted(state).values()) == [1]


def test_ids_survive_a_restart_through_the_table() -> None:
    table: dict[str, Any] = {}
    event = f.raw(f.envelope(f.registered("P1", AT), "P1"))
    run(TableState(table, capacity=1000), [record(event)])
    restarted = TableState(dict(table), capacity=1000)  # what recovery gives back
    assert run(restarted, [record(event)]).duplicates == 1


def test_only_the_first_payment_of_a_participant_makes_a_payer() -> None:
    state = TableState({}, capacity=1000)
    pays = [f.raw(f.envelope(f.paid("P1", AT, period=p), "P1")) for p in ("2023-12", "2024-01")]
    run(state, [record(pays[0])])
    run(state, [record(pays[1])])
    payers = {k: v for k, v in counted(state).items() if k[0] == "payer"}
    assert payers == {("payer", ("KLEWER23", "SKA", "2023-12-16")): 1}


def test_a_period_paid_in_two_parts_counts_two_payments_its_cost_and_one_payer() -> None:
    state = TableState({}, capacity=1000)
    part = f.raw(f.envelope(f.partially_paid("P1", AT, amount=10_000, cost=16_800), "P1"))
    rest = f.raw(f.envelope(f.paid_v3("P1", AT, amount=6_800, cost=16_800, period="2023-12"), "P1"))
    run(state, [record(part)])
    assert not [k for k in counted(state) if k[0] == PAYERS]  # something paid, no cover yet
    run(state, [record(rest, offset=1)])
    dims = ("KLEWER23", "SKA", "2023-12", "2023-12-16")
    figures = counted(state)
    assert (figures[(PAYMENTS, dims)], figures[(AMOUNTS, dims)]) == (2, 16_800)
    assert figures[(PAYERS, ("KLEWER23", "SKA", "2023-12-16"))] == 1


def test_malformed_input_is_dead_lettered_and_the_rest_counted() -> None:
    state = TableState({}, capacity=1000)
    good = f.raw(f.envelope(f.registered("P1", AT), "P1"))
    outcome = run(state, [record(b"{oops", offset=5), record(good, offset=6)])
    assert outcome.counted == 1
    (dead,) = outcome.dead_letters
    assert (dead.source_topic, dead.partition, dead.offset) == ("bebas.participants", 0, 5)
    assert dead.original() == b"{oops"
    assert dead.reason.startswith("not JSON")


def test_counters_stay_separate_per_source_partition() -> None:
    state = TableState({}, capacity=1000)
    a = f.raw(f.envelope(f.registered("P1", AT), "P1"))
    b = f.raw(f.envelope(f.registered("P2", AT), "P2"))
    run(state, [record(a, partition=0), record(b, partition=2)])
    deltas = sorted(k for k in state.table if k.split("|")[1] == "d")
    assert deltas == ["0|d|0", "2|d|0"]
    assert sum(v for _, _, v in state.counters({2})) == 1


def test_snapshots_fold_deltas_and_reload_to_the_same_totals() -> None:
    table: dict[str, Any] = {}
    state = TableState(table, capacity=1000, snapshot_every=3)
    for i in range(8):  # 8 batches: two snapshots, two deltas after the last one
        event = f.raw(f.envelope(f.registered(f"P{i}", AT, segment=f"seg{i % 2}"), f"P{i}"))
        run(state, [record(event)])
    kinds = sorted({k.split("|")[1] for k in table})
    assert kinds == ["d", "s", "snap", "snaphead"]
    assert len([k for k in table if k.split("|")[1] == "d"]) == 2
    assert len([k for k in table if k.split("|")[1] == "snaphead"]) == 1
    reloaded = TableState(dict(table), capacity=1000, snapshot_every=3)
    assert counted(reloaded) == counted(state)
    assert sum(counted(state).values()) == 8
    assert {dims[2] for (_, dims) in counted(state)} == {"seg0", "seg1"}


def test_a_huge_batch_stores_its_ids_in_bounded_chunks() -> None:
    from services.reporting import state as state_module

    table: dict[str, Any] = {}
    state = TableState(table, capacity=100_000)
    events = [
        record(f.raw(f.envelope(f.registered(f"P{i}", AT), f"P{i}")), offset=i)
        for i in range(state_module.SEEN_CHUNK_IDS + 10)
    ]
    run(state, events)
    chunks = [v for k, v in table.items() if k.split("|")[1] == "s"]
    assert sorted(len(c.split(" ")) for c in chunks) == [10, state_module.SEEN_CHUNK_IDS]
    restarted = TableState(dict(table), capacity=100_000)
    assert run(restarted, events[-3:]).duplicates == 3


def test_a_dead_letter_says_which_error_which_version_and_that_it_was_tried_once() -> None:
    state = TableState({}, capacity=1000)
    outcome = run(state, [record(b"{oops", offset=5)])
    (dead,) = outcome.dead_letters
    assert dead.service == "reporting"
    assert dead.error_class == "schemas.envelope.DecodeError"
    assert dead.error_message == dead.reason
    assert dead.service_version == SERVICE_VERSION != "unknown"
    assert dead.attempts == 1
    assert dead.first_attempt_at == dead.last_attempt_at is not None
