"""Reference data as data: provinces (with time zone), branches, segments and the rate table.

These change without a release, so they live in JSON files beside the code (or files named in
the settings), never as literals spread through the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: Indonesia's three zones as IANA names (same values as schemas.vocab.IndonesianTimeZone).
ZONES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    zone: str  # WIB, WITA or WIT

    @property
    def timezone(self) -> str:
        return ZONES[self.zone]


@dataclass(frozen=True)
class Branch:
    code: str
    name: str
    province: Province

    @property
    def timezone(self) -> str:
        return self.province.timezone


@dataclass(frozen=True)
class Segment:
    code: str
    label_id: str
    label_en: str


@dataclass(frozen=True)
class RateTable:
    """BPU contribution rules: JKK and JHT as a percentage of declared income, JKM flat."""

    jkk_rate_percent: Decimal
    jkm_flat: int
    jht_rate_percent: Decimal
    minimum_income: int
    maximum_income: int
    minimum_age: int


@dataclass(frozen=True)
class ReferenceData:
    provinces: dict[str, Province]
    branches: dict[str, Branch]
    segments: dict[str, Segment]
    rates: RateTable


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def load_reference(
    provinces: Path | None = None,
    branches: Path | None = None,
    segments: Path | None = None,
    rates: Path | None = None,
) -> ReferenceData:
    """Read the four tables; a branch naming an unknown province is a configuration error."""
    province_map = {
        row["code"]: Province(row["code"], row["name"], row["zone"])
        for row in _read(provinces or DATA_DIR / "provinces.json")
    }
    for province in province_map.values():
        if province.zone not in ZONES:
            raise ValueError(f"province {province.code}: unknown time zone {province.zone!r}")
    branch_map: dict[str, Branch] = {}
    for row in _read(branches or DATA_DIR / "branches.json"):
        if row["province"] not in province_map:
            raise ValueError(f"branch {row['code']}: unknown province {row['province']!r}")
        branch_map[row["code"]] = Branch(row["code"], row["name"], province_map[row["province"]])
    segment_map = {
        row["code"]: Segment(row["code"], row["label_id"], row["label_en"])
        for row in _read(segments or DATA_DIR / "segments.json")
    }
    raw = _read(rates or DATA_DIR / "rates.json")
    rate_table = RateTable(
        jkk_rate_percent=Decimal(str(raw["jkk_rate_percent"])),
        jkm_flat=int(raw["jkm_flat"]),
        jht_rate_percent=Decimal(str(raw["jht_rate_percent"])),
        minimum_income=int(raw["minimum_income"]),
        maximum_income=int(raw["maximum_income"]),
        minimum_age=int(raw["minimum_age"]),
    )
    return ReferenceData(province_map, branch_map, segment_map, rate_table)
