"""The operations guide stays wired to the things it documents."""

from __future__ import annotations

import json
import re

from schemas.topics import CATALOGUE
from tests.deploy.manifests import ROOT

GUIDE = (ROOT / "docs" / "operations.md").read_text()

#: The reference runs of `make bench` committed beside the guide that plans with them: the
#: notifier's scale-out run, its and the end-to-end runs after its provider requests moved to
#: aiohttp, the whole platform's reference run and the notifier section's run of three rounds
#: after it (a later one wins for a figure several have).
RESULTS = (
    "notifier-scale-out.json",
    "notifier-2026-12-05-aiohttp.json",
    "e2e-2026-12-05-aiohttp.json",
    "latest.json",
    "notifier-2026-12-05-medians.json",
)
MEASURED: dict[str, float] = {}
for _name in RESULTS:
    MEASURED.update(json.loads((ROOT / "bench" / "results" / _name).read_text())["figures"])


def _capacity_section() -> str:
    return GUIDE.split("## 8. Capacity plan")[1].split("\n## 9.")[0]


def test_no_document_keeps_a_placeholder_for_a_figure() -> None:
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("services/*/README.md")]:
        assert "<BENCH" not in path.read_text(), path


def test_the_capacity_plan_quotes_measured_figures_as_measured() -> None:
    rows = re.findall(r"^\| `([a-z0-9_.]+)` \| ([0-9.,]+) \|", _capacity_section(), re.M)
    assert len(rows) >= 6
    for key, shown in rows:
        assert key in MEASURED, f"{key} is in no committed bench run"
        value = float(shown.replace(",", ""))
        assert abs(value - MEASURED[key]) <= max(0.5, abs(MEASURED[key]) * 0.005), key


def test_readmes_point_to_the_guide() -> None:
    assert "docs/operations.md" in (ROOT / "README.md").read_text()
    assert "docs/operations.md" in (ROOT / "deploy" / "README.md").read_text()


def test_guide_names_every_topic_it_scales_by_with_its_real_partition_count() -> None:
    by_name = {t.name: t.partitions for t in CATALOGUE}
    for name, count in re.findall(r"`(bebas\.[a-z.]+)` \((\d+) partitions\)", GUIDE):
        assert by_name[name] == int(count), name
