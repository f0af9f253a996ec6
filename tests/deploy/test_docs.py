"""The operations guide stays wired to the things it documents."""

from __future__ import annotations

import json
import re

from schemas.topics import CATALOGUE
from tests.deploy.manifests import ROOT

GUIDE = (ROOT / "docs" / "operations.md").read_text()

#: The reference run of `make bench`, committed beside the guide that plans with them.
MEASURED = set(json.loads((ROOT / "bench" / "results" / "latest.json").read_text())["figures"])


def test_capacity_plan_uses_only_figures_the_bench_measured_and_shows_them() -> None:
    used = set(re.findall(r"<BENCH: ([a-z0-9_.]+)>", GUIDE))
    assert len(used) >= 6
    assert used <= MEASURED, used - MEASURED
    for key in used:
        assert f"| `{key}` |" in GUIDE, f"the guide's table of measured figures lacks {key}"


def test_readmes_point_to_the_guide() -> None:
    assert "docs/operations.md" in (ROOT / "README.md").read_text()
    assert "docs/operations.md" in (ROOT / "deploy" / "README.md").read_text()


def test_guide_names_every_topic_it_scales_by_with_its_real_partition_count() -> None:
    by_name = {t.name: t.partitions for t in CATALOGUE}
    for name, count in re.findall(r"`(bebas\.[a-z.]+)` \((\d+) partitions\)", GUIDE):
        assert by_name[name] == int(count), name
