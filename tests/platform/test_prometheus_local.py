"""`make run`'s Prometheus: the deployed scrape jobs pointed at local processes, with the rules."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from prometheus_client import start_http_server

from services.common.ports import free_port
from services.platform import ProcessSpec
from services.prometheus_local import (
    CONFIG,
    DEPLOY,
    INSTALL_HINT,
    LocalPrometheus,
    local_config,
    metrics_targets,
)
from services.reporting.telemetry import Telemetry

T = TypeVar("T")
RULES = yaml.safe_load((DEPLOY / "alerts.yaml").read_text())
ALERTS = {r["alert"] for g in RULES["groups"] for r in g["rules"] if "alert" in r}


def spec(name: str, port: int) -> ProcessSpec:
    return ProcessSpec(name, ["true"], urls={"metrics": f"http://127.0.0.1:{port}/metrics"})


def test_local_config_is_the_deployed_one_with_local_addresses_and_the_repo_rules(
    tmp_path: Path,
) -> None:
    specs = [spec("enrollment", 18000), spec("notifier", 18001), spec("reporting", 18002)]
    specs.append(ProcessSpec("smtp-sink", ["true"], urls={"SMTP": "smtp://127.0.0.1:2525"}))
    deployed = yaml.safe_load(CONFIG.read_text())
    config = local_config(deployed, metrics_targets(specs), DEPLOY)

    assert config["global"] == deployed["global"]
    assert config["rule_files"] == [str(DEPLOY / "alerts.yaml")]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # kafka-exporter is not run locally: reporting exports the same lag series
    assert set(jobs) == {"enrollment", "notifier", "reporting"}
    for port, name in enumerate(("enrollment", "notifier", "reporting"), start=18000):
        assert jobs[name]["static_configs"] == [{"targets": [f"127.0.0.1:{port}"]}]
        assert jobs[name]["metrics_path"] == "/metrics"
        assert not any(key.endswith("_sd_configs") for key in jobs[name])

    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    promtool = shutil.which("promtool")
    assert promtool, "run `make prometheus` (apt-get install prometheus)"
    check = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1 rule files found" in check.stdout


def test_without_prometheus_make_run_says_how_to_install_it(tmp_path: Path) -> None:
    local = LocalPrometheus(tmp_path, tmp_path / "logs", port=free_port(), binary="")
    assert local.start([spec("reporting", 1)]) == INSTALL_HINT
    assert local.process is None
    assert "apt-get install prometheus" in INSTALL_HINT
    local.stop()  # nothing to stop: no error


@pytest.fixture
def reporting_metrics() -> Iterator[int]:
    """A real reporting registry (a worker that is not ready) served on its own port."""
    telemetry = Telemetry()
    telemetry.watch_readiness(lambda: False)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=telemetry.registry)
    yield port
    server.shutdown()
    thread.join(5)


def poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_debian_prometheus_scrapes_the_services_and_evaluates_the_alerts(
    tmp_path: Path, reporting_metrics: int
) -> None:
    binary = shutil.which("prometheus")
    assert binary, "run `make prometheus` (apt-get install prometheus)"
    local = LocalPrometheus(
        tmp_path / "data", tmp_path / "logs", port=free_port(), binary=binary, interval="1s"
    )
    line = local.start([spec("reporting", reporting_metrics)])
    try:
        # a page a person can open (Debian's build has only the classic UI)
        for page in ("targets", "alerts"):
            url = local.page(page)
            assert f"{page}: {url}" in line, line
            assert httpx.get(url, timeout=5).status_code == 200
        api = f"{local.url}/api/v1"

        def get(path: str, **params: str) -> Any:
            return httpx.get(f"{api}/{path}", params=params, timeout=5).json()["data"]

        rules = get("rules")["groups"]
        assert {r["name"] for g in rules for r in g["rules"] if r["type"] == "alerting"} == ALERTS

        targets = poll(
            lambda: get("targets")["activeTargets"],
            lambda ts: bool(ts) and all(t["health"] == "up" for t in ts),
        )
        assert [(t["labels"]["job"], t["health"]) for t in targets] == [("reporting", "up")]

        # the worker answers "not ready": WorkerNotReady is pending (it fires after 5 minutes)
        alerts = poll(lambda: get("alerts")["alerts"], bool)
        assert [(a["labels"]["alertname"], a["labels"]["job"], a["state"]) for a in alerts] == [
            ("WorkerNotReady", "reporting", "pending")
        ]
    finally:
        local.stop()
    assert local.process is None
    assert (tmp_path / "logs" / "prometheus.log").exists()
