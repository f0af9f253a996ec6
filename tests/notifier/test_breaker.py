"""The circuit breaker's state machine on a fake clock (services/notifier/domain/breaker.py)."""

from __future__ import annotations

import pytest

from services.notifier.domain.breaker import Breaker, BreakerPolicy, BreakerState

POLICY = BreakerPolicy(
    consecutive_failures=3,
    error_rate=0.5,
    window_seconds=10.0,
    min_requests=6,
    cool_down_seconds=5.0,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_breaker(policy: BreakerPolicy = POLICY) -> tuple[Breaker, FakeClock, list[str]]:
    clock = FakeClock()
    changes: list[str] = []
    return Breaker(policy, clock, changes.append), clock, changes


def test_consecutive_transient_failures_open_it() -> None:
    breaker, _, changes = new_breaker()
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert changes == ["open"]


def test_a_success_breaks_the_streak() -> None:
    breaker, _, _ = new_breaker(BreakerPolicy(consecutive_failures=3, min_requests=1000))
    for _ in range(10):
        breaker.failure()
        breaker.failure()
        breaker.success()
    assert breaker.state is BreakerState.CLOSED


def test_error_rate_over_the_window_opens_it_once_the_window_holds_enough_requests() -> None:
    breaker, clock, _ = new_breaker()
    # failure, success, failure, success, failure: 60 % but only 5 requests (min 6)
    for failed in (True, False, True, False, True):
        (breaker.failure if failed else breaker.success)()
        clock.now += 1
    assert breaker.state is BreakerState.CLOSED
    breaker.success()  # 6 requests, 3 failed = 50 %: at the threshold, not over it
    assert breaker.state is BreakerState.CLOSED
    breaker.failure()  # the 7th: 4 of 7 failed, over 50 %
    assert breaker.state is BreakerState.OPEN


def test_requests_older_than_the_window_no_longer_count() -> None:
    breaker, clock, _ = new_breaker()
    for _ in range(5):
        breaker.success()
        breaker.failure()
        clock.now += 0.5
    # 10 requests, 5 failed (50 %, not over it); 11 s later the window holds none of them
    clock.now += 11
    for _ in range(6):
        breaker.success()
    breaker.failure()
    breaker.failure()  # 2 of 8 in the window: the old failures are gone
    assert breaker.state is BreakerState.CLOSED


def test_error_rate_below_the_threshold_keeps_it_closed() -> None:
    breaker, clock, _ = new_breaker()
    for _ in range(50):
        breaker.failure()
        breaker.success()
        breaker.success()
        clock.now += 0.1
    assert breaker.state is BreakerState.CLOSED


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_it() -> None:
    breaker, clock, changes = new_breaker()
    for _ in range(3):
        breaker.failure()
    clock.now += 4.9
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(0.1)
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.retry_in() == 0
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.allow()
    assert changes == ["open", "half_open", "closed"]


def test_a_failed_probe_opens_it_again_for_a_new_cool_down() -> None:
    breaker, clock, changes = new_breaker()
    for _ in range(3):
        breaker.failure()
    clock.now += 5
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(5.0)
    clock.now += 5
    assert breaker.allow()
    breaker.success()
    assert changes == ["open", "half_open", "open", "half_open", "closed"]


def test_closing_forgets_the_old_failures() -> None:
    breaker, clock, _ = new_breaker()
    for _ in range(3):
        breaker.failure()
    clock.now += 5
    assert breaker.allow()
    breaker.success()
    breaker.failure()
    breaker.failure()  # two in a row after closing, not five
    assert breaker.state is BreakerState.CLOSED


def test_a_released_probe_lets_the_next_caller_probe() -> None:
    breaker, clock, _ = new_breaker()
    for _ in range(3):
        breaker.failure()
    clock.now += 5
    assert breaker.allow()
    breaker.release()  # cancelled: it told nothing
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()


def test_late_answers_of_requests_sent_before_it_opened_change_nothing() -> None:
    breaker, _, changes = new_breaker()
    for _ in range(3):
        breaker.failure()
    breaker.success()  # a slow request that was already under way
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(5.0)
    assert changes == ["open"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("consecutive_failures", 0),
        ("error_rate", 0),
        ("error_rate", 1.5),
        ("window_seconds", 0),
        ("min_requests", 0),
        ("cool_down_seconds", 0),
    ],
)
def test_policy_refuses_nonsense(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        BreakerPolicy(**{field: value})  # type: ignore[arg-type]


def test_after_the_cool_down_an_answer_decides_even_without_a_probe_granted() -> None:
    # a retry bound to this provider (or the list's last provider) is sent without asking
    breaker, clock, changes = new_breaker()
    for _ in range(3):
        breaker.failure()
    clock.now += 5
    breaker.success()
    assert breaker.state is BreakerState.CLOSED
    for _ in range(3):
        breaker.failure()
    clock.now += 5
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert changes == ["open", "half_open", "closed", "open", "half_open", "open"]
