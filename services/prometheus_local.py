"""`make run`'s optional Prometheus: Debian's server with the platform's scrape jobs and rules.

The scrape configuration is deploy/prometheus/prometheus.yml itself, with each job's DNS
discovery (compose service names) replaced by the address `make run` gave that service, so
what a person sees locally at /targets and /alerts is what production evaluates. Prometheus
is optional: when it is not installed, `make run` says how to install it and runs without.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import yaml

if TYPE_CHECKING:  # services.platform imports this module
    from services.platform import ProcessSpec

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"
CONFIG = DEPLOY / "prometheus.yml"
DEFAULT_PORT = 9090
INSTALL_HINT = (
    "Prometheus is not installed, so no alerts are evaluated locally: install Debian's "
    "(`make prometheus` or `sudo apt-get install prometheus`) and `make run` again to see "
    "the targets and alerts"
)


def metrics_targets(specs: Iterable[ProcessSpec]) -> dict[str, tuple[str, str]]:
    """Scrape job (the process name) -> (host:port, path) of every process with a metrics URL."""
    found = {}
    for spec in specs:
        url = spec.urls.get("metrics")
        if url:
            parts = urlsplit(url)
            found[spec.name] = (parts.netloc, parts.path or "/metrics")
    return found


def local_config(
    deployed: dict[str, Any], targets: dict[str, tuple[str, str]], rules_dir: Path
) -> dict[str, Any]:
    """The deployed configuration pointed at local processes. Jobs with no local process
    (kafka-exporter: reporting exports the same lag series) are left out."""
    config = {key: value for key, value in deployed.items() if key != "scrape_configs"}
    config["rule_files"] = [str(rules_dir / name) for name in deployed.get("rule_files", [])]
    jobs = []
    for job in deployed["scrape_configs"]:
        if job["job_name"] not in targets:
            continue
        address, path = targets[job["job_name"]]
        local = {k: v for k, v in job.items() if not k.endswith("_sd_configs")}
        local["metrics_path"] = path
        local["static_configs"] = [{"targets": [address]}]
        jobs.append(local)
    config["scrape_configs"] = jobs
    return config


class LocalPrometheus:
    """One Prometheus child process for a `make run`, or a hint when none is installed."""

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        port: int | None = None,
        binary: str | None = None,
        rules_dir: Path = DEPLOY,
        interval: str | None = None,
    ) -> None:
        """`interval`: scrape and rule evaluation every so often instead of the deployed 15 s
        (a test waits for the first scrape and evaluation, a person does not)."""
        self.dir = data_dir / "prometheus"
        self.log_dir = log_dir
        self.port = port or int(os.environ.get("BEBAS_PROMETHEUS_PORT", DEFAULT_PORT))
        self.binary = binary if binary is not None else shutil.which("prometheus")
        self.rules_dir = rules_dir
        self.interval = interval
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, specs: Iterable[ProcessSpec], timeout: float = 30.0) -> str:
        """Start scraping the processes; the line `make run` prints about it."""
        if not self.binary:
            return INSTALL_HINT
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config_file = self.dir / "prometheus.yml"
        deployed = yaml.safe_load(CONFIG.read_text())
        config = local_config(deployed, metrics_targets(specs), self.rules_dir)
        if self.interval:
            config["global"] = {
                **config.get("global", {}),
                "scrape_interval": self.interval,
                "evaluation_interval": self.interval,
            }
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        log_file = self.log_dir / "prometheus.log"
        with log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - Debian's prometheus, our arguments
                [
                    self.binary,
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={self.dir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not self._ready(timeout):
            self.stop()
            return f"Prometheus did not start (port {self.port} taken?): see {log_file}"
        targets, alerts = self.page("targets"), self.page("alerts")
        return f"{'prometheus':>12}  targets: {targets}   alerts: {alerts}"

    def page(self, name: str) -> str:
        """The web page's address: Debian's build serves only the classic UI (/classic/…),
        upstream's the new one."""
        for url in (f"{self.url}/{name}", f"{self.url}/classic/{name}"):
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
        return f"{self.url}/{name}"

    def _ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    return False
                try:
                    if client.get(f"{self.url}/-/ready").status_code == 200:
                        # still ours: another Prometheus on the port would answer too
                        return self.process.poll() is None
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
