"""The operations guide stays wired to the things it documents."""

from __future__ import annotations

import re

from schemas.topics import CATALOGUE
from tests.deploy.manifests import ROOT

GUIDE = (ROOT / "docs" / "operations.md").read_text()

#: The figures `make bench` provides (bench/results/latest.json), by key.
BENCH_KEYS = {
    "enrollment.api_rps",
    "enrollment.csv_rows_per_s",
    "reporting.events_per_s",
    "notifier.sms_per_s",
    "e2e.p50_ms",
    "memory.notifier_1m_rss_mb",
}


def test_capacity_plan_uses_exactly_the_bench_figures() -> None:
    used = set(re.findall(r"<BENCH: ([a-z0-9_.]+)>", GUIDE))
    assert used == BENCH_KEYS


def test_readmes_point_to_the_guide() -> None:
    assert "docs/operations.md" in (ROOT / "README.md").read_text()
    assert "docs/operations.md" in (ROOT / "deploy" / "README.md").read_text()


def test_guide_names_every_topic_it_scales_by_with_its_real_partition_count() -> None:
    by_name = {t.name: t.partitions for t in CATALOGUE}
    for name, count in re.findall(r"`(bebas\.[a-z.]+)` \((\d+) partitions\)", GUIDE):
        assert by_name[name] == int(count), name
