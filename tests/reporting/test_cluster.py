"""Cluster-wide answers are complete or refused: coverage of partitions by the partials."""

from __future__ import annotations

from services.reporting.cluster import Gathered, Partial

EXPECTED = {"participants": 3, "campaigns": 1}


def partial(url: str, owned: dict[str, list[int]], value: int = 1) -> Partial:
    return Partial(
        url, owned, [("enr", ("K", "SKA", "pedagang", "field", "-", "2023-12-16"), value)]
    )


def test_two_halves_cover_everything_and_add_up() -> None:
    got = Gathered(
        [
            partial("a", {"participants": [0, 2], "campaigns": [0]}, 2),
            partial("b", {"participants": [1], "campaigns": []}, 3),
        ],
        {},
    )
    assert got.missing(EXPECTED) == {}
    assert sum(got.merged().values()) == 5


def test_a_missing_or_unreachable_worker_leaves_named_partitions_missing() -> None:
    got = Gathered([partial("a", {"participants": [0, 2], "campaigns": [0]})], {"b": "timeout"})
    assert got.missing(EXPECTED) == {"participants": [1]}


def test_a_partition_claimed_twice_mid_rebalance_is_not_trusted() -> None:
    got = Gathered(
        [
            partial("a", {"participants": [0, 1, 2], "campaigns": [0]}),
            partial("b", {"participants": [2], "campaigns": []}),
        ],
        {},
    )
    assert got.missing(EXPECTED) == {"participants": [2]}


def test_partials_round_trip_through_json() -> None:
    p = partial("http://a", {"participants": [1]}, 7)
    assert Partial.from_json(p.to_json()) == p
