"""The bench harness's own arithmetic: a wrong verdict would misreport every target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench import report
from bench.stats import percentile, repeat
from bench.targets import TARGETS, Target


def test_targets_compare_in_the_right_direction() -> None:
    assert Target("x", at_least=0.4).met(0.4)
    assert not Target("x", at_least=0.4).met(0.39)
    assert Target("x", at_most=250).met(250)
    assert not Target("x", at_most=250).met(251)


def test_every_target_of_issue_6_is_listed_once() -> None:
    keys = [t.key for t in TARGETS]
    assert len(keys) == len(set(keys))
    assert {"enrollment.ratio", "reporting.ratio_vs_noop_faust", "e2e.p99_ms"} <= set(keys)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_repeat_discards_warmup_and_takes_the_median() -> None:
    runs = iter([1000.0, 3.0, 1.0, 2.0])
    sample = repeat(lambda: next(runs), warmup=1, repetitions=3)
    assert sample.median == 2.0
    assert sample.runs == [3.0, 1.0, 2.0]


def test_report_marks_unmeasured_missed_and_met(tmp_path: Path) -> None:
    figures = {"enrollment.ratio": 0.55, "e2e.p99_ms": 1200.0}
    document = {
        "machine": {"cores": 2, "memory_gib": 24, "cpu": "x", "python": "3.11", "measured_at": "t"},
        "figures": figures,
        "verdicts": report.verdicts(figures),
        "errors": {"notifier": "RuntimeError: gateway down"},
    }
    by_key = {row["key"]: row for row in document["verdicts"]}
    assert by_key["enrollment.ratio"]["met"] is True
    assert by_key["e2e.p99_ms"]["met"] is False
    assert by_key["notifier.ratio"]["met"] is None
    json_path, md_path = report.write(tmp_path, document)
    text = md_path.read_text(encoding="utf-8")
    assert "| `e2e.p99_ms` | ≤ 600 | 1,200.0 | **no** |" in text
    assert "`notifier`: RuntimeError: gateway down" in text
    assert json_path.exists()


def test_identities_are_unique_valid_and_salted_apart() -> None:
    from bench.identities import identities

    first, second = identities(5000, salt=1), identities(5000, salt=2)
    niks = {nik for nik, _ in first + second}
    assert len(niks) == 10_000
    for nik, phone in first[:50]:
        assert len(nik) == 16
        assert nik.isdigit()
        assert nik.startswith("3372")
        assert 1 <= int(nik[6:8]) <= 28
        assert 1 <= int(nik[8:10]) <= 12
        assert phone.startswith("+62812")
        assert len(phone) == 14


@pytest.mark.parametrize(
    ("now", "hours"),
    [
        (datetime(2026, 11, 29, 1, 0, tzinfo=UTC), 1.0),  # 08:00 WIB: an hour to 09:00 WIB
        (datetime(2026, 11, 29, 2, 0, tzinfo=UTC), 24.0),  # exactly 02:00: the next day's
        (datetime(2026, 11, 29, 15, 30, tzinfo=UTC), 10.5),  # 22:30 WIB, quiet hours
    ],
)
def test_daytime_offset_lands_on_the_next_0200_utc(now: datetime, hours: float) -> None:
    from bench.driver import daytime_offset

    offset = daytime_offset(now)
    assert offset == hours * 3600
    landed = now + timedelta(seconds=offset)
    for zone, local_hour in (("Asia/Jakarta", 9), ("Asia/Makassar", 10), ("Asia/Jayapura", 11)):
        assert landed.astimezone(ZoneInfo(zone)).hour == local_hour
