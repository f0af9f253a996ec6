"""The quick subset of `make reliability` (bench/faults.py): each scenario on a fresh
platform, a small steady load, and the count must come out 0 lost, 0 duplicated, exact."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bench.reliability import loads, run_scenario

QUICK = ("malformed_input", "notifier_sigkill_x3", "broker_unreachable")
_salts = itertools.count(700)


@pytest.mark.parametrize("scenario", QUICK)
def test_fault_scenario_loses_and_duplicates_nothing(scenario: str, tmp_path: Path) -> None:
    outcome = run_scenario(scenario, tmp_path, loads(quick=True), salt=next(_salts))
    assert outcome.sent == outcome.expected, outcome.details
    assert (outcome.lost, outcome.duplicated) == (0, 0), outcome
    assert outcome.metrics_exact, outcome
    if scenario == "malformed_input":
        assert outcome.details["bebas.notifier.deadletter"] >= 9, outcome.details
        assert outcome.details["bebas.reporting.deadletter"] >= 6, outcome.details
        assert outcome.details["bebas.enrollment.deadletter"] >= 3, outcome.details
        # every poisoned topic's letters are on reporting's API, whichever service wrote them,
        # each with its reason and source offset, and a replay refuses them all
        readers = {
            "bebas.participants": ["notifier", "reporting"],
            "bebas.campaigns": ["notifier", "reporting"],
            "bebas.notifications": ["reporting"],
            "bebas.notifier.work": ["notifier"],
            "bebas.enrollment.requests": ["enrollment"],
        }
        api = outcome.details["api"]
        for topic, services in readers.items():
            seen = api[topic]
            assert seen["services"] == services, (topic, seen)
            assert seen["listed"] >= 3 * len(services), (topic, seen)
            assert seen["with_reason_and_offset"] == seen["listed"], (topic, seen)
            assert (seen["replayed"], seen["refused"]) == (0, seen["listed"]), (topic, seen)
