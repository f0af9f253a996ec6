"""`make run`'s view of reporting: the run's enrollment admin key signs into the dashboard
(by its digest), next to any configured entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.apikeys import key_digest
from services.platform import DEFAULT_PORTS, LaunchContext, collect_processes
from services.reporting.domain.access import parse_keys


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LaunchContext:
    for name in (
        "ENROLLMENT_BOOTSTRAP_ADMIN_KEY",
        "REPORTING_KEY_HASHES",
        "REPORTING_SESSION_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    return LaunchContext("127.0.0.1:9092", tmp_path, dict(DEFAULT_PORTS))


def _env(ctx: LaunchContext) -> tuple[dict[str, str], dict[str, str]]:
    specs = {spec.name: spec for spec in collect_processes(ctx)}  # enrollment runs first
    return specs["enrollment"].urls, specs["reporting"].env


def test_the_printed_admin_key_signs_in_on_this_and_later_runs(ctx: LaunchContext) -> None:
    urls, env = _env(ctx)
    key = urls["admin key (shown once)"]
    assert parse_keys(env["REPORTING_KEY_HASHES"])[key_digest(key)].role == "admin"
    assert key not in env["REPORTING_KEY_HASHES"]
    assert len(env["REPORTING_SESSION_SECRET"]) >= 32
    _, later = _env(ctx)
    assert later["REPORTING_KEY_HASHES"] == env["REPORTING_KEY_HASHES"]


def test_configured_entries_are_kept_and_not_listed_twice(
    ctx: LaunchContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = "bck_configured-admin-key-0123"
    officer = f"{key_digest('bck_an-officer-key-456789')}:officer:SKA"
    monkeypatch.setenv("ENROLLMENT_BOOTSTRAP_ADMIN_KEY", admin)
    monkeypatch.setenv("REPORTING_KEY_HASHES", f"{officer},{key_digest(admin)}:viewer")
    monkeypatch.setenv("REPORTING_SESSION_SECRET", "configured-session-secret-01")
    _, env = _env(ctx)
    keys = parse_keys(env["REPORTING_KEY_HASHES"])  # a digest listed twice would raise
    assert keys[key_digest(admin)].role == "viewer"  # the operator's entry wins
    assert keys[key_digest("bck_an-officer-key-456789")].branch == "SKA"
    assert env["REPORTING_SESSION_SECRET"] == "configured-session-secret-01"
