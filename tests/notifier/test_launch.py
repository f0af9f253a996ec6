"""`make run`'s view of the notifier: the local gateway and the worker share one callback
secret, and the worker knows the run's enrollment admin key by its digest only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.apikeys import key_digest
from services.notifier.launch import SECOND_GATEWAY_PORT
from services.notifier.settings import Settings
from services.platform import DEFAULT_PORTS, LaunchContext, ProcessSpec, collect_processes


def _specs(ctx: LaunchContext) -> dict[str, ProcessSpec]:
    # every launcher, in make run's order (enrollment issues the key the notifier must know)
    return {spec.name: spec for spec in collect_processes(ctx)}


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LaunchContext:
    for name in (
        "ENROLLMENT_BOOTSTRAP_ADMIN_KEY",
        "NOTIFIER_SMS_CALLBACK_SECRET",
        "NOTIFIER_ADMIN_KEY_HASHES",
    ):
        monkeypatch.delenv(name, raising=False)
    return LaunchContext("127.0.0.1:9092", tmp_path, dict(DEFAULT_PORTS))


def test_the_gateway_signs_with_the_secret_the_worker_checks(ctx: LaunchContext) -> None:
    specs = _specs(ctx)
    gateway, worker = specs["sms-gateway"], specs["notifier"]
    secret = worker.env["NOTIFIER_SMS_CALLBACK_SECRET"]
    assert len(secret) >= 32
    assert gateway.env["SMS_GATEWAY_CALLBACK_SECRET"] == secret
    assert secret not in " ".join(gateway.argv)  # not visible in `ps`
    assert "--receipt-url" in gateway.argv
    assert "--inbound-url" in gateway.argv
    assert _specs(ctx)["notifier"].env["NOTIFIER_SMS_CALLBACK_SECRET"] != secret  # per run


def test_a_configured_secret_and_digests_are_kept(
    ctx: LaunchContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFIER_SMS_CALLBACK_SECRET", "configured-callback-secret-01")
    monkeypatch.setenv("NOTIFIER_ADMIN_KEY_HASHES", key_digest("bck_an-operators-own-key"))
    monkeypatch.setenv("ENROLLMENT_BOOTSTRAP_ADMIN_KEY", "bck_configured-admin-key-0123")
    specs = _specs(ctx)
    assert specs["sms-gateway"].env["SMS_GATEWAY_CALLBACK_SECRET"] == (
        "configured-callback-secret-01"
    )
    listed = set(specs["notifier"].env["NOTIFIER_ADMIN_KEY_HASHES"].split(","))
    assert listed == {
        key_digest("bck_an-operators-own-key"),
        key_digest("bck_configured-admin-key-0123"),
    }


def test_the_admin_key_shown_once_still_opens_the_participant_view_later(
    ctx: LaunchContext, tmp_path: Path
) -> None:
    first = _specs(ctx)
    key = first["enrollment"].urls["admin key (shown once)"]
    assert first["notifier"].env["NOTIFIER_ADMIN_KEY_HASHES"] == key_digest(key)
    second = _specs(ctx)  # the next make run: the key is not printed again
    assert "admin key (shown once)" not in second["enrollment"].urls
    assert second["notifier"].env["NOTIFIER_ADMIN_KEY_HASHES"] == key_digest(key)
    written = [p.read_text("utf-8") for p in tmp_path.rglob("*") if p.is_file()]
    assert not [text for text in written if key in text]  # only its digest was kept


def test_a_port_for_a_second_gateway_starts_it_and_makes_the_worker_fail_over(
    ctx: LaunchContext, tmp_path: Path
) -> None:
    assert "sms-gateway-2" not in _specs(ctx)  # make run: one gateway
    ports = {**ctx.ports, SECOND_GATEWAY_PORT: 18026}
    specs = _specs(LaunchContext(ctx.bootstrap_servers, tmp_path, ports))
    first, second, worker = specs["sms-gateway"], specs["sms-gateway-2"], specs["notifier"]
    assert second.argv[second.argv.index("--port") + 1] == "18026"
    folders = {spec.argv[spec.argv.index("--data-dir") + 1] for spec in (first, second)}
    assert len(folders) == 2  # each keeps its own messages
    assert second.env == first.env  # the same callback secret
    assert "NOTIFIER_SMS_GATEWAY_URL" not in worker.env
    providers = Settings(**_notifier_settings(worker.env)).sms_route_list
    assert [(p.name, p.url) for p in providers] == [
        ("local-1", f"http://127.0.0.1:{ports['sms_gateway']}"),
        ("local-2", "http://127.0.0.1:18026"),
    ]


def _notifier_settings(env: dict[str, str]) -> dict[str, object]:
    return {"sms_providers": json.loads(env["NOTIFIER_SMS_PROVIDERS"])}
