"""Run one reporting worker as a child process: used by the tests and by the benchmark.

The worker is the real thing (`python -m services.reporting worker`), configured only
through its environment, so what is measured or tested is what runs in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx


@dataclass(frozen=True)
class WorkerConfig:
    bootstrap_servers: str
    port: int
    group_id: str
    participants_topic: str
    campaigns_topic: str
    notifications_topic: str
    deadletter_topic: str
    data_dir: Path
    store: str = "memory://"
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "REPORTING_HOST": "127.0.0.1",
            "REPORTING_PORT": str(self.port),
            "REPORTING_GROUP_ID": self.group_id,
            "REPORTING_PARTICIPANTS_TOPIC": self.participants_topic,
            "REPORTING_CAMPAIGNS_TOPIC": self.campaigns_topic,
            "REPORTING_NOTIFICATIONS_TOPIC": self.notifications_topic,
            "REPORTING_DEADLETTER_TOPIC": self.deadletter_topic,
            "REPORTING_DATA_DIR": str(self.data_dir),
            "REPORTING_STORE": self.store,
            **self.extra_env,
        }


class WorkerProcess:
    def __init__(self, config: WorkerConfig, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = {**os.environ, **self.config.env()}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "services.reporting", "worker"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until /readyz answers 200 (group joined, tables recovered), or raise."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    raise RuntimeError(f"reporting worker exited; log: {self.log_path}")
                try:
                    if client.get(self.url + "/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise TimeoutError(f"reporting worker not ready in {timeout}s; log: {self.log_path}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful: offsets committed, changelogs flushed), SIGKILL if it hangs."""
        process, self._process = self._process, None
        code = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code
