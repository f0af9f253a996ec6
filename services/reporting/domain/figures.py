"""From merged counters to the figures people read: totals, breakdowns, rates, daily series.

Input is the sum of every partition's counters, keyed by (family, dims); output is plain data
the API serialises as it is. Pure functions: the same counters always give the same figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.reporting.domain.metrics import (
    AMOUNTS,
    CAMPAIGNS,
    DIMENSIONS,
    ENROLMENTS,
    FAILURES,
    LAPSE_CHANGES,
    LAPSES,
    MESSAGES,
    OPT_OUTS,
    PAYERS,
    PAYMENTS,
    SENT_BY_PROVIDER,
    SUPPRESSIONS,
)

Counters = Mapping[tuple[str, tuple[str, ...]], int]
STATUSES = ("sent", "delivered", "failed", "deferred")
MAX_SERIES_DAYS = 731


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of local days; an open end takes everything on that side."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise ValueError("'from' is after 'to'")
        if self.start and self.end and (self.end - self.start).days >= MAX_SERIES_DAYS:
            raise ValueError(f"the range is longer than {MAX_SERIES_DAYS} days")

    def contains(self, day: str) -> bool:
        return (self.start is None or day >= self.start.isoformat()) and (
            self.end is None or day <= self.end.isoformat()
        )


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def campaign_names(counters: Counters) -> dict[str, str]:
    names: dict[str, str] = {}
    for (family, dims), _ in sorted(counters.items()):
        if family == CAMPAIGNS:
            names[dims[0]] = dims[1]
    return names


@dataclass(frozen=True)
class _Row:
    family: str
    dims: dict[str, str]
    value: int


def _rows(
    counters: Counters, keep: Callable[[dict[str, str]], bool], rng: DateRange
) -> Iterator[_Row]:
    for (family, dims), value in counters.items():
        if family == CAMPAIGNS or not value:
            continue
        named = dict(zip(DIMENSIONS[family], dims, strict=True))
        if rng.contains(named["day"]) and keep(named):
            yield _Row(family, named, value)


def report(
    counters: Counters, keep: Callable[[dict[str, str]], bool], rng: DateRange, group_by: str
) -> dict[str, Any]:
    """Totals, breakdowns and a per-day series of the counters `keep` selects.

    `group_by` is the dimension of the per-group table ("branch" for a campaign, "campaign"
    for a branch).
    """
    enrol: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    status: dict[str, int] = dict.fromkeys(STATUSES, 0)
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    reasons: dict[str, int] = defaultdict(int)
    suppressions: dict[str, int] = defaultdict(int)
    providers: dict[str, int] = defaultdict(int)
    periods: dict[str, dict[str, int]] = defaultdict(lambda: {"payments": 0, "amount": 0})
    opt_channel: dict[str, int] = defaultdict(int)
    lapses: dict[str, int] = dict.fromkeys(LAPSE_CHANGES, 0)
    groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    days: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)

    for row in _rows(counters, keep, rng):
        if row.family == LAPSES:
            # a campaign-level figure only: no series day or group column of its own
            lapses[row.dims["change"]] += row.value
            continue
        if row.family == SUPPRESSIONS:
            # by reason only: not a message status, no series day or group column of its own
            suppressions[row.dims["reason"]] += row.value
            continue
        if row.family == SENT_BY_PROVIDER:
            # a breakdown of `sent` (counted under MESSAGES already): no day or group of its own
            providers[row.dims["provider"]] += row.value
            continue
        d, v, group, day = row.dims, row.value, row.dims[group_by], days[row.dims["day"]]
        if row.family == ENROLMENTS:
            totals["enrolments"] += v
            for dim in ("segment", "source", "officer"):
                enrol[dim][d[dim]] += v
            groups[group]["enrolments"] += v
            day["enrolments"] += v
        elif row.family == MESSAGES:
            status[d["status"]] += v
            by_kind[d["kind"]][d["status"]] += v
            by_channel[d["channel"]][d["status"]] += v
            groups[group][d["status"]] += v
            day[d["status"]] += v
        elif row.family == FAILURES:
            reasons[d["reason"]] += v
        elif row.family == PAYMENTS:
            totals["payments"] += v
            periods[d["period"]]["payments"] += v
            groups[group]["payments"] += v
            day["payments"] += v
        elif row.family == AMOUNTS:
            totals["amount"] += v
            periods[d["period"]]["amount"] += v
            groups[group]["amount"] += v
            day["amount"] += v
        elif row.family == PAYERS:
            totals["payers"] += v
            groups[group]["payers"] += v
            day["payers"] += v
        elif row.family == OPT_OUTS:
            totals["opt_outs"] += v
            opt_channel[d["channel"]] += v
            groups[group]["opt_outs"] += v
            day["opt_outs"] += v

    return {
        "enrolments": {
            "total": totals["enrolments"],
            "by_segment": _sorted(enrol["segment"]),
            "by_source": _sorted(enrol["source"]),
            "by_officer": _sorted(enrol["officer"]),
        },
        "messages": {
            **status,
            "delivery_rate": rate(status["delivered"], status["sent"]),
            "by_kind": _sorted(by_kind),
            "by_channel": _sorted(by_channel),
            "failures_by_reason": _sorted(reasons),
            "suppressed_by_reason": _sorted(suppressions),
            "sent_by_provider": _sorted(providers),
        },
        "payments": {
            "payers": totals["payers"],
            "payments": totals["payments"],
            "amount": totals["amount"],
            "conversion_rate": rate(totals["payers"], totals["enrolments"]),
            "by_period": _sorted(periods),
        },
        "opt_outs": {"total": totals["opt_outs"], "by_channel": _sorted(opt_channel)},
        "lapses": lapses,
        f"by_{group_by}": {name: _group_figures(g) for name, g in sorted(groups.items())},
        "series": _series(days, rng),
    }


_SERIES_FIELDS = ("enrolments", *STATUSES, "payers", "payments", "amount", "opt_outs")


def _group_figures(g: Mapping[str, int]) -> dict[str, Any]:
    figures: dict[str, Any] = {name: g.get(name, 0) for name in _SERIES_FIELDS}
    figures["delivery_rate"] = rate(figures["delivered"], figures["sent"])
    figures["conversion_rate"] = rate(figures["payers"], figures["enrolments"])
    return figures


def _series(days: Mapping[str, Mapping[str, int]], rng: DateRange) -> list[dict[str, Any]]:
    """One entry per day, gaps filled with zeros, from the range's start (or the first day
    with data) to its end (or the last day with data)."""
    if not days and not (rng.start and rng.end):
        return []
    first = rng.start or date.fromisoformat(min(days))
    last = rng.end or date.fromisoformat(max(days))
    if (last - first).days >= MAX_SERIES_DAYS:
        first = last - timedelta(days=MAX_SERIES_DAYS - 1)
    series = []
    for offset in range((last - first).days + 1):
        day = (first + timedelta(days=offset)).isoformat()
        values = days.get(day, {})
        series.append({"date": day, **{name: values.get(name, 0) for name in _SERIES_FIELDS}})
    return series


def _sorted(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (dict(value) if isinstance(value, Mapping) else value)
        for key, value in sorted(mapping.items())
    }


def _in_branch(branch: str | None) -> Callable[[dict[str, str]], bool]:
    """Every branch (None), or one: what an officer's key may read."""
    return lambda d: branch is None or d["branch"] == branch


def campaign_report(
    counters: Counters, code: str, rng: DateRange, branch: str | None = None
) -> dict[str, Any]:
    mine = _in_branch(branch)
    figures = report(counters, lambda d: d["campaign"] == code and mine(d), rng, "branch")
    name = campaign_names(counters).get(code)
    return {"campaign": {"code": code, "name": name}, "range": _range(rng), **figures}


def branch_report(counters: Counters, code: str, rng: DateRange) -> dict[str, Any]:
    figures = report(counters, lambda d: d["branch"] == code, rng, "campaign")
    return {"branch": {"code": code}, "range": _range(rng), **figures}


def overview(counters: Counters, rng: DateRange, branch: str | None = None) -> dict[str, Any]:
    figures = report(counters, _in_branch(branch), rng, "campaign")
    names = campaign_names(counters)
    campaigns = [
        {"code": code, "name": names.get(code), **values}
        for code, values in figures["by_campaign"].items()
    ]
    known = {c["code"] for c in campaigns}
    campaigns += [
        {"code": code, "name": name, **_group_figures({})}
        for code, name in names.items()
        if code not in known
    ]
    return {
        "range": _range(rng),
        "totals": {
            "enrolments": figures["enrolments"]["total"],
            **{s: figures["messages"][s] for s in STATUSES},
            "delivery_rate": figures["messages"]["delivery_rate"],
            "payers": figures["payments"]["payers"],
            "payments": figures["payments"]["payments"],
            "amount": figures["payments"]["amount"],
            "conversion_rate": figures["payments"]["conversion_rate"],
            "opt_outs": figures["opt_outs"]["total"],
        },
        "campaigns": sorted(campaigns, key=lambda c: c["code"]),
    }


CSV_HEADER = ("date", "branch", *_SERIES_FIELDS)


def campaign_csv_rows(
    counters: Counters, code: str, rng: DateRange, branch: str | None = None
) -> list[tuple[str | int, ...]]:
    """One row per local day and branch with anything to report, ordered by day then branch."""
    cells: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    mine = _in_branch(branch)
    for row in _rows(counters, lambda d: d["campaign"] == code and mine(d), rng):
        if row.family in (LAPSES, SUPPRESSIONS, SENT_BY_PROVIDER):  # not daily report columns
            continue
        cell = cells[(row.dims["day"], row.dims["branch"])]
        if row.family == ENROLMENTS:
            cell["enrolments"] += row.value
        elif row.family == MESSAGES:
            cell[row.dims["status"]] += row.value
        elif row.family in (PAYMENTS, PAYERS, OPT_OUTS):
            name = {PAYMENTS: "payments", PAYERS: "payers", OPT_OUTS: "opt_outs"}[row.family]
            cell[name] += row.value
        elif row.family == AMOUNTS:
            cell["amount"] += row.value
    return [
        (day, branch, *(cell.get(name, 0) for name in _SERIES_FIELDS))
        for (day, branch), cell in sorted(cells.items())
    ]


def _range(rng: DateRange) -> dict[str, str | None]:
    return {
        "from": rng.start.isoformat() if rng.start else None,
        "to": rng.end.isoformat() if rng.end else None,
    }
