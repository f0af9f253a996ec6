"""Local state of an earlier embedded broker is discarded; state of this one, or of a real
cluster (no epoch), is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.broker_epoch import EPOCH_ENV, discard_if_stale, seen_epoch
from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings


def _state(folder: Path) -> Path:
    table = folder / "v1" / "tables" / "counts-0.db"
    table.mkdir(parents=True)
    (table / "CURRENT").write_text("MANIFEST-000001\n")
    return table


def test_state_of_an_earlier_broker_is_discarded_once(tmp_path: Path) -> None:
    folder = tmp_path / "reporting"
    assert discard_if_stale(folder, "one")
    table = _state(folder)
    assert not discard_if_stale(folder, "one"), "same broker: keep"
    assert table.exists()
    assert discard_if_stale(folder, "two")
    assert list(folder.iterdir()) == [folder / ".broker-epoch"]
    assert seen_epoch(folder) == "two"


def test_without_an_epoch_nothing_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(EPOCH_ENV, raising=False)
    folder = tmp_path / "reporting"
    table = _state(folder)
    assert not discard_if_stale(folder)
    assert table.exists()
    assert seen_epoch(folder) is None


def test_a_faust_app_starts_on_state_of_its_own_broker_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    folder = tmp_path / "notifier"
    table = _state(folder)
    monkeypatch.setenv(EPOCH_ENV, "fresh")
    make_faust_app("epoch-test", kafka, data_dir=str(folder))
    assert not table.exists()
    table = _state(folder)
    make_faust_app("epoch-test", kafka, data_dir=str(folder))
    assert table.exists()
