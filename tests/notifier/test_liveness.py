"""The stuck detector behind /healthz, on an injected clock."""

from __future__ import annotations

from services.notifier.liveness import Liveness


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_worker_still_starting_is_never_stuck() -> None:
    clock = Clock()
    liveness = Liveness(60, clock)
    liveness.observe("tables recovering")
    clock.now += 3600
    liveness.observe("tables recovering")
    assert liveness.stuck() is None


def test_unready_past_the_limit_after_being_ready_is_stuck_with_the_reason() -> None:
    clock = Clock()
    liveness = Liveness(60, clock)
    liveness.observe(None)
    liveness.observe("owns 0 of 6 partitions of bebas.participants")
    clock.now += 59
    assert liveness.stuck() is None
    clock.now += 2
    liveness.observe("owns 0 of 6 partitions of bebas.participants")
    assert liveness.stuck() == (
        "unready for 61 s after being ready: owns 0 of 6 partitions of bebas.participants"
    )


def test_becoming_ready_again_clears_it() -> None:
    clock = Clock()
    liveness = Liveness(60, clock)
    liveness.observe(None)
    liveness.observe("consumer group rebalancing")
    clock.now += 120
    liveness.observe(None)
    assert liveness.stuck() is None
    liveness.observe("consumer group rebalancing")
    clock.now += 30
    assert liveness.stuck() is None
