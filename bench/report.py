"""bench/results/latest.json and latest.md: every figure beside its target and the machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.targets import TARGETS


def verdicts(figures: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for target in TARGETS:
        value = figures.get(target.key)
        rows.append(
            {
                "key": target.key,
                "target": target.describe(),
                "value": value,
                "met": None if value is None else target.met(value),
            }
        )
    return rows


def write(results_dir: Path, document: dict[str, Any]) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = results_dir / "latest.json", results_dir / "latest.md"
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    md_path.write_text(markdown(document), "utf-8")
    return json_path, md_path


def _cell(value: Any) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return str(value)


def markdown(document: dict[str, Any]) -> str:
    machine = document["machine"]
    lines = [
        "# `make bench` — latest run",
        "",
        f"Machine: {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['cpu']}, "
        f"Python {machine['python']}; measured {machine['measured_at']}.",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [f"| `{k}` | {_cell(v)} |" for k, v in sorted(document["figures"].items())]
    lines += ["", "| target | limit | value | met |", "|---|---|---|---|"]
    for row in document["verdicts"]:
        met = {None: "not measured", True: "yes", False: "**no**"}[row["met"]]
        lines.append(f"| `{row['key']}` | {row['target']} | {_cell(row['value'])} | {met} |")
    if document.get("errors"):
        lines += ["", "Sections that failed:", ""]
        lines += [f"- `{name}`: {error}" for name, error in document["errors"].items()]
    return "\n".join(lines) + "\n"
