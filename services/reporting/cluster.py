"""Cluster-wide answers: every worker reports the partitions it owns, the API adds them up.

A figure is only given when the partials cover every partition of every source topic exactly
once; otherwise the caller gets 503 naming what is missing (a worker starting, recovering or
unreachable) instead of a silently low number.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

PARTIAL_PATH = "/internal/v1/partial"
PEER_HEADER = "X-Bebas-Peer"


@dataclass
class Partial:
    url: str
    owned: dict[str, list[int]]
    counters: list[tuple[str, tuple[str, ...], int]]
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    events_per_second: float = 0.0
    first_at: float | None = None
    last_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "owned": self.owned,
            "counters": [[family, list(dims), value] for family, dims, value in self.counters],
            "totals": self.totals,
            "events_per_second": self.events_per_second,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Partial:
        return cls(
            url=str(doc["url"]),
            owned={str(t): [int(p) for p in ps] for t, ps in doc["owned"].items()},
            counters=[
                (str(f), tuple(str(d) for d in dims), int(v)) for f, dims, v in doc["counters"]
            ],
            totals=doc.get("totals", {}),
            events_per_second=float(doc.get("events_per_second", 0.0)),
            first_at=doc.get("first_at"),
            last_at=doc.get("last_at"),
        )


@dataclass
class Gathered:
    partials: list[Partial]
    unreachable: dict[str, str]

    def missing(self, expected: dict[str, int]) -> dict[str, list[int]]:
        """Partitions no worker answered for (or that two claimed: mid-rebalance)."""
        claims: Counter[tuple[str, int]] = Counter(
            (topic, p)
            for partial in self.partials
            for topic, ps in partial.owned.items()
            for p in ps
        )
        missing = {
            topic: [p for p in range(n) if claims[(topic, p)] != 1] for topic, n in expected.items()
        }
        return {topic: ps for topic, ps in missing.items() if ps}

    def merged(self) -> Counter[tuple[str, tuple[str, ...]]]:
        total: Counter[tuple[str, tuple[str, ...]]] = Counter()
        for partial in self.partials:
            for family, dims, value in partial.counters:
                total[(family, dims)] += value
        return total


async def gather(
    local: Partial, peers: set[str], timeout_s: float, headers: Mapping[str, str] | None = None
) -> Gathered:
    """This worker's partial plus every peer's, asked concurrently (with `headers`: the peer
    token)."""
    others = sorted(url for url in peers if url != local.url)
    unreachable: dict[str, str] = {}
    partials = [local]
    if others:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            answers = await asyncio.gather(
                *(client.get(url + PARTIAL_PATH, headers=headers) for url in others),
                return_exceptions=True,
            )
        for url, answer in zip(others, answers, strict=True):
            if isinstance(answer, BaseException):
                unreachable[url] = f"{type(answer).__name__}: {answer}"
            elif answer.status_code != 200:
                unreachable[url] = f"HTTP {answer.status_code}"
            else:
                partials.append(Partial.from_json(answer.json()))
    return Gathered(partials, unreachable)
